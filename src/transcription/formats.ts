import type { Segment, Transcript, Word } from '../engines/index.js';
import type { TextFormat } from '../api/formats.js';

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
}

const CUE_MAX_SECONDS = 6;
const CUE_MAX_CHARS = 84; // two subtitle lines of 42
const CUE_GAP_SECONDS = 0.6;

/**
 * Caption cues of readable size. Engine segments can last 30 s; subtitles should
 * not, so cues are rebuilt from word times where the engine gives them, breaking
 * at pauses, at 6 s and at two lines of text.
 */
export function captionCues(t: Pick<Transcript, 'segments' | 'words'>): Cue[] {
  if (t.words.length === 0) return t.segments.map((s: Segment) => ({ start: s.start, end: s.end, text: s.text }));
  const cues: Cue[] = [];
  let cur: Word[] = [];
  const flush = () => {
    if (cur.length === 0) return;
    cues.push({ start: cur[0]!.start, end: cur[cur.length - 1]!.end, text: cur.map((w) => w.word).join(' ') });
    cur = [];
  };
  for (const w of t.words) {
    const first = cur[0];
    const last = cur[cur.length - 1];
    if (
      first !== undefined &&
      last !== undefined &&
      (w.end - first.start > CUE_MAX_SECONDS ||
        w.start - last.end > CUE_GAP_SECONDS ||
        cur.reduce((n, x) => n + x.word.length + 1, 0) + w.word.length > CUE_MAX_CHARS)
    ) {
      flush();
    }
    cur.push(w);
  }
  flush();
  return cues;
}

function timestamp(seconds: number, sep: ',' | '.'): string {
  const ms = Math.max(0, Math.round(seconds * 1000));
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = Math.floor((ms % 60_000) / 1000);
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${pad(h)}:${pad(m)}:${pad(s)}${sep}${pad(ms % 1000, 3)}`;
}

export function toSrt(t: Pick<Transcript, 'segments' | 'words'>): string {
  return captionCues(t)
    .map((c, i) => `${i + 1}\n${timestamp(c.start, ',')} --> ${timestamp(c.end, ',')}\n${c.text}\n`)
    .join('\n');
}

export function toVtt(t: Pick<Transcript, 'segments' | 'words'>): string {
  const body = captionCues(t)
    .map((c) => `${timestamp(c.start, '.')} --> ${timestamp(c.end, '.')}\n${c.text}\n`)
    .join('\n');
  return `WEBVTT\n\n${body}`;
}

export function toText(t: Pick<Transcript, 'text'>): string {
  return `${t.text}\n`;
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
