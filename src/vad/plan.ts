// Not from audio/index.js: audio/utterances.ts plans with this module, and the folder's face would make a cycle.
import { SAMPLE_RATE, type PcmAudio } from '../audio/decode.js';
import { forEachPcmChunk, FRAME_SAMPLES, frameEnergies } from '../audio/pcm.js';
import { cutAtSilences, type SegmentOptions } from '../audio/segment.js';
import { loadDetector } from './detector.js';
import { speechRegions } from './regions.js';
import type { SpeechRegion, VadSettings, VoiceDetector } from './types.js';

/** What reaches the engine of one file. */
export interface UtterancePlan {
  /** Sample ranges [start, end) to decode, one utterance each: sorted, not overlapping, whole 10 ms frames (but for the file's end). */
  ranges: { start: number; end: number }[];
  /** Seconds of speech the detector found (its padded regions); the whole file with the VAD off. */
  speechSeconds: number;
  totalSeconds: number;
}

export interface PlanOptions {
  /** Longest utterance, in seconds. */
  maxSeconds: number;
  signal?: AbortSignal | undefined;
}

const FPS = SAMPLE_RATE / FRAME_SAMPLES;
/** About 30 s of PCM per read, in whole 512-sample windows: the most the plan ever holds of the audio. */
const CHUNK_SAMPLES = 937 * 512;

/** How the energy cutter splits a file with the VAD off: what every engine did before the VAD. */
export function energyCutOptions(maxSeconds: number): SegmentOptions {
  return {
    maxFrames: Math.round(maxSeconds * FPS),
    minFrames: Math.round(4 * FPS),
    minSilenceFrames: Math.round(0.15 * FPS),
    breakFrames: Math.round(0.5 * FPS),
  };
}

/**
 * The utterances of a decoded file. With the VAD off, the whole file cut at
 * energy silences (nothing dropped), as before the VAD. Otherwise the
 * detector's speech regions, padded; regions closer than `minSilenceMs` joined
 * (the pause stays in the utterance untouched); a region longer than
 * `maxSeconds` split where speech is least likely; all other audio dropped, so
 * it never reaches the engine. The file is read in 30 s chunks: memory stays
 * flat with length (an hour is 112,500 probabilities).
 */
export async function planUtterances(audio: PcmAudio, settings: VadSettings, options: PlanOptions): Promise<UtterancePlan> {
  const totalSeconds = audio.samples / SAMPLE_RATE;
  const maxSamples = Math.max(FRAME_SAMPLES, Math.floor((options.maxSeconds * SAMPLE_RATE) / FRAME_SAMPLES) * FRAME_SAMPLES);
  if (settings.kind === 'off') {
    const energies = await frameEnergies(audio.path, audio.samples);
    const ranges = cutAtSilences(energies, energyCutOptions(options.maxSeconds)).map((r) => ({
      start: r.start * FRAME_SAMPLES,
      end: Math.min(audio.samples, r.end * FRAME_SAMPLES),
    }));
    return { ranges, speechSeconds: totalSeconds, totalSeconds };
  }

  const regions = await fileSpeechRegions(audio, settings, options.signal);
  const speechSeconds = regions.reduce((sum, r) => sum + (r.end - r.start), 0);
  const joined = joinRegions(regions, settings.minSilenceMs / 1000, audio.samples);
  // Speech longer than an utterance is cut the way the energy cutter cuts a long file: at the
  // first sentence break past 4 s. Pieces near sentence length decode better than pieces near
  // maxSeconds (measured on the joined dev clips: 0.181 against 0.191 cut where speech is least likely).
  const energies = joined.some((r) => r.end - r.start > maxSamples) ? await frameEnergies(audio.path, audio.samples) : undefined;
  const ranges = joined.flatMap((r) => (energies === undefined ? [r] : splitRange(r, energies, options.maxSeconds, audio.samples)));
  return { ranges, speechSeconds, totalSeconds };
}

/**
 * The padded speech regions of a whole file (in seconds), read in 30 s chunks;
 * with VAD off, the whole file is speech.
 */
export async function fileSpeechRegions(audio: PcmAudio, settings: VadSettings, signal?: AbortSignal): Promise<SpeechRegion[]> {
  if (settings.kind === 'off') return audio.samples === 0 ? [] : [{ start: 0, end: audio.samples / SAMPLE_RATE }];
  signal?.throwIfAborted();
  const { probs, windowSamples } = await cachedProbabilities(audio, settings.kind, signal);
  return speechRegions(probs, windowSamples, settings, audio.samples);
}

/**
 * A file's probabilities, computed once per decoded file (the `PcmAudio`
 * object one request holds) and detector: the engine plans its utterances with
 * them and the diarizer takes its regions from them, so a diarized request runs
 * the VAD once. Held only while the request holds its audio (an hour is 450 kB);
 * a failed or cancelled run is forgotten, so a retry computes afresh.
 */
function cachedProbabilities(audio: PcmAudio, kind: Exclude<VadSettings['kind'], 'off'>, signal: AbortSignal | undefined): Promise<FileProbabilities> {
  let byKind = probabilityCache.get(audio);
  if (byKind === undefined) probabilityCache.set(audio, (byKind = new Map()));
  const cached = byKind.get(kind);
  if (cached !== undefined) return cached;
  const computed = loadDetector(kind).then(async (detector) => ({ probs: await fileProbabilities(detector, audio, signal), windowSamples: detector.windowSamples }));
  byKind.set(kind, computed);
  computed.catch(() => byKind.delete(kind));
  return computed;
}

interface FileProbabilities {
  probs: Float32Array;
  windowSamples: number;
}

const probabilityCache = new WeakMap<PcmAudio, Map<string, Promise<FileProbabilities>>>();

/**
 * The detector's probabilities over the whole file, read chunk by chunk into one
 * reused buffer. A last partial window is completed with zeros, as Silero's
 * get_speech_timestamps does, so the file's tail is judged too.
 */
async function fileProbabilities(detector: VoiceDetector, audio: PcmAudio, signal: AbortSignal | undefined): Promise<Float32Array> {
  const window = detector.windowSamples;
  const probs = new Float32Array(Math.ceil(audio.samples / window));
  let done = 0;
  const take = (p: Float32Array): void => {
    probs.set(p.subarray(0, probs.length - done), done);
    done += Math.min(p.length, probs.length - done);
  };
  const read = await forEachPcmChunk(audio, CHUNK_SAMPLES, async (pcm) => take(await detector.probabilities(pcm)), signal);
  if (read % window !== 0) take(await detector.probabilities(new Int16Array(window - (read % window))));
  return probs.subarray(0, done);
}

/**
 * Regions to sample ranges on whole frames (widened, never narrowed), joined
 * where less than `minGap` seconds apart: a pause that short stays inside the
 * utterance, as the decoder hears it in read speech.
 */
function joinRegions(regions: readonly SpeechRegion[], minGap: number, samples: number): { start: number; end: number }[] {
  const gap = minGap * SAMPLE_RATE;
  const out: { start: number; end: number }[] = [];
  for (const r of regions) {
    const start = Math.floor((r.start * SAMPLE_RATE) / FRAME_SAMPLES) * FRAME_SAMPLES;
    const end = Math.min(samples, Math.ceil((r.end * SAMPLE_RATE) / FRAME_SAMPLES) * FRAME_SAMPLES);
    const last = out.at(-1);
    if (last !== undefined && start - last.end < gap) last.end = Math.max(last.end, end);
    else if (end > start) out.push({ start, end });
  }
  return out;
}

/**
 * Cuts a range longer than `maxSeconds` with the energy cutter over the
 * range's own frames (cutAtSilences: sentence breaks first, then the longest
 * pause, then the quietest frame); no piece is longer than `maxSeconds`.
 */
function splitRange(range: { start: number; end: number }, energies: Float32Array, maxSeconds: number, samples: number): { start: number; end: number }[] {
  const first = range.start / FRAME_SAMPLES;
  const frames = energies.subarray(first, Math.ceil(range.end / FRAME_SAMPLES));
  return cutAtSilences(frames, energyCutOptions(maxSeconds)).map((r) => ({
    start: (first + r.start) * FRAME_SAMPLES,
    end: Math.min(range.end, samples, (first + r.end) * FRAME_SAMPLES),
  }));
}
