import type { Segment, Transcript, Word } from '../engines/index.js';
import type { Diarization, SpeakerTurn } from './types.js';

/**
 * How far (seconds) a word or segment outside every turn may be from a turn and
 * still take its speaker. The diarizer's speech regions and the engine's words
 * disagree by a few frames at turn edges, and VAD padding can leave a short word
 * just outside; farther than this, the diarizer heard no speech there at all, and
 * the speaker who was talking just before is the better guess (people go on
 * talking more often than a new voice starts in a stretch the diarizer missed).
 */
const NEAREST_TURN_SECONDS = 1;

/**
 * The transcript with a speaker on every word and segment (a new object; the
 * input is left as it was):
 *
 * - a word takes the speaker of the turn holding its midpoint; outside every
 *   turn, that of the nearest turn within {@link NEAREST_TURN_SECONDS}, else the
 *   previous word's speaker (the very first word: the nearest turn's);
 * - a segment owns the words whose midpoints it holds; one whose words change
 *   speaker is split at each change, the pieces keeping its confidence, their
 *   text rebuilt from their words and their inner edges from the words' times;
 * - a segment without words (engines that give none) takes the speaker with the
 *   most time in it, with the same fallbacks as a word, from its midpoint;
 * - `speakers` is the diarizer's count; the top-level `text` is unchanged.
 *
 * With no turns (no speech found) nothing gets a speaker and `speakers` is 0:
 * a label drawn from nothing would be a guess presented as a finding.
 */
export function attachSpeakers(transcript: Transcript, diarization: Diarization): Transcript {
  const { turns } = diarization;
  if (turns.length === 0) return { ...transcript, speakers: diarization.speakers };
  let previous: string | undefined;
  const words = transcript.words.map((w): Word => {
    previous = speakerAround(turns, (w.start + w.end) / 2, previous);
    return { ...w, speaker: previous };
  });
  const owned = wordsBySegment(transcript.segments, words);
  const segments: Segment[] = [];
  transcript.segments.forEach((s, i) => {
    const mine = owned[i]!;
    if (mine.length > 0) {
      segments.push(...splitAtChanges(s, mine));
    } else {
      segments.push({ ...s, speaker: segmentSpeaker(turns, s, segments[segments.length - 1]?.speaker) });
    }
  });
  return { ...transcript, segments, words, speakers: diarization.speakers };
}

/**
 * Each segment's words: those whose midpoint it holds, each word in one segment
 * at most (the first). Both lists are in time order, so one pass does it; a word
 * between segments belongs to none and only keeps its own speaker.
 */
function wordsBySegment(segments: readonly Segment[], words: readonly Word[]): Word[][] {
  let next = 0;
  return segments.map((s) => {
    while (next < words.length && midpoint(words[next]!) < s.start) next += 1;
    const first = next;
    while (next < words.length && midpoint(words[next]!) <= s.end) next += 1;
    return words.slice(first, next);
  });
}

/** One piece per run of same-speaker words; outer edges stay the segment's own. */
function splitAtChanges(segment: Segment, words: readonly Word[]): Segment[] {
  const runs: Word[][] = [];
  for (const w of words) {
    const run = runs[runs.length - 1];
    if (run !== undefined && run[0]!.speaker === w.speaker) run.push(w);
    else runs.push([w]);
  }
  if (runs.length === 1) return [{ ...segment, speaker: words[0]!.speaker }];
  return runs.map((run, k) => {
    const piece: Segment = {
      start: k === 0 ? segment.start : run[0]!.start,
      end: k === runs.length - 1 ? segment.end : run[run.length - 1]!.end,
      text: run.map((w) => w.word).join(' '),
    };
    if (segment.confidence !== undefined) piece.confidence = segment.confidence;
    piece.speaker = run[0]!.speaker;
    return piece;
  });
}

/** The speaker with the most time inside the segment (summed over their turns). */
function segmentSpeaker(turns: readonly SpeakerTurn[], s: Segment, previous: string | undefined): string {
  const time = new Map<string, number>();
  for (let i = Math.max(0, lastStartingBy(turns, s.start)); i < turns.length && turns[i]!.start < s.end; i += 1) {
    const t = turns[i]!;
    const overlap = Math.min(t.end, s.end) - Math.max(t.start, s.start);
    if (overlap > 0) time.set(t.speaker, (time.get(t.speaker) ?? 0) + overlap);
  }
  let best: string | undefined;
  for (const [speaker, seconds] of time) if (best === undefined || seconds > time.get(best)!) best = speaker;
  return best ?? speakerAround(turns, (s.start + s.end) / 2, previous);
}

/** The speaker at `at`, with the fallbacks {@link attachSpeakers} describes. `turns` must not be empty. */
function speakerAround(turns: readonly SpeakerTurn[], at: number, previous: string | undefined): string {
  const i = lastStartingBy(turns, at);
  const before = turns[i];
  if (before !== undefined && at <= before.end) return before.speaker;
  const after = turns[i + 1];
  const gapBefore = before === undefined ? Infinity : at - before.end;
  const gapAfter = after === undefined ? Infinity : after.start - at;
  const nearest = gapBefore <= gapAfter ? before! : after!;
  if (Math.min(gapBefore, gapAfter) <= NEAREST_TURN_SECONDS) return nearest.speaker;
  return previous ?? nearest.speaker;
}

/** Index of the last turn starting at or before `at`, -1 if none (turns are sorted by start). */
function lastStartingBy(turns: readonly SpeakerTurn[], at: number): number {
  let lo = 0;
  let hi = turns.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (turns[mid]!.start <= at) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}

function midpoint(w: Word): number {
  return (w.start + w.end) / 2;
}

/**
 * The transcript with speaker labels replaced by names (a new object): a label
 * absent from `names` keeps its letter, and two labels given one name read as
 * one speaker. Used for a job's stored renames (applied at every download) and
 * for the names matched from a caller's reference clips.
 */
export function renameSpeakers(transcript: Transcript, names: Readonly<Record<string, string>>): Transcript {
  const rename = <T extends { speaker?: string | undefined }>(x: T): T =>
    x.speaker !== undefined && Object.hasOwn(names, x.speaker) ? { ...x, speaker: names[x.speaker]! } : x;
  return { ...transcript, segments: transcript.segments.map(rename), words: transcript.words.map(rename) };
}
