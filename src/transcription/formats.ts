import type { Segment, Transcript, Word } from '../engines/index.js';
import type { TextFormat } from '../api/formats.js';
import { formatRttm } from '../diarization/rttm.js';
import type { SpeakerTurn } from '../diarization/types.js';

// Declared in src/api (dependency-free, shared with the web page and the CLI).
export { RESPONSE_FORMATS, HARK_FORMATS, TEXT_FORMATS, type ResponseFormat, type HarkFormat, type TextFormat } from '../api/formats.js';

export const CONTENT_TYPES: Record<TextFormat, string> = {
  text: 'text/plain; charset=utf-8',
  srt: 'application/x-subrip; charset=utf-8',
  vtt: 'text/vtt; charset=utf-8',
};

export interface Cue {
  start: number;
  end: number;
  text: string;
  /** Who speaks the whole cue; set only on diarized transcripts. */
  speaker?: string;
}

const CUE_MAX_SECONDS = 6;
const CUE_MAX_CHARS = 84; // two subtitle lines of 42
const CUE_GAP_SECONDS = 0.6;

/**
 * Caption cues of readable size. Engine segments can last 30 s; subtitles should
 * not, so cues are rebuilt from word times where the engine gives them, breaking
 * at pauses, at 6 s, at two lines of text and, in a diarized transcript, where
 * the speaker changes, so that every cue has one speaker.
 */
export function captionCues(t: Pick<Transcript, 'segments' | 'words'>): Cue[] {
  if (t.words.length === 0) return t.segments.map((s: Segment) => cue(s.start, s.end, s.text, s.speaker));
  const cues: Cue[] = [];
  let cur: Word[] = [];
  const flush = () => {
    if (cur.length === 0) return;
    cues.push(cue(cur[0]!.start, cur[cur.length - 1]!.end, cur.map((w) => w.word).join(' '), cur[0]!.speaker));
    cur = [];
  };
  // A segment with no word times of its own (its text edited by a user) is one cue as it is.
  const wordless = t.segments.filter((s) => !t.words.some((w) => w.start >= s.start && w.end <= s.end));
  for (const w of t.words) {
    const first = cur[0];
    const last = cur[cur.length - 1];
    if (
      first !== undefined &&
      last !== undefined &&
      (w.end - first.start > CUE_MAX_SECONDS ||
        w.start - last.end > CUE_GAP_SECONDS ||
        w.speaker !== last.speaker ||
        cur.reduce((n, x) => n + x.word.length + 1, 0) + w.word.length > CUE_MAX_CHARS)
    ) {
      flush();
    }
    cur.push(w);
  }
  flush();
  if (wordless.length === 0) return cues;
  return [...cues, ...wordless.map((s) => cue(s.start, s.end, s.text, s.speaker))].sort((a, b) => a.start - b.start);
}

/** A cue with no `speaker` key at all without diarization, so undiarized cues stay as they were. */
function cue(start: number, end: number, text: string, speaker: string | undefined): Cue {
  return speaker === undefined ? { start, end, text } : { start, end, text, speaker };
}

/**
 * A speaker's name on one line: a line break in a caller's name would end an SRT
 * cue or a paragraph early.
 */
function oneLine(speaker: string): string {
  return speaker.replace(/\s*[\r\n]+\s*/g, ' ').trim();
}

function timestamp(seconds: number, sep: ',' | '.'): string {
  const ms = Math.max(0, Math.round(seconds * 1000));
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = Math.floor((ms % 60_000) / 1000);
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${pad(h)}:${pad(m)}:${pad(s)}${sep}${pad(ms % 1000, 3)}`;
}

/**
 * SubRip. SRT has no markup for speakers, so a diarized cue starts with the
 * speaker's name and a colon (`A: text`, `Ann: text`), the subtitle convention
 * for naming a speaker and the same prefix as the plain text. (WhisperX writes
 * `[SPEAKER_00]: `; brackets suit its ids, a bare letter or name reads better.)
 */
export function toSrt(t: Pick<Transcript, 'segments' | 'words'>): string {
  return captionCues(t)
    .map((c, i) => `${i + 1}\n${timestamp(c.start, ',')} --> ${timestamp(c.end, ',')}\n${c.speaker === undefined ? '' : `${oneLine(c.speaker)}: `}${c.text}\n`)
    .join('\n');
}

/**
 * WebVTT. A diarized cue opens with the format's voice span, `<v A>text` (W3C
 * WebVTT voice tag, left unclosed as the spec allows at the end of a cue), which
 * players can style and screen readers can announce.
 */
export function toVtt(t: Pick<Transcript, 'segments' | 'words'>): string {
  const body = captionCues(t)
    .map((c) => `${timestamp(c.start, '.')} --> ${timestamp(c.end, '.')}\n${c.speaker === undefined ? '' : `<v ${voiceAnnotation(c.speaker)}>`}${c.text}\n`)
    .join('\n');
  return `WEBVTT\n\n${body}`;
}

/**
 * A name as a WebVTT tag annotation, which may hold neither `&` nor `>` nor a
 * line break: the first two as character references, line breaks as spaces.
 */
function voiceAnnotation(speaker: string): string {
  return oneLine(speaker).replace(/&/g, '&amp;').replace(/>/g, '&gt;');
}

/**
 * Plain text. Diarized, a paragraph per speaker's turn, each starting `A: `
 * (as a script or a court transcript reads), segments joined with a space
 * within it and paragraphs split by a blank line; otherwise the transcript's
 * text as it is.
 */
export function toText(t: Pick<Transcript, 'text' | 'segments'>): string {
  if (!t.segments.some((s) => s.speaker !== undefined)) return `${t.text}\n`;
  const paragraphs: { speaker: string | undefined; texts: string[] }[] = [];
  for (const s of t.segments) {
    const last = paragraphs[paragraphs.length - 1];
    if (last !== undefined && last.speaker === s.speaker) last.texts.push(s.text);
    else paragraphs.push({ speaker: s.speaker, texts: [s.text] });
  }
  return paragraphs.map((p) => `${p.speaker === undefined ? '' : `${oneLine(p.speaker)}: `}${p.texts.join(' ')}\n`).join('\n');
}

/**
 * NIST RTTM of a diarized transcript: one turn per run of same-speaker segments
 * that touch (a pause between two segments is not speech, so it splits the
 * turn). Segments without a speaker give no line, so an undiarized transcript
 * gives an empty file.
 */
export function toRttm(fileId: string, t: Pick<Transcript, 'segments'>): string {
  const turns: SpeakerTurn[] = [];
  for (const s of t.segments) {
    if (s.speaker === undefined) continue;
    const last = turns[turns.length - 1];
    if (last !== undefined && last.speaker === s.speaker && s.start <= last.end) last.end = Math.max(last.end, s.end);
    else turns.push({ start: s.start, end: s.end, speaker: s.speaker });
  }
  return formatRttm(fileId, turns);
}

/** Renders the text formats; json ones are the caller's (each route has its own json shape). */
export function renderText(format: TextFormat, t: Transcript): string {
  switch (format) {
    case 'text':
      return toText(t);
    case 'srt':
      return toSrt(t);
    case 'vtt':
      return toVtt(t);
  }
}
