import type { Config } from '../config/index.js';
import type { EndReason } from './worker-process.js';

/**
 * The pool's decisions that need no process: when a worker is due for
 * replacement, how its end is counted, and how long a slot waits before it
 * respawns. Pure, so each rule is tested alone (recycle-policy.test.ts);
 * pool.ts applies them to live workers.
 */

export type RecycleReason = 'tasks' | 'rss' | 'timeout' | 'crash' | 'cancel';

/** Counts since the pool started (/debug/pool, metrics). */
export interface PoolTotals {
  spawned: number;
  recycled: Record<RecycleReason, number>;
  crashed: number;
  timedOut: number;
  startupFailures: number;
}

/** Totals of a pool that has done nothing yet. */
export function emptyTotals(): PoolTotals {
  return { spawned: 0, recycled: { tasks: 0, rss: 0, timeout: 0, crash: 0, cancel: 0 }, crashed: 0, timedOut: 0, startupFailures: 0 };
}

/** First respawn delay after a failure; it doubles with each consecutive failure. */
export const BACKOFF_BASE_MS = 250;

/**
 * Counts a worker's end in `totals`. Returns whether the pool planned it
 * (a recycle or shutdown: no warning logged); a crash, timeout, cancel or
 * failed start is unplanned.
 */
export function countExit(totals: PoolTotals, reason: EndReason): boolean {
  switch (reason) {
    case 'crash':
      totals.crashed++;
      totals.recycled.crash++;
      return false;
    case 'timeout':
      totals.timedOut++;
      totals.recycled.timeout++;
      return false;
    case 'cancel':
      totals.recycled.cancel++;
      return false;
    case 'startup-failed':
      totals.startupFailures++;
      return false;
    case 'tasks':
    case 'rss':
    case 'shutdown':
      return true;
  }
}

/**
 * Whether a worker that just finished a task is due for replacement: past
 * WORKER_MAX_RSS_MB first (it must take no more work), else at
 * MAX_TASKS_PER_WORKER; undefined while it may keep serving.
 */
export function recycleDue(
  worker: { rssBytes: number | undefined; tasksDone: number },
  config: Pick<Config, 'MAX_TASKS_PER_WORKER' | 'WORKER_MAX_RSS_MB'>,
): RecycleReason | undefined {
  if (worker.rssBytes !== undefined && worker.rssBytes > config.WORKER_MAX_RSS_MB * 1024 * 1024) return 'rss';
  if (worker.tasksDone >= config.MAX_TASKS_PER_WORKER) return 'tasks';
  return undefined;
}

/**
 * Wait before respawning a slot: none after a planned end (failures 0), then
 * 250 ms, 500 ms, 1 s, ... doubling per consecutive failure up to `capMs`,
 * so a worker that cannot start never spins in a hot loop.
 */
export function respawnDelayMs(failures: number, capMs: number): number {
  return failures === 0 ? 0 : Math.min(capMs, BACKOFF_BASE_MS * 2 ** (failures - 1));
}
