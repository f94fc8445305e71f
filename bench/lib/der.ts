import type { SpeakerTurn } from '../../src/diarization/types.js';
import type { SpeechRegion } from '../../src/vad/types.js';
import { maxAssignment } from '../../src/diarization/assignment.js';
import { FRAME_SECONDS, frameMask } from './meetings.js';
import { sumFields } from './runs.js';

/*
 * Diarization error rate as md-eval and pyannote.metrics compute it, on 10 ms
 * frames (a frame belongs to a turn when its centre does, as in frameMask).
 */

/** How a file is scored; the default is the standard "full" scoring. */
export interface DerOptions {
  /** Seconds either side of every reference turn boundary left unscored (md-eval's `-c`). */
  collar?: number;
  /** Leave out frames where two or more reference speakers talk. */
  skipOverlap?: boolean;
}

/** A set's DER and its parts, in seconds of speaker time. */
export interface DerTotals {
  /** Reference speaker time: a frame with two reference speakers counts twice. */
  referenceSeconds: number;
  missed: number;
  falseAlarm: number;
  confusion: number;
  /** (missed + falseAlarm + confusion) / referenceSeconds. */
  der: number;
}

/** One file's DER, with the speaker mapping it was scored under. */
export interface DerScore extends DerTotals {
  /** Hypothesis speaker -> the reference speaker it was mapped to (unmapped speakers are absent). */
  mapping: Record<string, string>;
  /** Distinct speaker labels among the turns given. */
  referenceSpeakers: number;
  hypothesisSpeakers: number;
}

/** pyannote.metrics' convention for a file with no reference speech: 0 without errors, else 1. */
function rate(errors: number, reference: number): number {
  if (reference > 0) return errors / reference;
  return errors > 0 ? 1 : 0;
}

/** One frame mask per speaker, in order of first appearance. */
function speakerMasks(turns: readonly SpeakerTurn[], frames: number): { labels: string[]; masks: Uint8Array[] } {
  const bySpeaker = new Map<string, SpeakerTurn[]>();
  for (const t of turns) {
    const own = bySpeaker.get(t.speaker);
    if (own === undefined) bySpeaker.set(t.speaker, [t]);
    else own.push(t);
  }
  return { labels: [...bySpeaker.keys()], masks: [...bySpeaker.values()].map((ts) => frameMask(ts, frames)) };
}

/** Speakers per frame. */
function countPerFrame(masks: readonly Uint8Array[], frames: number): Uint8Array {
  const count = new Uint8Array(frames);
  for (const m of masks) for (let f = 0; f < frames; f++) count[f]! += m[f]!;
  return count;
}

/** The frames that count: inside the UEM, outside the collars, and (with skipOverlap) not overlapped. */
function scoredFrames(reference: readonly SpeakerTurn[], refCount: Uint8Array, scored: readonly SpeechRegion[], options: DerOptions): Uint8Array {
  const frames = refCount.length;
  const keep = frameMask(scored, frames);
  const c = options.collar ?? 0;
  if (c > 0) {
    const collars = frameMask(reference.flatMap((t) => [t.start, t.end]).map((b) => ({ start: b - c, end: b + c })), frames);
    for (let f = 0; f < frames; f++) if (collars[f] === 1) keep[f] = 0;
  }
  if (options.skipOverlap === true) for (let f = 0; f < frames; f++) if (refCount[f]! >= 2) keep[f] = 0;
  return keep;
}

/**
 * Scores one file's hypothesis turns against its reference, frame by frame
 * within `scored` (the UEM). In each frame with n_ref reference and n_hyp
 * hypothesis speakers: missed max(0, n_ref - n_hyp), false alarm
 * max(0, n_hyp - n_ref), confusion min(n_ref, n_hyp) minus the hypothesis
 * speakers whose mapped reference speaker talks in that frame. The mapping is
 * the one-to-one pairing that maximises co-occurring time over the scored
 * frames, as md-eval and pyannote.metrics choose it.
 */
export function scoreDiarization(
  reference: readonly SpeakerTurn[],
  hypothesis: readonly SpeakerTurn[],
  scored: readonly SpeechRegion[],
  options: DerOptions = {},
): DerScore {
  // reduce, not Math.max(...): a long file's turns would overflow the argument list.
  const end = [reference, hypothesis, scored].flat().reduce((m, t) => Math.max(m, t.end), 0);
  const frames = Math.ceil(end / FRAME_SECONDS) + 1;
  const ref = speakerMasks(reference, frames);
  const hyp = speakerMasks(hypothesis, frames);
  const refCount = countPerFrame(ref.masks, frames);
  const hypCount = countPerFrame(hyp.masks, frames);
  const keep = scoredFrames(reference, refCount, scored, options);

  const together = hyp.masks.map((h) =>
    ref.masks.map((r) => {
      let n = 0;
      for (let f = 0; f < frames; f++) n += keep[f]! & h[f]! & r[f]!;
      return n;
    }),
  );
  const mapping: Record<string, string> = {};
  // A hypothesis speaker's mapped reference mask, where the pair shares any time (else it changes nothing).
  const mapped = maxAssignment(together).map((r, h) => {
    if (r < 0 || together[h]![r]! === 0) return undefined;
    mapping[hyp.labels[h]!] = ref.labels[r]!;
    return ref.masks[r];
  });

  let refFrames = 0;
  let missed = 0;
  let falseAlarm = 0;
  let confusion = 0;
  for (let f = 0; f < frames; f++) {
    if (keep[f] === 0) continue;
    const nRef = refCount[f]!;
    const nHyp = hypCount[f]!;
    refFrames += nRef;
    if (nRef > nHyp) missed += nRef - nHyp;
    else falseAlarm += nHyp - nRef;
    if (nRef === 0 || nHyp === 0) continue;
    let correct = 0;
    for (let h = 0; h < mapped.length; h++) if (hyp.masks[h]![f] === 1 && mapped[h]?.[f] === 1) correct++;
    confusion += Math.min(nRef, nHyp) - correct;
  }
  return {
    referenceSeconds: refFrames * FRAME_SECONDS,
    missed: missed * FRAME_SECONDS,
    falseAlarm: falseAlarm * FRAME_SECONDS,
    confusion: confusion * FRAME_SECONDS,
    der: rate(missed + falseAlarm + confusion, refFrames),
    mapping,
    referenceSpeakers: ref.labels.length,
    hypothesisSpeakers: hyp.labels.length,
  };
}

/** A set's totals: the DER of the set is its errors over its reference time, not a mean of the files' DERs. */
export function addDerScores(scores: readonly DerScore[]): DerTotals {
  const total = sumFields(scores, ['referenceSeconds', 'missed', 'falseAlarm', 'confusion']);
  return { ...total, der: rate(total.missed + total.falseAlarm + total.confusion, total.referenceSeconds) };
}
