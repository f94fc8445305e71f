import type { Transcript } from '../engines/index.js';
import { speakerNameProblem } from '../diarization/types.js';
import { AppError } from '../errors.js';

/** Names one job may carry: well past the 20 speakers a diarizer is asked for, with room for an engine's own labels. */
export const MAX_SPEAKER_NAMES = 64;

/** The speaker labels of a transcript, in order of first appearance (none without diarization). */
export function speakerLabels(t: Transcript): string[] {
  const seen = new Set<string>();
  for (const x of [...t.segments, ...t.words]) if (x.speaker !== undefined) seen.add(x.speaker);
  return [...seen];
}

/**
 * The names a caller gives a result's speakers, checked and trimmed: each key a
 * label the result has, each name 1-64 visible characters on one line. Refused
 * whole (nothing is stored) with the code of the first problem, so a client can
 * tell a typo in a label from a name it must shorten.
 */
export function checkSpeakerNames(names: Readonly<Record<string, string>>, labels: readonly string[]): Record<string, string> {
  const entries = Object.entries(names);
  if (entries.length > MAX_SPEAKER_NAMES) {
    throw new AppError('TOO_MANY_SPEAKER_NAMES', `${entries.length} names given; at most ${MAX_SPEAKER_NAMES}`);
  }
  const known = new Set(labels);
  // Built by fromEntries (own properties even for a key like "__proto__"), never by assignment.
  return Object.fromEntries(
    entries.map(([label, raw]) => {
      if (!known.has(label)) {
        const have = labels.map((l) => JSON.stringify(l)).join(', ');
        throw new AppError('UNKNOWN_SPEAKER', `the result has no speaker ${JSON.stringify(label)}; its speakers are ${have}`, { details: { speaker: label } });
      }
      const name = raw.trim();
      const problem = speakerNameProblem(name);
      if (problem !== undefined) throw new AppError('INVALID_SPEAKER_NAME', `the name for speaker ${JSON.stringify(label)} ${problem}`, { details: { speaker: label } });
      return [label, name];
    }),
  );
}
