import { planUtterances, type VadSettings } from '../vad/index.js';
import { BYTES_PER_SAMPLE, SAMPLE_RATE, type PcmAudio } from './decode.js';
import { readPcmRange } from './pcm.js';

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
  /** Longest utterance, in seconds (UTTERANCE_MAX_SECONDS, or less where an engine takes less). */
  maxSeconds: number;
  signal?: AbortSignal | undefined;
  /** Gets one line saying how much speech was found (a job's log, a worker's log). */
  onLog?: ((message: string) => void) | undefined;
}

/** The utterances of one file: read one at a time as they are iterated. */
export interface FileUtterances extends AsyncIterable<Utterance> {
  count: number;
  /** Seconds of the file that reach the engine (all of it with VAD off). */
  speechSeconds: number;
}

/** No VAD: the file cut at silences, nothing dropped (what engines called without settings get). */
const VAD_OFF: VadSettings = { kind: 'off', threshold: 0.5, minSilenceMs: 1000, speechPadMs: 400, minSpeechMs: 250 };

/**
 * The utterances of a decoded file, as `vad` plans them (src/vad/plan.ts):
 * speech only, long non-speech dropped, each utterance at most `maxSeconds`;
 * with `vad` off or absent, the whole file cut at silences. Each utterance is
 * read from disk only when its turn comes, so memory stays flat with length
 * and cancel and progress act between utterances. Times are file times, so an
 * engine that offsets its results by `start` needs no other mapping.
 */
export async function utterances(audio: PcmAudio, vad: VadSettings | undefined, options: UtteranceOptions): Promise<FileUtterances> {
  const settings = vad ?? VAD_OFF;
  const plan = await planUtterances(audio, settings, { maxSeconds: options.maxSeconds, signal: options.signal });
  const count = plan.ranges.length;
  const detector = settings.kind === 'off' ? 'VAD off' : `VAD ${settings.kind}`;
  options.onLog?.(`${detector}: speech ${plan.speechSeconds.toFixed(1)} s of ${audio.durationSeconds.toFixed(1)} s in ${count} utterance(s)`);
  return {
    count,
    speechSeconds: plan.speechSeconds,
    async *[Symbol.asyncIterator]() {
      for (const [index, range] of plan.ranges.entries()) {
        options.signal?.throwIfAborted();
        const pcm = await readPcmRange(audio.path, range.start, range.end);
        yield { index, count, start: range.start / SAMPLE_RATE, end: Math.min(audio.durationSeconds, range.end / SAMPLE_RATE), pcm };
      }
    },
  };
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
