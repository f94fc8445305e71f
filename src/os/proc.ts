import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';

/**
 * Reading processes from /proc (Linux). RSS is what the kernel charges the
 * process, native allocations included, unlike the JS heap.
 */
export function readRssBytes(pid: number): number | undefined {
  // Synchronous on purpose: a /proc file is generated in memory in microseconds,
  // while an async read queues behind in-process decodes on the libuv pool.
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined; // the process is gone
  }
}

/**
 * Start time of a live process in clock ticks since boot (field 22 of /proc/pid/stat): tells a reused pid from ours.
 * Undefined once it has exited, also while it is a zombie (dead, not yet reaped by its parent, still in /proc):
 * a server killed -9 is one until its parent waits for it, and must count as gone to orphan recovery then.
 */
export async function readStartTime(pid: number): Promise<number | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: parse after its last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z' || fields[0] === 'X') return undefined; // state: zombie, or dead
    const v = Number(fields[19]);
    return Number.isFinite(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

/** Kills a whole process group (a worker and anything it started), ignoring one already gone. */
export function killGroup(pgid: number, signal: NodeJS.Signals = 'SIGKILL'): void {
  try {
    process.kill(-pgid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}
