import { AppError } from '../errors.js';
import { engineNotReady, type EngineStatus, type EngineStream, type TranscribeHooks } from '../engines/index.js';
import type { WorkerPool } from '../pool/index.js';
import type { ExecutionResult, Executor, TranscriptionTask } from './types.js';

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

  // Placeholder until streaming lands.
  openStream(): Promise<EngineStream> {
    return Promise.reject(new AppError('ENGINE_NOT_READY', 'streaming is not available yet'));
  }

  engineStatus(): readonly EngineStatus[] {
    return this.pool.engineStatus();
  }

  async run(task: TranscriptionTask, hooks: TranscribeHooks = {}): Promise<ExecutionResult> {
    const status = this.pool.engineStatus();
    // Checked here, not in the worker: a task for an engine the workers lack never takes one.
    if (status.length > 0 && !status.some((s) => s.name === task.engine && s.state === 'ready')) {
      throw engineNotReady(task.engine, status, 'in the worker processes');
    }
    const { transcript, pid } = await this.pool.run({ type: 'task', ...task }, hooks);
    return { transcript, isolation: this.isolation, pid };
  }

  close(): Promise<void> {
    // Grace is applied by the server's shutdown (SHUTDOWN_GRACE_SECONDS) before this.
    return this.pool.close(0);
  }
}
