import type { PcmAudio } from '../audio/decode.js';
import type { TranscribeHooks, TranscribeOptions, Transcript } from '../engines/index.js';
import { fileSpeechRegions, type SpeechRegion, type VadSettings } from '../vad/index.js';
import { maxAssignment } from './assignment.js';
import { deltaBic, GaussStats, standardize } from './gaussian.js';
import { fileMfcc, MFCC_FPS, type Features } from './mfcc.js';
import { renameSpeakers } from './merge.js';
import type { KnownSpeaker, SpeakerTurn } from './types.js';

/**
 * The ΔBIC penalty weight at which a cluster and a reference clip are taken
 * for one voice (ΔBIC below 0). Calibrated on ../shared/corpus/dev: a clip of
 * each reader as the cluster, beside a clip of another reader, against every
 * 2-10 s clip of the same or of another reader. At 1.35, of 645 same-reader
 * pairs 7% are missed and of 542 other-reader pairs 4% are taken (the
 * equal-error point is near 1.37); with clusters of two clips or more, 1% are
 * missed and none taken. Higher names more and wrongly more: at 1.5, 15% of
 * other-reader pairs are taken. The diarizer's own clustering stops at 1.75,
 * but it compares voices within one recording; a reference comes from another.
 */
export const MATCH_LAMBDA = 1.35;
/** The local diarizer's ridge on standardised features (src/diarization/local.ts). */
const RIDGE = 0.01;
/** Fewest speech frames (1 s) of a cluster or a reference worth modelling: less names nothing. */
const MIN_FRAMES = 100;
/**
 * A cluster weighs at most this many frames (30 s) against a reference. ΔBIC
 * grows with the frame count for any difference at all, so without a cap an
 * hour's cluster would be told apart from a clip of its own speaker by the
 * smallest difference of microphone or room between the two recordings.
 */
const MAX_CLUSTER_FRAMES = 3000;

/** A cluster named from a reference: its label, the name, and the ΔBIC that matched them (below 0; lower is surer). */
export interface SpeakerMatch {
  speaker: string;
  name: string;
  distance: number;
}

/**
 * How unlike two voices are: ΔBIC at {@link MATCH_LAMBDA} of one
 * full-covariance Gaussian for both against one for each, with the cluster's
 * weight capped at {@link MAX_CLUSTER_FRAMES}. Below 0: one voice.
 */
export function voiceDistance(cluster: GaussStats, reference: GaussStats): number {
  return deltaBic(capped(cluster, MAX_CLUSTER_FRAMES), reference, MATCH_LAMBDA, RIDGE);
}

/**
 * Which reference names which cluster, from `distances[cluster][reference]`:
 * the one-to-one pairing with the largest total margin below 0, so a reference
 * names one cluster at most and a cluster takes one name at most, and a pair
 * at 0 or above is never made. `result[cluster]` is a reference index or -1.
 */
export function assignReferences(distances: readonly (readonly number[])[]): number[] {
  const margins = distances.map((row) => row.map((d) => (d < 0 ? -d : 0)));
  return maxAssignment(margins).map((r, c) => (r >= 0 && distances[c]![r]! < 0 ? r : -1));
}

/**
 * The clusters of `turns` whose voice matches a known speaker's reference
 * clip: MFCCs of the file's turns and of each clip's speech (the request's
 * VAD; all of it with none), standardised together, one full-covariance
 * Gaussian per cluster and per clip, {@link voiceDistance} between each, then
 * {@link assignReferences}. A cluster or clip with under a second of speech is
 * matched with nothing.
 */
export async function matchKnownSpeakers(
  audio: PcmAudio,
  turns: readonly SpeakerTurn[],
  known: readonly KnownSpeaker[],
  options: { vad?: VadSettings | undefined; signal?: AbortSignal | undefined } = {},
): Promise<SpeakerMatch[]> {
  const { vad, signal } = options;
  const clusters = clusterFrames(turns);
  if (clusters.size === 0 || known.length === 0) return [];
  const file = await fileMfcc(audio, signal);
  const parts: Part[] = [...clusters.values()].map((ranges) => ({ features: file, ranges }));
  for (const k of known) {
    const regions = vad === undefined ? [{ start: 0, end: k.audio.durationSeconds }] : await fileSpeechRegions(k.audio, vad, signal);
    parts.push({ features: await fileMfcc(k.audio, signal), ranges: regions.map(toFrames) });
  }
  signal?.throwIfAborted();
  const stats = pooledStats(parts);
  const labels = [...clusters.keys()];
  const references = stats.slice(labels.length);
  const distances = stats.slice(0, labels.length).map((c) => references.map((r) => (c.n < MIN_FRAMES || r.n < MIN_FRAMES ? Infinity : voiceDistance(c, r))));
  return assignReferences(distances).flatMap((r, c) => (r < 0 ? [] : [{ speaker: labels[c]!, name: known[r]!.name, distance: distances[c]![r]! }]));
}

/**
 * The transcript with the clusters that match `options.knownSpeakers` named
 * (the others keep their labels), as it was without known speakers. `turns`
 * are the diarizer's, or {@link labelledTurns} of an engine that labels
 * speakers itself.
 */
export async function nameKnownSpeakers(
  transcript: Transcript,
  turns: readonly SpeakerTurn[],
  audio: PcmAudio,
  options: TranscribeOptions,
  hooks: TranscribeHooks,
): Promise<Transcript> {
  const known = options.knownSpeakers ?? [];
  if (known.length === 0) return transcript;
  const started = performance.now();
  const matches = await matchKnownSpeakers(audio, turns, known, { vad: options.vad, signal: hooks.signal });
  const found = matches.map((m) => `${m.speaker}=${JSON.stringify(m.name)} (ΔBIC ${Math.round(m.distance)})`).join(', ');
  hooks.onLog?.(`known speakers: ${matches.length} of ${known.length} matched${found === '' ? '' : `: ${found}`} in ${Math.round(performance.now() - started)} ms`);
  return renameSpeakers(transcript, Object.fromEntries(matches.map((m) => [m.speaker, m.name])));
}

/** The speaker turns of a transcript an engine labelled itself: its segments that have a speaker. */
export function labelledTurns(t: Transcript): SpeakerTurn[] {
  return t.segments.flatMap((s) => (s.speaker === undefined ? [] : [{ start: s.start, end: s.end, speaker: s.speaker }]));
}

/** Frame ranges [start, end) of one feature matrix. */
interface Part {
  features: Features;
  ranges: { start: number; end: number }[];
}

/** Each speaker's turns as frame ranges, speakers in order of first appearance. */
function clusterFrames(turns: readonly SpeakerTurn[]): Map<string, { start: number; end: number }[]> {
  const clusters = new Map<string, { start: number; end: number }[]>();
  for (const t of turns) {
    const range = toFrames(t);
    if (range.end <= range.start) continue;
    const ranges = clusters.get(t.speaker) ?? [];
    ranges.push(range);
    clusters.set(t.speaker, ranges);
  }
  return clusters;
}

function toFrames(r: SpeechRegion): { start: number; end: number } {
  return { start: Math.max(0, Math.round(r.start * MFCC_FPS)), end: Math.round(r.end * MFCC_FPS) };
}

/**
 * One Gaussian's statistics per part, after standardising all parts' frames
 * together: the file and the clips get one scale, so a speaker's difference
 * from the others in the file is kept (each clip standardised on its own
 * would lose its speaker's mean, its only voice).
 */
function pooledStats(parts: readonly Part[]): GaussStats[] {
  const dims = parts[0]!.features.dims;
  const spans = parts.map((p) => p.ranges.map((r) => ({ start: r.start, end: Math.min(r.end, p.features.frames) })).filter((r) => r.end > r.start));
  const total = spans.flat().reduce((sum, r) => sum + r.end - r.start, 0);
  const pooled: Features = { frames: total, dims, data: new Float32Array(total * dims) };
  const bounds: number[] = [0];
  let at = 0;
  parts.forEach((p, i) => {
    for (const r of spans[i]!) {
      pooled.data.set(p.features.data.subarray(r.start * dims, r.end * dims), at * dims);
      at += r.end - r.start;
    }
    bounds.push(at);
  });
  standardize(pooled, Array.from({ length: total }, (_, f) => f));
  return parts.map((_, i) => GaussStats.of(pooled, bounds[i]!, bounds[i + 1]!));
}

/** The statistics weighed as `most` frames when they hold more: the same mean and covariance. */
function capped(s: GaussStats, most: number): GaussStats {
  if (s.n <= most) return s;
  const out = new GaussStats(s.dims);
  const k = most / s.n;
  out.n = most;
  s.sum.forEach((v, i) => (out.sum[i] = v * k));
  s.outer.forEach((v, i) => (out.outer[i] = v * k));
  return out;
}
