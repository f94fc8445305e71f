import type { Config } from '../config/index.js';
import { engineNotReady, loadEngines, type Engine, type EngineName, type EngineStatus, type EngineStream, type TranscribeHooks } from '../engines/index.js';
import { AppError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { ExecutionResult, Executor, TranscriptionTask } from './types.js';

export interface InProcessExecutorOptions {
  config: Config;
  logger: Logger;
  engines: readonly EngineName[];
  /** Engine instances per engine: decodes that run at once (IN_PROCESS_CONCURRENCY). */
  concurrency: number;
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

  constructor(private readonly options: InProcessExecutorOptions) {
    this.concurrency = options.concurrency;
  }

  async start(): Promise<void> {
    const { instances, status } = await loadEngines(this.options.engines, this.options.config, this.concurrency);
    for (const s of status) {
      if (s.state === 'failed') this.options.logger.error({ engine: s.name, error: s.error }, 'engine failed to load');
      else this.options.logger.debug({ engine: s.info }, 'engine loaded');
    }
    this.idle = instances;
    for (const list of instances.values()) this.all.push(...list);
    this.status = status;
  }

  // Placeholder until streaming lands.
  openStream(): Promise<EngineStream> {
    return Promise.reject(new AppError('ENGINE_NOT_READY', 'streaming is not available yet'));
  }

  engineStatus(): readonly EngineStatus[] {
    return this.status;
  }

  async run(task: TranscriptionTask, hooks: TranscribeHooks = {}): Promise<ExecutionResult> {
    const pool = this.idle.get(task.engine);
    if (pool === undefined) throw engineNotReady(task.engine, this.status, 'in this server');
    const engine = pool.pop();
    // Admission lets at most `concurrency` tasks in, so an instance is always free here.
    if (engine === undefined) throw new AppError('INTERNAL_ERROR', 'no idle engine instance although admission allowed the task');
    this.running++;
    try {
      hooks.onStart?.({ pid: process.pid });
      const transcript = await engine.transcribe(task.audio, task.options, hooks);
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
    this.idle.clear();
    this.all.length = 0;
  }
}
