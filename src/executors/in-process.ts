import type { Config } from '../config/index.js';
import { createEngine, type Engine, type EngineInfo, type EngineName, type TranscribeHooks } from '../engines/index.js';
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
  private readonly idle = new Map<EngineName, Engine[]>();
  private readonly all: Engine[] = [];
  private running = 0;
  /** What each engine reported when it loaded (one entry per engine, for /readyz). */
  readonly loaded: EngineInfo[] = [];
  private drained: (() => void) | undefined;

  constructor(private readonly options: InProcessExecutorOptions) {
    this.concurrency = options.concurrency;
  }

  async start(): Promise<void> {
    for (const name of this.options.engines) {
      const instances = Array.from({ length: this.concurrency }, () => createEngine(name, this.options.config));
      // Sequential loads: parallel ones only compete for the same disk and cores.
      for (const [i, engine] of instances.entries()) {
        const info = await engine.load();
        this.options.logger.debug({ engine: info }, 'engine instance loaded');
        if (i === 0) this.loaded.push(info);
      }
      this.idle.set(name, instances);
      this.all.push(...instances);
    }
  }

  async run(task: TranscriptionTask, hooks: TranscribeHooks = {}): Promise<ExecutionResult> {
    const pool = this.idle.get(task.engine);
    if (pool === undefined) throw new AppError('ENGINE_NOT_READY', `engine "${task.engine}" is not loaded in this server`);
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
