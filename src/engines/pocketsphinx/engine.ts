import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { utterances, type PcmAudio } from '../../audio/index.js';
import { AppError } from '../../errors.js';
import type { Engine, EngineCapabilities, EngineInfo, EngineStream, Segment, StreamCallbacks, StreamOptions, TranscribeHooks, TranscribeOptions, Transcript, Word } from '../types.js';
import { loadAddon, type NativeDecoder } from './native.js';
import { PocketsphinxStream } from './stream.js';
import { mean, round, utteranceWords } from './words.js';

export interface PocketsphinxEngineOptions {
  /** Folder with `en-us/`, `en-us.lm.bin`, `cmudict-en-us.dict` (Debian's pocketsphinx-en-us). */
  modelDir: string;
  /** Extra `-name value` decoder arguments, overriding the defaults below. */
  extraArgs?: readonly string[];
  /** Longest utterance decoded whole, in seconds. */
  utteranceMaxSeconds: number;
}

/**
 * Tuned on ../shared/corpus/dev with Debian's en-us model (see docs/benchmarks.md):
 * no forward-flat pass, a weighted best-path rescoring, and no noise removal
 * (which also makes results deterministic).
 */
export const TUNED_ARGS: readonly string[] = [
  '-fwdflat', 'no', '-bestpathlw', '8', '-lw', '5.5', '-remove_noise', 'no',
  // The built-in VAD drops silent frames, which shifts word times off file time
  // and carries state from one utterance to the next (same audio, other result).
  '-remove_silence', 'no',
  // Re-tuned once the VAD (src/vad) keeps long non-speech away from the decoder
  // (issue 20, item 6): a lower silence probability and fewer active HMMs per
  // frame, more accurate and about 40% less CPU on the dev clips.
  '-silprob', '0.1', '-maxhmmpf', '3000',
];

export const POCKETSPHINX_CAPABILITIES: EngineCapabilities = {
  languages: ['en'],
  wordTimestamps: true,
  streaming: true,
  native: true,
  translates: false,
  defaultIsolation: 'process',
};

/** Parses `-name value -name value` into an argument list, or says what is wrong. */
export function parseDecoderArgs(text: string): string[] {
  const parts = text.trim().split(/\s+/).filter(Boolean);
  if (parts.length % 2 !== 0 || parts.some((p, i) => i % 2 === 0 && !p.startsWith('-'))) {
    throw new Error('expected pairs of "-name value"');
  }
  return parts;
}

/**
 * Joins `-name value` lists, a later list's value replacing an earlier one's
 * for the same name (the library refuses a name given twice), in first-seen order.
 */
export function mergeDecoderArgs(...lists: readonly (readonly string[])[]): string[] {
  const values = new Map<string, string>();
  for (const list of lists) for (let i = 0; i + 1 < list.length; i += 2) values.set(list[i]!, list[i + 1]!);
  return [...values].flat();
}

/**
 * Debian's PocketSphinx, in this process, through the N-API addon. One decoder
 * per instance: a live stream holds it from `openStream` until the stream
 * ends or aborts, and `transcribe` is refused meanwhile.
 */
export class PocketsphinxEngine implements Engine {
  readonly name = 'pocketsphinx';
  readonly capabilities = POCKETSPHINX_CAPABILITIES;
  private decoder: NativeDecoder | undefined;
  private stream: PocketsphinxStream | undefined;

  constructor(private readonly options: PocketsphinxEngineOptions) {}

  async load(): Promise<EngineInfo> {
    const started = performance.now();
    const { modelDir } = this.options;
    const hmm = join(modelDir, 'en-us');
    const lm = join(modelDir, 'en-us.lm.bin');
    const dict = join(modelDir, 'cmudict-en-us.dict');
    for (const path of [hmm, lm, dict]) {
      await access(path).catch((cause: unknown) => {
        throw new AppError('ENGINE_ERROR', `PocketSphinx model file missing: ${path} (install the pocketsphinx-en-us package or set POCKETSPHINX_MODEL_DIR)`, { cause });
      });
    }
    const args = mergeDecoderArgs(['-hmm', hmm, '-lm', lm, '-dict', dict], TUNED_ARGS, this.options.extraArgs ?? []);
    try {
      this.decoder = await loadAddon().loadDecoder(args);
    } catch (cause) {
      throw new AppError('ENGINE_ERROR', `PocketSphinx failed to load: ${(cause as Error).message}`, { cause });
    }
    return { name: this.name, version: '5prealpha', model: modelDir, loadMs: Math.round(performance.now() - started) };
  }

  async transcribe(audio: PcmAudio, options: TranscribeOptions, hooks: TranscribeHooks = {}): Promise<Transcript> {
    const decoder = this.usableDecoder();
    const fps = decoder.frameRate;
    const segments: Segment[] = [];
    const words: Word[] = [];
    const planned = await utterances(audio, options.vad, { maxSeconds: this.options.utteranceMaxSeconds, signal: hooks.signal, onLog: hooks.onLog });
    for await (const utt of planned) {
      const uttWords = utteranceWords(await decoder.decode(utt.pcm), utt.start, fps);
      if (uttWords.length > 0) {
        const first = uttWords[0]!;
        const last = uttWords[uttWords.length - 1]!;
        segments.push({
          start: first.start,
          end: last.end,
          text: uttWords.map((w) => w.word).join(' '),
          confidence: round(mean(uttWords.map((w) => w.confidence ?? 0))),
        });
        words.push(...uttWords);
        hooks.onSegment?.(segments[segments.length - 1]!);
      }
      hooks.onProgress?.({ fraction: utt.end / audio.durationSeconds, processedSeconds: utt.end, totalSeconds: audio.durationSeconds });
      hooks.onLog?.(`utterance ${utt.index + 1}/${utt.count} (${utt.start.toFixed(1)}-${utt.end.toFixed(1)} s): ${uttWords.length} words`);
    }
    return {
      text: segments.map((s) => s.text).join(' '),
      language: 'en',
      duration_seconds: round(audio.durationSeconds),
      confidence: words.length > 0 ? round(mean(words.map((w) => w.confidence ?? 0))) : null,
      segments,
      words,
      speech_seconds: round(planned.speechSeconds),
    };
  }

  openStream(options: StreamOptions, callbacks: StreamCallbacks): EngineStream {
    const decoder = this.usableDecoder();
    const stream = new PocketsphinxStream(decoder, options, callbacks, () => {
      if (this.stream === stream) this.stream = undefined;
    });
    this.stream = stream;
    return stream;
  }

  async unload(): Promise<void> {
    await this.stream?.abort();
    this.decoder?.free();
    this.decoder = undefined;
  }

  /** The decoder, when loaded and not held by a stream (executors hand an instance to one task at a time). */
  private usableDecoder(): NativeDecoder {
    if (this.decoder === undefined) throw new AppError('ENGINE_NOT_READY', 'the PocketSphinx engine is not loaded');
    if (this.stream !== undefined) throw new AppError('INTERNAL_ERROR', 'this PocketSphinx instance is held by a live stream');
    return this.decoder;
  }
}
