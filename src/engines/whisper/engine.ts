import { open } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { utterances, type PcmAudio } from '../../audio/index.js';
import { AppError } from '../../errors.js';
import { fileBytes, GGML_MAGIC, ModelCache, type ModelLease, type WhisperModelFile } from '../../models/index.js';
import type { Engine, EngineCapabilities, EngineInfo, Segment, TranscribeHooks, TranscribeOptions, Transcript, Word } from '../types.js';
import { loadWhisperBinding, type WhisperContext, type WhisperResult } from './binding.js';
import { piecesToTranscript, UNSPACED_LANGUAGES } from './words.js';

export interface WhisperEngineOptions {
  /** The default model's ggml file (`ggml-<size>.bin`): what a request naming no model gets. */
  modelPath: string;
  /** How the path was chosen, for the error when the file is missing. */
  modelSource: string;
  /** The default model's id (`whisper-base.en`). Default: `whisper`. */
  modelId?: string;
  /**
   * The file of a model a request names (`TranscribeOptions.model`), absent for
   * the default. Without it, only the default model is known.
   */
  modelFile?: (name: string) => WhisperModelFile;
  /** The models this process holds; a cache of the engine's own (no limit, no TTL) when absent. */
  models?: ModelCache;
  threads: number;
  /** ISO 639-1 code, or `auto` to detect. */
  language: string;
  bestOf: number;
  utteranceMaxSeconds: number;
}

/** whisper.cpp's languages (ISO 639-1), as `whisper_lang_str` names them. */
export const WHISPER_LANGUAGES = [
  'en', 'zh', 'de', 'es', 'ru', 'ko', 'fr', 'ja', 'pt', 'tr', 'pl', 'ca', 'nl', 'ar', 'sv', 'it', 'id', 'hi', 'fi', 'vi', 'he', 'uk',
  'el', 'ms', 'cs', 'ro', 'da', 'hu', 'ta', 'no', 'th', 'ur', 'hr', 'bg', 'lt', 'la', 'mi', 'ml', 'cy', 'sk', 'te', 'fa', 'lv', 'bn',
  'sr', 'az', 'sl', 'kn', 'et', 'mk', 'br', 'eu', 'is', 'hy', 'ne', 'mn', 'bs', 'kk', 'sq', 'sw', 'gl', 'mr', 'pa', 'si', 'km', 'sn',
  'yo', 'so', 'af', 'oc', 'ka', 'be', 'tg', 'sd', 'gu', 'am', 'yi', 'lo', 'uz', 'fo', 'ht', 'ps', 'tk', 'nn', 'mt', 'sa', 'lb', 'my',
  'bo', 'tl', 'mg', 'as', 'tt', 'haw', 'ln', 'ha', 'ba', 'jw', 'su', 'yue',
] as const;

export const WHISPER_CAPABILITIES: EngineCapabilities = {
  languages: WHISPER_LANGUAGES,
  // From whisper.cpp's token timestamps, for languages written with spaces (src/engines/whisper/words.ts).
  wordTimestamps: true,
  streaming: false,
  native: true,
  translates: true,
  defaultIsolation: 'process',
};


const BINDING_VERSION = (createRequire(import.meta.url)('@fugood/whisper.node/package.json') as { version: string }).version;

/**
 * whisper.cpp through @fugood/whisper.node (prebuilt, CPU). Long audio is
 * decoded one utterance (<= 30 s, whisper's own window) at a time: memory stays
 * flat with length, progress is real, and cancel acts between utterances
 * without the binding's stop(), whose promise never settles.
 */
export class WhisperEngine implements Engine {
  readonly name = 'whisper';
  readonly capabilities = WHISPER_CAPABILITIES;
  private loaded = false;
  private readonly models: ModelCache;

  constructor(private readonly options: WhisperEngineOptions) {
    this.models = options.models ?? new ModelCache({ limitBytes: 0, idleTtlMs: 0 });
  }

  /** Loads the default model (warm for the first request): the engine is ready only if it loads. */
  async load(): Promise<EngineInfo> {
    const started = performance.now();
    const { modelPath, modelSource } = this.options;
    await checkModelFile(modelPath, modelSource);
    const warnings: string[] = [];
    const lease = await this.lease(this.defaultModel(), warnings);
    lease.release();
    this.loaded = true;
    return {
      name: this.name,
      version: `whisper.node ${BINDING_VERSION}`,
      model: modelPath,
      loadMs: Math.round(performance.now() - started),
      ...(warnings.length > 0 ? { warnings } : {}),
    };
  }

  holds(model: string | undefined): boolean {
    return this.models.holds(this, this.fileOf(model).path);
  }

  async transcribe(audio: PcmAudio, options: TranscribeOptions, hooks: TranscribeHooks = {}): Promise<Transcript> {
    if (!this.loaded) throw new AppError('ENGINE_NOT_READY', 'the whisper engine is not loaded');
    const file = this.fileOf(options.model);
    if (file.path !== this.options.modelPath) await checkNamedModel(file);
    const lease = await this.lease(file);
    try {
      return await this.decode(lease.value, audio, options, hooks);
    } finally {
      lease.release();
    }
  }

  async unload(): Promise<void> {
    this.loaded = false;
    await this.models.forget(this);
  }

  private defaultModel(): WhisperModelFile {
    return { id: this.options.modelId ?? 'whisper', path: this.options.modelPath, name: null };
  }

  private fileOf(model: string | undefined): WhisperModelFile {
    if (model === undefined) return this.defaultModel();
    if (this.options.modelFile === undefined) throw new AppError('MODEL_NOT_FOUND', `this whisper engine knows only its default model, not "${model}"`);
    const file = this.options.modelFile(model);
    return file.path === this.options.modelPath ? this.defaultModel() : file;
  }

  /** This instance's context of `file`, loaded now unless it holds one (the cache may unload others to make room). */
  private async lease(file: WhisperModelFile, warnings: string[] = []): Promise<ModelLease<WhisperContext>> {
    const binding = await loadWhisperBinding();
    return this.models.acquire(this, file.path, { id: file.id, fileBytes: fileBytes(file.path) ?? 0 }, {
      load: async () => {
        const loaded = await binding.load(file.path).catch((cause: unknown) => {
          throw new AppError('ENGINE_ERROR', `whisper.cpp could not load the model ${file.path}: ${(cause as Error).message}`, { cause });
        });
        warnings.push(...loaded.warnings);
        return loaded.context;
      },
      unload: (context) => binding.release(context),
    });
  }

  private async decode(context: WhisperContext, audio: PcmAudio, options: TranscribeOptions, hooks: TranscribeHooks): Promise<Transcript> {
    const language = whisperLanguage(options.language ?? this.options.language);
    const segments: Segment[] = [];
    let detected: string | undefined;
    const planned = await utterances(audio, options.vad, { maxSeconds: Math.min(30, this.options.utteranceMaxSeconds), signal: hooks.signal, onLog: hooks.onLog });
    if (planned.count > 0) hooks.onLog?.(`decoding ${planned.count} utterance(s) with ${this.options.threads} thread(s)`);
    const words: Word[] = [];
    for await (const utt of planned) {
      const pcm = utt.pcm.buffer.slice(utt.pcm.byteOffset, utt.pcm.byteOffset + utt.pcm.byteLength) as ArrayBuffer;
      const decode = (byWord: boolean): Promise<WhisperResult> =>
        context.transcribeData(pcm, {
          language,
          maxThreads: this.options.threads,
          temperature: 0,
          bestOf: this.options.bestOf,
          ...(options.prompt === undefined ? {} : { prompt: options.prompt }),
          ...(options.task === 'translate' ? { translate: true } : {}),
          // One piece per token, with its time: the words' times (src/engines/whisper/words.ts).
          ...(byWord ? { tokenTimestamps: true, maxLen: 1 } : {}),
        }).promise;
      const byWord = !UNSPACED_LANGUAGES.has(detected ?? language);
      let result = await decode(byWord);
      const parsed = byWord ? piecesToTranscript(result.segments, utt.start, utt.end) : undefined;
      if (byWord && parsed === undefined) {
        hooks.onLog?.(`utterance ${utt.index + 1}: a token split a character (language ${result.language ?? language}); decoded again without word times`);
        result = await decode(false);
      }
      detected ??= result.language;
      const uttSegments = parsed?.segments ?? plainSegments(result, utt);
      for (const segment of uttSegments) {
        segments.push(segment);
        hooks.onSegment?.(segment);
      }
      if (parsed !== undefined) words.push(...parsed.words);
      const count = uttSegments.reduce((n, s) => n + s.text.split(/\s+/).length, 0);
      hooks.onProgress?.({ fraction: utt.end / audio.durationSeconds, processedSeconds: utt.end, totalSeconds: audio.durationSeconds });
      hooks.onLog?.(`utterance ${utt.index + 1}/${utt.count} (${utt.start.toFixed(1)}-${utt.end.toFixed(1)} s): ${count} words`);
    }
    return {
      text: segments.map((s) => s.text).join(' '),
      language: detected ?? (language === 'auto' ? 'und' : language),
      duration_seconds: round(audio.durationSeconds),
      confidence: null,
      segments,
      words,
      speech_seconds: round(planned.speechSeconds),
    };
  }

}

/** A model a request named must be a whisper file still there (it may have been deleted since the request was planned). */
async function checkNamedModel(file: WhisperModelFile): Promise<void> {
  if (fileBytes(file.path) === null) {
    throw new AppError('MODEL_NOT_DOWNLOADED', `model ${file.id} is not on this server (${file.path} does not exist); an admin pulls it with POST /v1/models/${file.id}`, {
      details: { model: file.id },
    });
  }
  await checkModelFile(file.path, file.id);
}

/** whisper's own segments of one utterance, in file time (no word times). */
function plainSegments(result: WhisperResult, utt: { start: number; end: number }): Segment[] {
  return result.segments
    .map((s) => ({ start: round(utt.start + s.t0 / 1000), end: round(Math.min(utt.end, utt.start + s.t1 / 1000)), text: s.text.trim() }))
    .filter((s) => s.text !== '');
}

/** `en`, `en-US`, `EN` -> `en`; `auto` stays; anything whisper does not know is a 400. */
export function whisperLanguage(requested: string): string {
  const code = requested.toLowerCase().split(/[-_]/)[0] ?? '';
  if (code === 'auto' || (WHISPER_LANGUAGES as readonly string[]).includes(code)) return code;
  throw new AppError('UNSUPPORTED_LANGUAGE', `whisper does not know the language "${requested}"; use an ISO 639-1 code such as en, de, fr, or auto`, {
    details: { supported_languages: WHISPER_LANGUAGES },
  });
}

/** A missing or foreign file is reported here, before whisper.cpp sees it. */
async function checkModelFile(path: string, source: string): Promise<void> {
  const hint = 'Get one with `hark models pull <size>` (e.g. base.en) or set WHISPER_MODEL_PATH to a ggml model file.';
  let head: Buffer;
  try {
    const fh = await open(path, 'r');
    try {
      head = Buffer.alloc(4);
      await fh.read(head, 0, 4, 0);
    } finally {
      await fh.close();
    }
  } catch (cause) {
    const why = (cause as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : `cannot be read (${(cause as Error).message})`;
    throw new AppError('ENGINE_ERROR', `whisper model file ${path} (${source}) ${why}. ${hint}`, { cause });
  }
  if (head.readUInt32LE(0) !== GGML_MAGIC) {
    throw new AppError('ENGINE_ERROR', `${path} (${source}) is not a whisper.cpp ggml model file (bad magic number). ${hint}`);
  }
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
