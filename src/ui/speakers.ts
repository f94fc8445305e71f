/** Speakers of a diarized transcript as the page shows them. Pure functions, no DOM. */
import type { JobResult } from './api.js';

/** Colours in styles.css (`--spk-0` ...); past them the palette repeats, and the name still tells speakers apart. */
export const SPEAKER_COLOURS = 8;

/** One speaker's run of consecutive segments. */
export interface Turn {
  speaker: string;
  start: number;
  end: number;
}

/** The speaker labels of a transcript in order of first appearance; none when it was not diarized. */
export function speakerLabels(result: Pick<JobResult, 'segments' | 'words'>): string[] {
  const seen = new Set<string>();
  for (const x of [...result.segments, ...result.words]) if (x.speaker !== undefined) seen.add(x.speaker);
  return [...seen];
}

/** Consecutive segments of one speaker joined into a turn (segments without a speaker are left out). */
export function speakerTurns(segments: JobResult['segments']): Turn[] {
  const turns: Turn[] = [];
  for (const s of segments) {
    if (s.speaker === undefined) continue;
    const last = turns[turns.length - 1];
    if (last !== undefined && last.speaker === s.speaker) last.end = Math.max(last.end, s.end);
    else turns.push({ speaker: s.speaker, start: s.start, end: s.end });
  }
  return turns;
}

/**
 * What the page calls a speaker: the name given to it, else "Speaker A" for a
 * diarizer's letter, else the label itself (an engine's or a reference's name).
 */
export function speakerName(label: string, names: Readonly<Record<string, string>>): string {
  const given = Object.hasOwn(names, label) ? names[label] : undefined;
  if (given !== undefined) return given;
  return /^[A-Z]{1,3}$/.test(label) ? `Speaker ${label}` : label;
}

/** The class that gives a speaker its colour, by its place among the labels. */
export function speakerColour(label: string, labels: readonly string[]): string {
  return `spk-${Math.max(0, labels.indexOf(label)) % SPEAKER_COLOURS}`;
}
