import { readFile, writeFile } from 'node:fs/promises';
import { BYTES_PER_SAMPLE, FRAME_SAMPLES, frameEnergies, SAMPLE_RATE, type PcmAudio } from '../../src/audio/index.js';
import { seededRandom } from '../../test/support/chaos-faults.js';
import type { Clip } from '../../test/support/eval/index.js';
import { median } from './report.js';
import { wavHeader } from './wav.js';

/** The recipe's fixed numbers: change one and the figures are for other audio. */
export const NOISY_GAP = {
  seed: 20,
  minGapSeconds: 1,
  maxGapSeconds: 3,
  /** Other speech in the gaps, this far below the set's speech level. */
  babbleBelowSpeechDb: 30,
  /** The set's background level: the median over clips of each clip's quietest 5 % of 10 ms frames. */
  backgroundPercentile: 0.05,
  /** The set's speech level: the median over clips of each clip's loudest 10 % (the 90th percentile). */
  speechPercentile: 0.9,
} as const;

/** A unit normal from `random` (Box-Muller). */
function gaussian(random: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

function percentile(values: Float32Array, p: number): number {
  const sorted = Float32Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;
}

/** Power of a level in frameEnergies' dB (10 log10(mean square + 1)). */
function powerOf(db: number): number {
  return 10 ** (db / 10) - 1;
}

async function readPcm(path: string): Promise<Int16Array> {
  const buf = await readFile(path);
  const out = new Int16Array(Math.floor(buf.length / BYTES_PER_SAMPLE));
  Buffer.from(out.buffer).set(buf.subarray(0, out.length * BYTES_PER_SAMPLE));
  return out;
}

/** What was built, for the report and for scoring. */
export interface NoisyGapAudio {
  audio: PcmAudio;
  /** The reference: every clip's transcript in order (the gaps hold no reference words). */
  reference: string;
  backgroundDb: number;
  speechDb: number;
  gapSeconds: number[];
  /** For each gap, the clip whose speech is mixed into it. */
  babbleClips: string[];
}

/**
 * The "noisy-gap" variant of the dev set (issue 20 item 5): the clips in manifest
 * order with a gap before the first, between each two and after the last, each
 * gap 1-3 s long (uniform, seeded) and made of steady Gaussian noise at the
 * set's own background level plus another dev clip (seeded choice, not a
 * neighbour; a seeded start point, looped if shorter than the gap) scaled to 30
 * dB below the set's speech level. Levels are measured on the clips as
 * src/audio/pcm.ts frameEnergies measures them. A real recording's pauses: room
 * noise and distant talk the decoder should not transcribe.
 */
export async function buildNoisyGap(clips: readonly Clip[], pcmPaths: readonly string[], outPath: string, wavPath?: string): Promise<NoisyGapAudio> {
  const random = seededRandom(NOISY_GAP.seed);
  const pcms = await Promise.all(pcmPaths.map(readPcm));
  const speechLevels: number[] = [];
  const backgroundLevels: number[] = [];
  for (const [i, path] of pcmPaths.entries()) {
    const energies = await frameEnergies(path, pcms[i]!.length);
    backgroundLevels.push(percentile(energies, NOISY_GAP.backgroundPercentile));
    speechLevels.push(percentile(energies, NOISY_GAP.speechPercentile));
  }
  const backgroundDb = median(backgroundLevels);
  const speechDb = median(speechLevels);
  const noiseSigma = Math.sqrt(powerOf(backgroundDb));

  const gapSeconds: number[] = [];
  const babbleClips: string[] = [];
  const parts: Int16Array[] = [];
  const gap = (k: number): Int16Array => {
    // Whole 10 ms frames, so every clip starts on a frame of the file.
    const seconds = Math.round((NOISY_GAP.minGapSeconds + random() * (NOISY_GAP.maxGapSeconds - NOISY_GAP.minGapSeconds)) * 100) / 100;
    const samples = Math.round(seconds * 100) * FRAME_SAMPLES;
    let j: number;
    do j = Math.floor(random() * clips.length);
    while (clips.length > 3 && (j === k || j === k - 1));
    const babble = pcms[j]!;
    // Each clip brought to the set's speech level, then 30 dB below it.
    const gain = Math.sqrt(powerOf(speechDb - NOISY_GAP.babbleBelowSpeechDb) / powerOf(speechLevels[j]!));
    let at = Math.floor(random() * babble.length);
    const out = new Int16Array(samples);
    for (let i = 0; i < samples; i++) {
      const v = gaussian(random) * noiseSigma + babble[at]! * gain;
      out[i] = Math.max(-32768, Math.min(32767, Math.round(v)));
      at = (at + 1) % babble.length;
    }
    gapSeconds.push(seconds);
    babbleClips.push(clips[j]!.id);
    return out;
  };
  for (const [k, pcm] of pcms.entries()) parts.push(gap(k), pcm);
  parts.push(gap(pcms.length));

  const samples = parts.reduce((n, p) => n + p.length, 0);
  const joined = new Int16Array(samples);
  let offset = 0;
  for (const p of parts) {
    joined.set(p, offset);
    offset += p.length;
  }
  const bytes = Buffer.from(joined.buffer, joined.byteOffset, joined.byteLength);
  await writeFile(outPath, bytes);
  if (wavPath !== undefined) await writeFile(wavPath, Buffer.concat([wavHeader(bytes.length), bytes]));
  return {
    audio: { path: outPath, samples, durationSeconds: samples / SAMPLE_RATE },
    reference: clips.map((c) => c.transcript).join(' '),
    backgroundDb,
    speechDb,
    gapSeconds,
    babbleClips,
  };
}
