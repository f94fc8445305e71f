import type { Transcript } from '../engines/index.js';
import { AppError } from '../errors.js';

/** Longest text one segment may be given: far past any utterance, short of a pasted document. */
export const MAX_SEGMENT_TEXT = 10_000;

/** One segment's new text, by its index in the transcript's `segments`. */
export interface SegmentEdit {
  index: number;
  text: string;
}

/**
 * The transcript with each edited segment's text replaced. An edited segment
 * keeps its times and speaker; its words (whose times were of the old text) are
 * dropped, and so is its confidence. A segment edited to nothing is removed.
 * The whole `text` is the segments' texts joined again. Refused whole (400
 * INVALID_EDIT, nothing stored) when an index is out of range or given twice,
 * or a text is too long. Whitespace (line breaks too) is folded to single spaces:
 * a segment is one line of a subtitle.
 */
export function applySegmentEdits(t: Transcript, edits: readonly SegmentEdit[]): Transcript {
  if (edits.length === 0) throw new AppError('INVALID_EDIT', 'no segment edits given');
  const byIndex = new Map<number, string>();
  for (const e of edits) {
    if (!Number.isInteger(e.index) || e.index < 0 || e.index >= t.segments.length) {
      throw new AppError('INVALID_EDIT', `segment ${e.index} does not exist; the transcript has segments 0 to ${t.segments.length - 1}`, { details: { index: e.index } });
    }
    if (byIndex.has(e.index)) throw new AppError('INVALID_EDIT', `segment ${e.index} is edited twice`, { details: { index: e.index } });
    const text = e.text.trim().replace(/\s+/g, ' ');
    if (text.length > MAX_SEGMENT_TEXT) throw new AppError('INVALID_EDIT', `segment ${e.index}'s text is longer than ${MAX_SEGMENT_TEXT} characters`, { details: { index: e.index } });
    byIndex.set(e.index, text);
  }
  const edited = t.segments.map((s, i) => {
    const text = byIndex.get(i);
    if (text === undefined) return s;
    const { confidence: _dropped, ...rest } = s;
    return { ...rest, text };
  });
  // A word belongs to an edited segment when it lies within the segment's times.
  const replaced = t.segments.filter((_, i) => byIndex.has(i));
  const words = t.words.filter((w) => !replaced.some((s) => w.start >= s.start && w.end <= s.end));
  const segments = edited.filter((s) => s.text !== '');
  return { ...t, segments, words, text: segments.map((s) => s.text).join(' ') };
}
