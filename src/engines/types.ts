import { z } from 'zod';
import type { PcmAudio } from '../audio/index.js';
import type { Config } from '../config/index.js';
import type { DiarizeRequest, KnownSpeaker } from '../diarization/types.js';
import type { ModelCache } from '../models/cache.js';
import type { SpeechEvent, VadSettings } from '../vad/index.js';

/** Where a transcription runs: inside the server, or in a supervised worker process. */
export const ISOLATION_MODES = ['in-process', 'process'] as const;
export type Isolation = (typeof ISOLATION_MODES)[number];

/** Set on segments and words by diarization (src/diarization/merge.ts). */
const speakerSchema = z
  .string()
  .optional()
  .describe('Who spoke: `A`, `B`, ... in order of first appearance, or a name the caller gave. Absent without diarization.');

export const segmentSchema = z.object({
  start: z.number().describe('Seconds from the start of the file.'),
  end: z.number(),
  text: z.string(),
  confidence: z.number().min(0).max(1).optional(),
  speaker: speakerSchema,
});

export const wordSchema = z.object({
  start: z.number(),
  end: z.number(),
  word: z.string(),
  confidence: z.number().min(0).max(1).optional(),
  speaker: speakerSchema,
});

/** What every engine returns; the HTTP answer adds request facts around it. */
export const transcriptSchema = z.object({
  text: z.string(),
  language: z.string(),
  duration_seconds: z.number(),
  confidence: z.number().min(0).max(1).nullable().describe('Mean word posterior, 0-1; null when the engine gives none.'),
  segments: z.array(segmentSchema),
  words: z.array(wordSchema),
  speech_seconds: z
    .number()
    .optional()
    .describe('Seconds of the audio the voice activity detector took for speech (padding included): what the engine decoded. All of it with VAD off.'),
  speakers: z.number().int().min(0).optional().describe('How many speakers diarization found; absent without diarization.'),
});

export type Segment = z.infer<typeof segmentSchema>;
export type Word = z.infer<typeof wordSchema>;
export type Transcript = z.infer<typeof transcriptSchema>;

/** Declared by each engine, never probed. */
export interface EngineCapabilities {
  languages: readonly string[];
  wordTimestamps: boolean;
  streaming: boolean;
  /** Runs native code in the calling process (and so may leak what no GC sees). */
  native: boolean;
  /**
   * Turns speech in other languages into English text (`task: 'translate'`).
   * An engine without it answers English audio with its transcript and refuses
   * a translation asked from another language (src/engines/translation.ts).
   */
  translates: boolean;
  defaultIsolation: Isolation;
}

export interface TranscribeOptions {
  language?: string | undefined;
  prompt?: string | undefined;
  /**
   * Which parts of a file reach the engine (src/vad). Absent: no VAD, the
   * engine hears everything; the service fills in the server's settings
   * (VAD_*) for requests that give none.
   */
  vad?: VadSettings | undefined;
  /**
   * Who spoke when (src/diarization), run after the engine where the engine
   * runs (src/transcription/pipeline.ts). Absent: no diarization, no cost.
   */
  diarize?: DiarizeRequest | undefined;
  /**
   * With `diarize`: speakers to name from reference clips. A cluster whose voice
   * matches one is labelled with its name (src/diarization/known-speakers.ts);
   * the others keep their letters.
   */
  knownSpeakers?: KnownSpeaker[] | undefined;
  /**
   * `translate`: English text whatever language is spoken (OpenAI's
   * translations), from engines that translate; `diarize`: who spoke when and
   * nothing else: the engine is not run, the transcript's segments are the
   * speaker turns, with no text. Default: transcribe.
   */
  task?: 'transcribe' | 'translate' | 'diarize' | undefined;
  /**
   * Which of the engine's models decodes (whisper: a name in MODELS_DIR, as
   * `whisper-<name>` picked it). Absent: the engine's configured default.
   */
  model?: string | undefined;
}

export interface TranscriptionProgress {
  /** 0-1, by audio time decoded. */
  fraction: number;
  processedSeconds: number;
  totalSeconds: number;
}

export interface TranscribeHooks {
  /** Aborting stops the transcription at the next point the engine can stop. */
  signal?: AbortSignal | undefined;
  onProgress?: ((progress: TranscriptionProgress) => void) | undefined;
  onLog?: ((message: string) => void) | undefined;
  /** Called when a process starts on the task (the server itself in-process, a worker otherwise). */
  onStart?: ((info: { pid: number }) => void) | undefined;
  /**
   * Called with each segment (file time) as soon as its utterance is decoded,
   * in order, before the transcript resolves: what `stream=true` answers send.
   */
  onSegment?: ((segment: Segment) => void) | undefined;
}

export const engineInfoSchema = z.object({
  name: z.string(),
  version: z.string(),
  model: z.string(),
  loadMs: z.number(),
  /** What the engine said about its model at load that an operator should see (in /readyz). */
  warnings: z.array(z.string()).optional(),
});
export type EngineInfo = z.infer<typeof engineInfoSchema>;

/** An engine name this build knows (ENGINES, ENGINE). */
export type EngineName = Config['ENGINE'];


/** One engine's load outcome in one process: what /readyz reports and what requests are checked against. */
export const engineStatusSchema = z.discriminatedUnion('state', [
  z.object({ name: z.string(), state: z.literal('ready'), info: engineInfoSchema }),
  z.object({ name: z.string(), state: z.literal('failed'), error: z.object({ code: z.string(), message: z.string() }) }),
]);
export type EngineStatus = z.infer<typeof engineStatusSchema>;

/**
 * How the registry knows an engine: what it can do, and how to make an
 * unloaded instance of it from the configuration. Each engine folder exports one.
 */
export interface EngineEntry {
  capabilities: EngineCapabilities;
  /** A fresh, unloaded instance; executors create one per parallel decode. */
  create(config: Config, context?: EngineContext): Engine;
}

/** What the engines of one process share. */
export interface EngineContext {
  /** The models this process holds (whisper's), within MODEL_MEMORY_LIMIT_MB and MODEL_IDLE_TTL_SECONDS. */
  models: ModelCache;
}

/** One utterance of a live stream, ended by a pause (or UTTERANCE_MAX_SECONDS). */
export interface StreamFinal {
  text: string;
  /** Seconds from the start of the stream. */
  start: number;
  end: number;
  words: Word[];
}

export interface StreamCallbacks {
  /** The current utterance's best guess so far (replaces the previous partial). */
  onPartial(text: string): void;
  /**
   * The last partial still stands after more of its utterance was searched.
   * For consumers that weigh how long a guess has held (the Realtime API's
   * deltas); engines without partials never call it.
   */
  onPartialHeld?(): void;
  onFinal(result: StreamFinal): void;
  /**
   * Speech began or ended, in audio time (seconds from the start of the stream),
   * in order with the results: an utterance's `speech_stopped` comes before its final.
   */
  onSpeech?(event: SpeechEvent): void;
}

/**
 * A live transcription: audio in as it arrives, partial and final text out
 * through the callbacks. One stream holds its engine instance until it ends.
 */
export interface EngineStream {
  /** 16 kHz mono s16le samples, in order. Resolves once they are decoded: the caller's backpressure. */
  write(pcm: Int16Array): Promise<void>;
  /** Decodes what is left, sends the last final, and releases the engine instance. */
  end(): Promise<void>;
  /** Stops at once, sends nothing more, and releases the engine instance. */
  abort(): Promise<void>;
}

export interface StreamOptions extends TranscribeOptions {
  /** A pause this long ends an utterance. */
  silenceSeconds: number;
  /** Longest utterance; cut there even without a pause. */
  utteranceMaxSeconds: number;
  /**
   * What tells speech from a pause: with kind `silero` the VAD starts and ends
   * utterances (its `minSilenceMs` is `silenceSeconds`); `energy`, `off` or
   * absent: the energy endpointer.
   */
  vad?: VadSettings | undefined;
}

/**
 * A speech engine. One instance decodes one file at a time; executors run as
 * many instances as they want decodes in parallel.
 */
export interface Engine {
  readonly name: string;
  readonly capabilities: EngineCapabilities;
  load(): Promise<EngineInfo>;
  transcribe(audio: PcmAudio, options: TranscribeOptions, hooks?: TranscribeHooks): Promise<Transcript>;
  /**
   * Incremental decoding with partial results, for engines whose capabilities
   * say `streaming`; others are streamed by decoding buffered utterances whole.
   */
  openStream?(options: StreamOptions, callbacks: StreamCallbacks): EngineStream;
  /** Whether this instance holds `model` loaded now (executors prefer one that does); engines with one model leave it out. */
  holds?(model: string | undefined): boolean;
  unload(): Promise<void>;
}
