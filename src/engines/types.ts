import { z } from 'zod';
import type { PcmAudio } from '../audio/index.js';
import type { Config } from '../config/index.js';

/** Where a transcription runs: inside the server, or in a supervised worker process. */
export const ISOLATION_MODES = ['in-process', 'process'] as const;
export type Isolation = (typeof ISOLATION_MODES)[number];

export const segmentSchema = z.object({
  start: z.number().describe('Seconds from the start of the file.'),
  end: z.number(),
  text: z.string(),
  confidence: z.number().min(0).max(1).optional(),
});

export const wordSchema = z.object({
  start: z.number(),
  end: z.number(),
  word: z.string(),
  confidence: z.number().min(0).max(1).optional(),
});

/** What every engine returns; the HTTP answer adds request facts around it. */
export const transcriptSchema = z.object({
  text: z.string(),
  language: z.string(),
  duration_seconds: z.number(),
  confidence: z.number().min(0).max(1).nullable().describe('Mean word posterior, 0-1; null when the engine gives none.'),
  segments: z.array(segmentSchema),
  words: z.array(wordSchema),
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
  defaultIsolation: Isolation;
}

export interface TranscribeOptions {
  language?: string | undefined;
  prompt?: string | undefined;
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
  create(config: Config): Engine;
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
  unload(): Promise<void>;
}
