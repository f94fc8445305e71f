import { readdir, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Logger } from '../logger.js';
import type { JobStore } from '../store/index.js';

/**
 * A job folder with no job row older than this is an orphan: a server killed
 * between moving the upload in and storing the row. Well past any submit.
 */
const ORPHAN_FOLDER_MS = 60 * 60 * 1000;

/**
 * Deletes finished jobs, their audio and logs JOB_CLEANUP_MAX_AGE_HOURS after they
 * finish, and job folders that no job owns (see ORPHAN_FOLDER_MS).
 */
export class Retention {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: JobStore,
    private readonly logger: Logger,
    private readonly maxAgeMs: number,
    /** DATA_DIR/jobs: one folder per job, named by its id. */
    private readonly jobsDir: string,
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
    await this.sweepOrphanFolders(now);
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

  /** Removes job folders older than ORPHAN_FOLDER_MS that no job row owns; returns how many. */
  async sweepOrphanFolders(now = Date.now()): Promise<number> {
    const names = await readdir(this.jobsDir).catch(() => [] as string[]);
    const old: string[] = [];
    for (const name of names) {
      const info = await stat(join(this.jobsDir, name)).catch(() => undefined);
      if (info !== undefined && info.isDirectory() && now - info.mtimeMs >= ORPHAN_FOLDER_MS) old.push(name);
    }
    const owned = await this.store.existingJobIds(old);
    const orphans = old.filter((name) => !owned.has(name));
    for (const name of orphans) await rm(join(this.jobsDir, name), { recursive: true, force: true });
    if (orphans.length > 0) this.logger.warn({ removed: orphans.length }, 'removed job folders that no job owns (a server stopped mid-submit)');
    return orphans.length;
  }
}
