import { readdirSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';

/**
 * Workers decode at a lower CPU priority than the server (WORKER_NICE), so
 * that while every core decodes the server's event loop still gets the CPU
 * first: accepting a job, answering a scrape or a health probe costs
 * milliseconds, and a decode hardly notices them.
 */

/** The nice value for a worker: WORKER_NICE steps below the server's own, 19 (the lowest) at most. */
export function workerNiceValue(workerNice: number, serverNice = getPriority()): number {
  return Math.min(19, serverNice + workerNice);
}

/**
 * Lowers a freshly forked worker to `nice`. Called at once after fork, so the
 * worker's start-up (engine load) already runs below the server. Lowering a
 * priority needs no privilege; a worker already gone is left to its exit handler.
 */
export function lowerWorkerPriority(pid: number, nice: number): void {
  try {
    if (getPriority(pid) < nice) setPriority(pid, nice);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

/**
 * In the worker: gives every thread of this process its main thread's nice
 * value. Linux keeps a nice value per thread and the server's setpriority
 * reaches the main thread only, while Node may already have started its own
 * threads (V8's platform workers) by then; threads started later, and child
 * processes, inherit the main thread's value by themselves.
 */
export function alignThreadPriorities(): void {
  if (process.platform !== 'linux') return;
  const nice = getPriority();
  let tids: string[];
  try {
    tids = readdirSync('/proc/self/task');
  } catch {
    return; // no /proc: nothing to align
  }
  for (const tid of tids.map(Number)) {
    try {
      if (getPriority(tid) < nice) setPriority(tid, nice);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err; // a thread that just ended
    }
  }
}
