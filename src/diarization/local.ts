import type { PcmAudio } from '../audio/decode.js';
import type { SpeechRegion } from '../vad/types.js';
import { detectChanges, type ChangeOptions, type FrameRange } from './bic.js';
import { clusterSegments, renumber, type ClusterOptions, type CountBounds } from './cluster.js';
import { standardize } from './gaussian.js';
import { fileMfcc, MFCC_FPS } from './mfcc.js';
import { resegment, type LabelledRange, type ResegmentOptions } from './resegment.js';
import { speakerLetter, type Diarization, type DiarizeOptions, type Diarizer, type SpeakerTurn } from './types.js';

/** Every knob of the local diarizer, by stage. */
export interface LocalDiarizerSettings {
  changes: ChangeOptions;
  clustering: ClusterOptions;
  resegmentation: Omit<ResegmentOptions, 'minClusters'>;
  /** Most speakers when the caller gives no bound. */
  defaultMaxSpeakers: number;
}

/** Ridge on standardised features: about 1% of a dimension's variance. */
const RIDGE = 0.01;

export const LOCAL_DIARIZER_DEFAULTS: LocalDiarizerSettings = {
  changes: { window: 100, step: 5, minSegment: 50, lambda: 1, ridge: RIDGE },
  clustering: { lambda: 1.75, linearLambda: 1, maxGap: 50, ridge: RIDGE },
  resegmentation: { components: 4, framesPerComponent: 200, switchPenalty: 50, minDuration: 50, iterations: 3 },
  defaultMaxSpeakers: 8,
};

/**
 * Who spoke when with no model file: MFCCs, ΔBIC change detection inside the
 * VAD's speech regions, linear then bottom-up ΔBIC clustering that estimates
 * the speaker count, then Viterbi re-segmentation with a GMM per speaker, the classic
 * model-free chain of LIUM SpkDiarization and pyannote 1.x. Only the features
 * (a quarter of the PCM's size) are held whole.
 */
export class LocalDiarizer implements Diarizer {
  readonly kind = 'local';
  private readonly settings: LocalDiarizerSettings;

  constructor(settings: Partial<LocalDiarizerSettings> = {}) {
    this.settings = { ...LOCAL_DIARIZER_DEFAULTS, ...settings };
  }

  async diarize(audio: PcmAudio, regions: readonly SpeechRegion[], options: DiarizeOptions): Promise<Diarization> {
    const { signal } = options;
    signal?.throwIfAborted();
    const speech = normalizeRegions(regions, audio.durationSeconds);
    if (speech.length === 0) return { turns: [], speakers: 0 };
    const features = await fileMfcc(audio, signal);
    const frames = speech.map((r) => toFrames(r, features.frames)).filter((r) => r.end > r.start);
    standardize(features, frames.flatMap((r) => Array.from({ length: r.end - r.start }, (_, i) => r.start + i)));
    signal?.throwIfAborted();
    const bounds = countBounds(options, this.settings.defaultMaxSpeakers);
    const segments = enoughSegments(detectChanges(features, frames, this.settings.changes), bounds.min);
    signal?.throwIfAborted();
    const labels = clusterSegments(features, segments, bounds, this.settings.clustering);
    signal?.throwIfAborted();
    const clustered = segments.map((s, i) => ({ ...s, label: labels[i]! }));
    const ranges = resegment(features, clustered, frames, { ...this.settings.resegmentation, minClusters: bounds.min }, signal);
    return toTurns(ranges, speech);
  }
}

/** The caller's count as bounds: an exact `numSpeakers`, else min/max (1 and the default most when unset). */
export function countBounds(options: DiarizeOptions, defaultMax: number): CountBounds {
  if (options.numSpeakers !== undefined) return { min: options.numSpeakers, max: options.numSpeakers };
  const min = options.minSpeakers ?? 1;
  return { min, max: Math.max(min, options.maxSpeakers ?? Math.max(defaultMax, min)) };
}

/** Regions sorted, clipped to the audio, overlaps joined. */
function normalizeRegions(regions: readonly SpeechRegion[], duration: number): SpeechRegion[] {
  const out: SpeechRegion[] = [];
  for (const r of [...regions].sort((a, b) => a.start - b.start)) {
    const start = Math.max(0, r.start);
    const end = Math.min(duration, r.end);
    if (end <= start) continue;
    const last = out.at(-1);
    if (last !== undefined && start <= last.end) last.end = Math.max(last.end, end);
    else out.push({ start, end });
  }
  return out;
}

function toFrames(r: SpeechRegion, frames: number): FrameRange {
  return { start: Math.min(frames, Math.round(r.start * MFCC_FPS)), end: Math.min(frames, Math.round(r.end * MFCC_FPS)) };
}

/**
 * The segments, with the longest halved until there are at least `min`: a
 * caller who asks for three speakers gets three labels even when the change
 * detector heard fewer segments.
 */
function enoughSegments(segments: FrameRange[], min: number): FrameRange[] {
  const out = [...segments];
  while (out.length < min) {
    let longest = 0;
    for (let i = 1; i < out.length; i++) if (out[i]!.end - out[i]!.start > out[longest]!.end - out[longest]!.start) longest = i;
    const s = out[longest]!;
    if (s.end - s.start < 2) break;
    const mid = Math.floor((s.start + s.end) / 2);
    out.splice(longest, 1, { start: s.start, end: mid }, { start: mid, end: s.end });
  }
  return out;
}

/** Frame ranges to turns in seconds, clipped to the speech regions, speakers lettered by first appearance. */
function toTurns(ranges: readonly LabelledRange[], speech: readonly SpeechRegion[]): Diarization {
  const clipped: LabelledRange[] = [];
  let region = 0;
  for (const r of [...ranges].sort((a, b) => a.start - b.start)) {
    const mid = (r.start + r.end) / 2 / MFCC_FPS;
    while (region < speech.length - 1 && speech[region]!.end <= mid) region++;
    const bounds = speech[region]!;
    const start = Math.max(bounds.start, r.start / MFCC_FPS);
    const end = Math.min(bounds.end, r.end / MFCC_FPS);
    if (end > start) clipped.push({ start, end, label: r.label });
  }
  const labels = renumber(clipped.map((r) => r.label));
  const turns: SpeakerTurn[] = [];
  for (const [i, r] of clipped.entries()) {
    const speaker = speakerLetter(labels[i]!);
    const last = turns.at(-1);
    if (last !== undefined && last.speaker === speaker && r.start - last.end < 1e-9) last.end = r.end;
    else turns.push({ start: r.start, end: r.end, speaker });
  }
  return { turns, speakers: new Set(labels).size };
}
