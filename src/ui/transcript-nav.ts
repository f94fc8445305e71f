/**
 * The transcript viewer's model: lines with timed words, where the playhead is, search hits,
 * the text that Copy puts on the clipboard, and arrow-key moves. Pure functions, no DOM.
 */
import type { JobResult } from './api.js';
import { speakerName } from './speakers.js';

/** A word of a line: where it sits in the line's text, and when it is said. */
export interface TimedWord {
  from: number;
  to: number;
  start: number;
  end: number;
}

/** A segment as the viewer shows it. */
export interface Line {
  /** Its place in the result's segments: stays the same whatever the speaker filter hides. */
  index: number;
  start: number;
  end: number;
  text: string;
  speaker: string | undefined;
  /** Empty when the engine's words cannot be matched to the text one for one: the line is then only timed as a whole. */
  words: TimedWord[];
}

/** Where the playhead is: a line's index and a word's place in it; -1 for none. */
export interface Spot {
  line: number;
  word: number;
}

/** A search match in a line's text. */
export interface Hit {
  line: number;
  from: number;
  to: number;
}

export const NOWHERE: Spot = { line: -1, word: -1 };

/** A word starting a hair before its segment (rounding of the two times) still belongs to it. */
const SLACK = 0.02;

/**
 * The result's segments as lines (one line for a result without segments), each with the engine's
 * words that start before the next segment does. The words are paired with the text's own tokens
 * only when their counts agree, so the page never shows a word the text does not have.
 */
export function transcriptLines(result: Pick<JobResult, 'segments' | 'words' | 'text' | 'duration_seconds'>): Line[] {
  const segments = result.segments.length > 0 ? result.segments : [{ start: 0, end: result.duration_seconds, text: result.text, speaker: undefined }];
  const words = [...result.words].sort((a, b) => a.start - b.start);
  let w = 0;
  return segments.map((s, index) => {
    const next = segments[index + 1]?.start ?? Infinity;
    const mine: { start: number; end: number }[] = [];
    for (; w < words.length && words[w]!.start < next - SLACK; w++) if (words[w]!.start >= s.start - SLACK) mine.push(words[w]!);
    const tokens = [...s.text.matchAll(/\S+/g)];
    const timed = tokens.length === mine.length ? tokens.map((t, i) => ({ from: t.index, to: t.index + t[0].length, start: mine[i]!.start, end: mine[i]!.end })) : [];
    return { index, start: s.start, end: s.end, text: s.text, speaker: s.speaker, words: timed };
  });
}

/** The line being heard at `seconds` and the word in it (none between words). Lines are in time order. */
export function spotAt(lines: readonly Line[], seconds: number): Spot {
  let lo = 0;
  let hi = lines.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const l = lines[mid]!;
    if (seconds < l.start) hi = mid - 1;
    else if (seconds >= l.end) lo = mid + 1;
    else return { line: l.index, word: l.words.findIndex((x) => seconds >= x.start && seconds < x.end) };
  }
  return NOWHERE;
}

export function sameSpot(a: Spot, b: Spot): boolean {
  return a.line === b.line && a.word === b.word;
}

/**
 * Every match of `query` in the lines' text, in reading order: case-insensitive, any run of
 * spaces in the query matching any run in the text. An empty query matches nothing.
 */
export function findHits(lines: readonly Line[], query: string): Hit[] {
  const words = query.trim().split(/\s+/).filter((x) => x !== '');
  if (words.length === 0) return [];
  const pattern = new RegExp(words.map((x) => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('\\s+'), 'giu');
  return lines.flatMap((l) => [...l.text.matchAll(pattern)].map((m) => ({ line: l.index, from: m.index, to: m.index + m[0].length })));
}

/** A run of a line's text, marked with the hit it belongs to (-1: none). */
export interface Piece {
  from: number;
  to: number;
  hit: number;
}

/**
 * The text between `from` and `to` cut where hits begin and end. `hits` are one line's hits in
 * order, `first` the overall number of the first of them (what "n of m" counts).
 */
export function cutByHits(from: number, to: number, hits: readonly Hit[], first: number): Piece[] {
  const pieces: Piece[] = [];
  let at = from;
  hits.forEach((h, i) => {
    const a = Math.max(h.from, at);
    const b = Math.min(h.to, to);
    if (a >= b) return;
    if (a > at) pieces.push({ from: at, to: a, hit: -1 });
    pieces.push({ from: a, to: b, hit: first + i });
    at = b;
  });
  if (at < to) pieces.push({ from: at, to, hit: -1 });
  return pieces;
}

/** "[00:07]", "[1:02:03]": a time as transcripts written by hand mark it (floored to the second). */
export function timeTag(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds + 1e-6));
  const mm = String(Math.floor((s % 3600) / 60)).padStart(2, '0');
  const ss = String(s % 60).padStart(2, '0');
  return s >= 3600 ? `[${Math.floor(s / 3600)}:${mm}:${ss}]` : `[${mm}:${ss}]`;
}

/**
 * The lines as plain text: one paragraph a line, or, when speakers were labelled, one paragraph
 * a turn headed by the speaker's name (as a reader of a meeting's minutes expects).
 */
export function plainText(lines: readonly Line[], names: Readonly<Record<string, string>>): string {
  const paragraphs: { speaker: string | undefined; texts: string[] }[] = [];
  for (const l of lines) {
    const last = paragraphs.at(-1);
    if (last !== undefined && l.speaker !== undefined && last.speaker === l.speaker) last.texts.push(l.text.trim());
    else paragraphs.push({ speaker: l.speaker, texts: [l.text.trim()] });
  }
  const diarized = paragraphs.some((p) => p.speaker !== undefined);
  return paragraphs.map((p) => (p.speaker === undefined ? '' : `${speakerName(p.speaker, names)}: `) + p.texts.join(' ')).join(diarized ? '\n\n' : '\n');
}

/** The lines as `[mm:ss] text`, one a line, the speaker's name before the text when there is one. */
export function timedText(lines: readonly Line[], names: Readonly<Record<string, string>>): string {
  return lines.map((l) => `${timeTag(l.start)} ${l.speaker === undefined ? '' : `${speakerName(l.speaker, names)}: `}${l.text.trim()}`).join('\n');
}

/** Where an arrow key (or Home, End) moves from place `at` among `count` lines; undefined for any other key. */
export function step(key: string, at: number, count: number): number | undefined {
  if (count === 0) return undefined;
  switch (key) {
    case 'ArrowDown':
      return Math.min(at + 1, count - 1);
    case 'ArrowUp':
      return Math.max(at - 1, 0);
    case 'Home':
      return 0;
    case 'End':
      return count - 1;
    default:
      return undefined;
  }
}
