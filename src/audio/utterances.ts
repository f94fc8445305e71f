import { BYTES_PER_SAMPLE, SAMPLE_RATE, type PcmAudio } from './decode.js';
import { FRAME_SAMPLES, frameEnergies, readPcmRange } from './pcm.js';
import { cutAtSilences } from './segment.js';

export interface Utterance {
  /** 0-based position, and how many there are in the file. */
  index: number;
  count: number;
  /** Seconds from the start of the file. */
  start: number;
  end: number;
  /** 16 kHz mono s16le samples of [start, end). */
  pcm: Int16Array;
}

export interface UtteranceOptions {
  /** Longest utterance, in seconds (UTTERANCE_MAX_SECONDS). */
  maxSeconds: number;
  signal?: AbortSignal | undefined;
}

const FPS = SAMPLE_RATE / FRAME_SAMPLES;

/**
 * The utterances of a decoded file, cut at silences, read from disk one at a
 * time: every engine decodes long audio this way, so memory stays flat with
 * length and cancel and progress act between utterances.
 */
export async function* utterances(audio: PcmAudio, options: UtteranceOptions): AsyncGenerator<Utterance> {
  const energies = await frameEnergies(audio.path, audio.samples);
  const ranges = cutAtSilences(energies, {
    maxFrames: Math.round(options.maxSeconds * FPS),
    minFrames: Math.round(4 * FPS),
    minSilenceFrames: Math.round(0.15 * FPS),
    breakFrames: Math.round(0.5 * FPS),
  });
  for (const [index, range] of ranges.entries()) {
    options.signal?.throwIfAborted();
    const pcm = await readPcmRange(audio.path, range.start * FRAME_SAMPLES, range.end * FRAME_SAMPLES);
    yield { index, count: ranges.length, start: range.start / FPS, end: Math.min(audio.durationSeconds, range.end / FPS), pcm };
  }
}

/** A 16 kHz mono 16-bit WAV file holding `pcm`: what HTTP speech APIs accept everywhere. */
export function encodeWav(pcm: Int16Array, sampleRate = SAMPLE_RATE): Buffer {
  const dataBytes = pcm.length * BYTES_PER_SAMPLE;
  const out = Buffer.alloc(44 + dataBytes);
  out.write('RIFF', 0, 'ascii');
  out.writeUInt32LE(36 + dataBytes, 4);
  out.write('WAVE', 8, 'ascii');
  out.write('fmt ', 12, 'ascii');
  out.writeUInt32LE(16, 16);
  out.writeUInt16LE(1, 20); // PCM
  out.writeUInt16LE(1, 22); // mono
  out.writeUInt32LE(sampleRate, 24);
  out.writeUInt32LE(sampleRate * BYTES_PER_SAMPLE, 28);
  out.writeUInt16LE(BYTES_PER_SAMPLE, 32);
  out.writeUInt16LE(16, 34);
  out.write('data', 36, 'ascii');
  out.writeUInt32LE(dataBytes, 40);
  Buffer.from(pcm.buffer, pcm.byteOffset, dataBytes).copy(out, 44);
  return out;
}
