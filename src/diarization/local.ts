import type { PcmAudio } from '../audio/decode.js';
import type { SpeechRegion } from '../vad/types.js';
import { renumber, type CountBounds, type FrameRange } from './frames.js';
import { standardize } from './gaussian.js';
import { fileMfcc, MFCC_FPS } from './mfcc.js';
import { resegment, type LabelledRange, type ResegmentOptions } from './resegment.js';
import { clusterWindows, WINDOW_CLUSTERING_DEFAULTS, type WindowClusteringOptions } from './spectral.js';
import { speakerLetter, type Diarization, type DiarizeOptions, type Diarizer, type SpeakerTurn } from './types.js';

/** Every knob of the local diarizer, by stage. */
export interface LocalDiarizerSettings {
  /** Windows, their vectors and the spectral clustering that seeds re-segmentation. */
  windows: WindowClusteringOptions;
  resegmentation: Omit<ResegmentOptions, 'minClusters'>;
  /** Most speakers when the caller gives no bound. */
  defaultMaxSpeakers: number;
}

export const LOCAL_DIARIZER_DEFAULTS: LocalDiarizerSettings = {
  windows: WINDOW_CLUSTERING_DEFAULTS,
  resegmentation: { components: 4, framesPerComponent: 200, switchPenalty: 50, minDuration: 50, iterations: 3 },
  defaultMaxSpeakers: 8,
};

/**
 * Who spoke when with no model file: MFCCs of the VAD's speech regions, cut
 * into 1 s windows every 0.5 s; each window a supervector of a GMM trained on
 * the file itself (MAP-adapted means and frame shares); their cosine
 * affinities clustered by NME-SC spectral clustering (Park et al. 2019), whose
 * eigengap estimates the speaker count within the caller's bounds; then Viterbi
 * re-segmentation with a GMM per speaker (as LIUM and pyannote 1.x end). Only
 * the features (a quarter of the PCM's size) are held whole; a long file
 * clusters an even sample of windows and the rest join the nearest cluster.
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
    const seeded = clusterWindows(features, frames, bounds, this.settings.windows);
    signal?.throwIfAborted();
    // Speech all in pieces shorter than a window: one voice, as far as anything tells.
    const ranges =
      seeded.length === 0
        ? frames.map((r) => ({ ...r, label: 0 }))
        : resegment(features, seeded, frames, { ...this.settings.resegmentation, minClusters: bounds.min }, signal);
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
