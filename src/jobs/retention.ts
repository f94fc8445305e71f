import { rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from '../logger.js';
import type { JobStore } from '../store/index.js';

/** Deletes finished jobs, their audio and logs JOB_CLEANUP_MAX_AGE_HOURS after they finish. */
export class Retention {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: JobStore,
    private readonly logger: Logger,
    private readonly maxAgeMs: number,
    private readonly everyMs = 10 * 60 * 1000,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.sweep().catch((err: unknown) => this.logger.error({ err }, 'retention sweep failed')), this.everyMs);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  async sweep(now = Date.now()): Promise<number> {
    let removed = 0;
    for (;;) {
      const batch = await this.store.finishedBefore(now - this.maxAgeMs, 100);
      if (batch.length === 0) return removed;
      for (const job of batch) {
        // The job's folder (its audio, when kept); the log lines go with the row.
        if (job.audioPath) await rm(dirname(job.audioPath), { recursive: true, force: true });
        await this.store.delete(job.id);
        removed++;
      }
      this.logger.info({ removed }, 'deleted expired jobs');
    }
  }
}
