import type { PoolTotals } from './recycle-policy.js';
import type { WorkerProcess, WorkerState } from './worker-process.js';

/** One worker as /debug/pool and the web page show it. */
export interface WorkerView {
  slot: number;
  pid: number;
  state: WorkerState;
  tasksDone: number;
  rssBytes: number | undefined;
  uptimeSeconds: number;
  spawnToReadyMs: number | undefined;
  currentTask: { id: string; ageSeconds: number } | undefined;
}

/** A read-only view for /debug/pool, metrics and the web page. */
export interface PoolSnapshot {
  size: number;
  workers: WorkerView[];
  readyWorkers: number;
  busyWorkers: number;
  waitingTasks: number;
  degraded: boolean;
  totals: PoolTotals;
}

/** What a snapshot reads of a pool slot. */
export interface SlotWorkers {
  index: number;
  worker: WorkerProcess | undefined;
  /** A warm-up replacement, spawned before the current worker is retired. */
  replacement: WorkerProcess | undefined;
  /** Workers replaced but still finishing their last task: shown, and killed at shutdown, until they exit. */
  leaving: WorkerProcess[];
  /** Consecutive failures (start-up failures and crashes); sets the respawn backoff. */
  failures: number;
}

/** The pool as observers see it: a copy, so nothing they do steers the pool. */
export function snapshotOf(slots: readonly SlotWorkers[], waitingTasks: number, totals: PoolTotals, now = Date.now()): PoolSnapshot {
  const workers: WorkerView[] = [];
  for (const slot of slots) {
    for (const w of [slot.worker, slot.replacement, ...slot.leaving]) {
      if (w === undefined) continue;
      workers.push({
        slot: slot.index,
        pid: w.pid,
        state: w.state,
        tasksDone: w.tasksDone,
        rssBytes: w.rssBytes,
        uptimeSeconds: (now - w.spawnedAtMs) / 1000,
        spawnToReadyMs: w.readyMs,
        currentTask: w.currentTask(),
      });
    }
  }
  const ready = slots.filter((s) => s.worker !== undefined && s.worker.state !== 'starting' && s.worker.state !== 'dead');
  return {
    size: slots.length,
    workers,
    readyWorkers: ready.length,
    busyWorkers: workers.filter((w) => w.state === 'busy').length,
    waitingTasks,
    degraded: slots.some((s) => s.failures > 0 && (s.worker === undefined || s.worker.state === 'starting')),
    totals: structuredClone(totals),
  };
}
