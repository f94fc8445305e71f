import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ScratchDir } from '../os/index.js';
import type { Config } from '../config/index.js';
import {
  loadEngines,
  openEngineStream,
  releaseFreeMemory,
  type Engine,
  type EngineName,
  type EngineStatus,
  type EngineStream,
  type StreamCallbacks,
  type StreamOptions,
  type TranscribeHooks,
} from '../engines/index.js';
import { AppError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { ExecutionResult, Executor, HeldModel, TranscriptionTask } from './types.js';
import { ModelCache, type ModelEvent } from '../models/index.js';
import { transcribeFile } from '../transcription/pipeline.js';

export interface InProcessExecutorOptions {
  config: Config;
  logger: Logger;
  engines: readonly EngineName[];
  /** Engine instances per engine: decodes that run at once (IN_PROCESS_CONCURRENCY). */
  concurrency: number;
  /**
   * Where streams on engines without incremental decoding put each utterance
   * to transcribe it (DATA_DIR/tmp, already created). Without it, a directory
   * of the executor's own under the OS temp dir, removed at close.
   */
  scratch?: ScratchDir | undefined;
}

/**
 * Runs engines inside the server: the fastest path, and the one a leaking
 * native engine can take down. Each engine instance decodes one task at a time
 * (PocketSphinx decoders are not thread-safe), so it keeps `concurrency` of them.
 */
export class InProcessExecutor implements Executor {
  readonly isolation = 'in-process' as const;
  readonly concurrency: number;
  private idle = new Map<EngineName, Engine[]>();
  private readonly all: Engine[] = [];
  private running = 0;
  private status: EngineStatus[] = [];
  private drained: (() => void) | undefined;
  private scratch: ScratchDir | undefined;
  private readonly modelListeners: ((event: ModelEvent & { pid: number }) => void)[] = [];
  /** The models the engines in this server hold (whisper's), shared by its instances within MODEL_MEMORY_LIMIT_MB. */
  private readonly modelCache: ModelCache;

  constructor(private readonly options: InProcessExecutorOptions) {
    this.concurrency = options.concurrency;
    this.modelCache = new ModelCache({
      limitBytes: options.config.MODEL_MEMORY_LIMIT_MB * 1e6,
      idleTtlMs: options.config.MODEL_IDLE_TTL_SECONDS * 1000,
      rss: () => process.memoryUsage.rss(),
      afterUnload: releaseFreeMemory,
      onEvent: (event) => {
        options.logger.info({ model: event.id, event: event.type, bytes: event.bytes, ...(event.type === 'loaded' ? { loadMs: event.loadMs } : event.type === 'unloaded' ? { reason: event.reason } : {}) }, `model ${event.type}`);
        for (const l of this.modelListeners) l({ ...event, pid: process.pid });
      },
    });
  }

  async start(): Promise<void> {
    const { instances, status } = await loadEngines(this.options.engines, this.options.config, this.concurrency, { models: this.modelCache });
    for (const s of status) {
      if (s.state === 'failed') this.options.logger.error({ engine: s.name, error: s.error }, 'engine failed to load');
      else this.options.logger.debug({ engine: s.info }, 'engine loaded');
    }
    this.idle = instances;
    for (const list of instances.values()) this.all.push(...list);
    this.status = status;
    this.scratch = this.options.scratch ?? new ScratchDir(await mkdtemp(join(tmpdir(), 'hark-streams-')));
  }

  /**
   * Holds one idle instance of `name` for the stream until it ends or aborts
   * (or `signal` aborts it). Engine failures reject the stream's own
   * write/end; `onError` is for the worker pool's crashes and is not called here.
   */
  async openStream(name: EngineName, options: StreamOptions, callbacks: StreamCallbacks, signal?: AbortSignal): Promise<EngineStream> {
    const pool = this.idle.get(name);
    const scratch = this.scratch;
    // The plan checked readiness; only a caller that skipped it gets here.
    if (pool === undefined || scratch === undefined) throw new AppError('INTERNAL_ERROR', `engine ${name} has no instance in this server`);
    if (signal?.aborted === true) throw new AppError('REQUEST_ABORTED', 'the stream was closed before it started');
    const engine = pool.pop();
    // Admission in front lets a stream in only when an instance is free, as for tasks.
    if (engine === undefined) throw new AppError('INTERNAL_ERROR', 'no idle engine instance although admission allowed the stream');
    this.running++;
    const logger = this.options.logger;
    // Declared (hoisted) before `release` needs it; only runs once `stream` exists.
    function onAbort(): void {
      stream.abort().catch((err: unknown) => logger.error({ err, engine: name }, 'aborting a live stream failed'));
    }
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      signal?.removeEventListener('abort', onAbort);
      pool.push(engine);
      this.running--;
      if (this.running === 0) this.drained?.();
    };
    let inner: EngineStream;
    try {
      inner = openEngineStream(engine, options, callbacks, scratch);
    } catch (err) {
      release();
      throw err;
    }
    const stream: EngineStream = {
      write: (pcm) => inner.write(pcm),
      end: () => inner.end().finally(release),
      abort: () => inner.abort().finally(release),
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    return stream;
  }

  engineStatus(): readonly EngineStatus[] {
    return this.status;
  }

  models(): HeldModel[] {
    return this.modelCache.snapshot().map((m) => ({ ...m, pid: process.pid }));
  }

  evictModel(id: string): Promise<void> {
    return this.modelCache.evict(id);
  }

  observeModels(listener: (event: ModelEvent & { pid: number }) => void): void {
    this.modelListeners.push(listener);
  }

  async run(task: TranscriptionTask, hooks: TranscribeHooks = {}): Promise<ExecutionResult> {
    const pool = this.idle.get(task.engine);
    if (pool === undefined) throw new AppError('INTERNAL_ERROR', `engine ${task.engine} has no instance in this server`);
    // An instance that already holds the task's model, if one is idle: no load for this request.
    const holder = pool.findIndex((e) => e.holds?.(task.options.model) === true);
    const engine = holder >= 0 ? pool.splice(holder, 1)[0] : pool.pop();
    // Admission lets at most `concurrency` tasks in, so an instance is always free here.
    if (engine === undefined) throw new AppError('INTERNAL_ERROR', 'no idle engine instance although admission allowed the task');
    this.running++;
    try {
      hooks.onStart?.({ pid: process.pid });
      const transcript = await transcribeFile(engine, task.audio, task.options, hooks);
      return { transcript, isolation: this.isolation, pid: process.pid };
    } finally {
      pool.push(engine);
      this.running--;
      if (this.running === 0) this.drained?.();
    }
  }

  async close(): Promise<void> {
    if (this.running > 0) await new Promise<void>((resolve) => (this.drained = resolve));
    await Promise.all(this.all.map((e) => e.unload()));
    await this.modelCache.close();
    this.idle.clear();
    this.all.length = 0;
    if (this.options.scratch === undefined && this.scratch !== undefined) await rm(this.scratch.path, { recursive: true, force: true });
    this.scratch = undefined;
  }
}
