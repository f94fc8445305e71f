import type { Segment, Word } from '../types.js';
import type { WhisperSegment } from './binding.js';

/**
 * Languages whose script puts no space between words. whisper.cpp's tokens are
 * bytes of UTF-8, and one token per piece (`maxLen: 1`) cuts their characters
 * in two, so these are decoded in whole segments, without word times.
 */
export const UNSPACED_LANGUAGES: ReadonlySet<string> = new Set(['zh', 'ja', 'th', 'lo', 'my', 'km', 'yue', 'bo']);

/** A character the binding could not decode: a token ended inside a multi-byte character. */
const BROKEN = '\uFFFD';

/** Where a sentence ends, in the scripts whisper writes with spaces and in CJK punctuation. */
const SENTENCE_END = /[.?!…。？！]["'”’)\]]*$/u;

/** A pause this long (seconds) between two words starts a new segment even mid-sentence. */
const PAUSE_SECONDS = 1;

/** Letters, digits and marks: what makes a piece part of a word rather than punctuation. */
const WORDLIKE = /[\p{L}\p{N}\p{M}]/u;

/** Punctuation and symbols around a word, which OpenAI's word list leaves out. */
const EDGE_PUNCTUATION = /^[\p{P}\p{S}]+|[\p{P}\p{S}]+$/gu;

/**
 * One utterance's token pieces (whisper.cpp with `tokenTimestamps` and
 * `maxLen: 1`: one piece per text token, times in ms from the utterance's
 * start) as words and segments in file time, or `undefined` when a piece holds
 * a broken character (the caller decodes the utterance again in whole segments).
 *
 * - A word starts at a piece that starts with a space (whisper's BPE marks word
 *   starts so); pieces without one continue it (the rest of a long word, or
 *   punctuation). A word's text leaves out surrounding punctuation, as OpenAI's
 *   `words` do; a word of punctuation alone (a dash) is no word.
 * - Segments are sentences: one ends after a word whose text ends a sentence,
 *   or before a pause of {@link PAUSE_SECONDS} or more. Their text is the
 *   pieces' own, punctuation included.
 * - Times are clipped to the utterance and never go backwards.
 */
export function piecesToTranscript(pieces: readonly WhisperSegment[], start: number, end: number): { words: Word[]; segments: Segment[] } | undefined {
  if (pieces.some((p) => p.text.includes(BROKEN))) return undefined;
  const spans = groupWords(pieces, start, end);
  const words: Word[] = [];
  const segments: Segment[] = [];
  let open: { start: number; end: number; text: string } | undefined;
  for (const span of spans) {
    if (open !== undefined && span.start - open.end >= PAUSE_SECONDS) {
      segments.push(closeSegment(open));
      open = undefined;
    }
    const word = span.text.trim().replace(EDGE_PUNCTUATION, '').trim();
    if (word !== '') words.push({ start: span.start, end: span.end, word });
    open = open === undefined ? { start: span.start, end: span.end, text: span.text } : { ...open, end: Math.max(open.end, span.end), text: open.text + span.text };
    if (SENTENCE_END.test(span.text.trim())) {
      segments.push(closeSegment(open));
      open = undefined;
    }
  }
  if (open !== undefined) segments.push(closeSegment(open));
  return { words, segments: segments.filter((s) => s.text !== '') };
}

interface Span {
  start: number;
  end: number;
  /** The pieces' text joined, leading space kept: segments are rebuilt from it. */
  text: string;
}

/** Pieces joined into words (with their punctuation), in file time. */
function groupWords(pieces: readonly WhisperSegment[], start: number, end: number): Span[] {
  const spans: Span[] = [];
  let last = start;
  const at = (ms: number): number => Math.min(end, Math.max(last, round(start + ms / 1000)));
  for (const p of pieces) {
    if (p.text === '') continue;
    const t0 = at(p.t0);
    const t1 = Math.max(t0, at(p.t1));
    const current = spans.at(-1);
    if (current === undefined || /^\s/.test(p.text)) {
      spans.push({ start: t0, end: t1, text: p.text });
    } else {
      current.text += p.text;
      // Trailing punctuation does not stretch the word it closes.
      if (WORDLIKE.test(p.text)) current.end = Math.max(current.end, t1);
    }
    last = t0;
  }
  return spans;
}

function closeSegment(open: { start: number; end: number; text: string }): Segment {
  return { start: open.start, end: open.end, text: open.text.trim() };
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
