import type { PcmAudio } from '../audio/index.js';
import type { ModelEvent, ResidentModel } from '../models/index.js';
import type { EngineName, EngineStatus, EngineStream, Isolation, StreamCallbacks, StreamOptions, TranscribeHooks, TranscribeOptions, Transcript } from '../engines/index.js';

/** A stream's callbacks, plus how an executor reports a failure no call is waiting on (a worker dying). */
export type ExecutorStreamCallbacks = StreamCallbacks & { onError(err: Error): void };

/** A model loaded in one process where an executor runs. */
export interface HeldModel extends ResidentModel {
  pid: number;
  /** The worker's slot (process isolation). */
  slot?: number | undefined;
}

/** One transcription, its audio already decoded to PCM on disk. */
export interface TranscriptionTask {
  id: string;
  audio: PcmAudio;
  engine: EngineName;
  options: TranscribeOptions;
}

export interface ExecutionResult {
  transcript: Transcript;
  isolation: Isolation;
  /** The process that decoded: the server itself in-process, a worker otherwise. */
  pid: number;
}

/**
 * Runs tasks on engines. Admission (in front) bounds how many arrive; the
 * executor owns how and where they run.
 */
export interface Executor {
  readonly isolation: Isolation;
  /** Tasks that can run at once. */
  readonly concurrency: number;
  /** Loads engines; resolves when the executor can take tasks (warm). */
  start(): Promise<void>;
  run(task: TranscriptionTask, hooks?: TranscribeHooks): Promise<ExecutionResult>;
  /**
   * Starts a live stream on one engine instance (in-process) or one worker
   * (process), held until the stream ends. `signal` aborts it; a worker that
   * dies ends it with WORKER_CRASHED through `onError`.
   */
  openStream(engine: EngineName, options: StreamOptions, callbacks: ExecutorStreamCallbacks, signal?: AbortSignal): Promise<EngineStream>;
  /** Each engine's load outcome where this executor runs (empty before start). */
  engineStatus(): readonly EngineStatus[];
  /** The models loaded where this executor runs, per process (read-only; /readyz, /debug/pool, /v1/models, metrics). */
  models(): HeldModel[];
  /** Unloads model `id` wherever this executor holds it: idle copies now, busy ones once their decode ends. */
  evictModel(id: string): Promise<void>;
  /** Told of every model load and unload where this executor runs (metrics); never steers. */
  observeModels(listener: (event: ModelEvent & { pid: number }) => void): void;
  /** Waits for running tasks, then unloads. */
  close(): Promise<void>;
}
