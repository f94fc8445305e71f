import { randomUUID } from 'node:crypto';
import {
  type EngineName,
  type EngineStatus,
  type EngineStream,
  type StreamOptions,
  type TranscribeHooks,
} from '../engines/index.js';
import type { WorkerPool } from '../pool/index.js';
import type { ExecutionResult, Executor, ExecutorStreamCallbacks, HeldModel, TranscriptionTask } from './types.js';
import type { ModelEvent } from '../models/index.js';

/**
 * Runs tasks in the supervised worker pool: the engine's native memory lives
 * and dies with a worker process, so the server's own memory stays flat.
 */
export class PoolExecutor implements Executor {
  readonly isolation = 'process' as const;

  constructor(private readonly pool: WorkerPool) {}

  get concurrency(): number {
    return this.pool.size;
  }

  start(): Promise<void> {
    return this.pool.start();
  }

  /**
   * Runs a live stream in one worker, held for the stream's whole life (the
   * audio crosses IPC as it arrives). A worker that dies mid-stream ends it
   * with WORKER_CRASHED through `onError`, and its slot respawns as usual.
   */
  async openStream(
    engine: EngineName,
    options: StreamOptions,
    callbacks: ExecutorStreamCallbacks,
    signal?: AbortSignal,
  ): Promise<EngineStream> {
    const { stream } = await this.pool.openStream(randomUUID(), engine, options, callbacks, signal);
    return stream;
  }

  engineStatus(): readonly EngineStatus[] {
    return this.pool.engineStatus();
  }

  models(): HeldModel[] {
    return this.pool.models();
  }

  evictModel(id: string): Promise<void> {
    return this.pool.evictModel(id);
  }

  observeModels(listener: (event: ModelEvent & { pid: number }) => void): void {
    this.pool.observeModels((e) =>
      listener(e.event === 'loaded'
        ? { type: 'loaded', id: e.model, bytes: e.bytes, loadMs: e.loadMs, pid: e.pid }
        : e.event === 'resized'
          ? { type: 'resized', id: e.model, bytes: e.bytes, pid: e.pid }
          : { type: 'unloaded', id: e.model, bytes: e.bytes, reason: e.reason, pid: e.pid }),
    );
  }

  async run(task: TranscriptionTask, hooks: TranscribeHooks = {}): Promise<ExecutionResult> {
    const { transcript, pid } = await this.pool.run({ type: 'task', ...task }, hooks);
    return { transcript, isolation: this.isolation, pid };
  }

  close(): Promise<void> {
    // Grace is applied by the server's shutdown (SHUTDOWN_GRACE_SECONDS) before this.
    return this.pool.close(0);
  }
}
