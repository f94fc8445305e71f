import { readFileSync } from 'node:fs';
import { processTree, readCpuSeconds } from './proc.js';

/*
 * Whole-process-tree and whole-machine figures from /proc, for benches of the
 * worker pool: the server's own CPU no longer holds the decode (a live worker's
 * CPU only reaches the server's cutime once the worker has exited), and on a
 * shared machine the share of the cores other work took says how far a
 * wall-clock figure can be trusted.
 */

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ESRCH') return undefined;
    throw err;
  }
}

/**
 * CPU seconds (user + system) of a process and every live descendant, with the
 * descendants already reaped (ffmpeg runs, retired workers) through cutime.
 * Differences of two readings are what the tree spent in between.
 */
export function treeCpuSeconds(pid: number): number {
  return processTree(pid).reduce((n, p) => n + (readCpuSeconds(p) ?? 0), 0);
}

/** True when /proc/<pid>/cmdline is a hark pool worker (src/pool/worker-entry). */
export function isWorkerProcess(pid: number): boolean {
  return readText(`/proc/${pid}/cmdline`)?.includes('worker-entry') ?? false;
}

/** Live pool workers under a server (its forked children running worker-entry). */
export function workerPids(serverPid: number): number[] {
  return processTree(serverPid).filter((p) => p !== serverPid && isWorkerProcess(p));
}

/** Machine-wide CPU jiffies from the first line of /proc/stat. */
export interface SystemCpu {
  /** Jiffies not idle and not waiting for I/O, all cores together. */
  busy: number;
  total: number;
}

export function readSystemCpu(): SystemCpu {
  const line = readText('/proc/stat')?.split('\n')[0] ?? '';
  // cpu user nice system idle iowait irq softirq steal (guest time is already in user)
  const f = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = f.reduce((a, b) => a + (Number.isFinite(b) ? b : 0), 0);
  const idle = (f[3] ?? 0) + (f[4] ?? 0);
  return { busy: total - idle, total };
}

/** Cores kept busy between two readings, by every process on the machine (0..cores). */
export function busyCores(before: SystemCpu, after: SystemCpu, cores: number): number {
  const total = after.total - before.total;
  return total <= 0 ? NaN : ((after.busy - before.busy) / total) * cores;
}

/** MemAvailable from /proc/meminfo, in bytes: what the machine can still give without swapping. */
export function memAvailableBytes(): number {
  const kb = /^MemAvailable:\s+(\d+) kB/m.exec(readText('/proc/meminfo') ?? '')?.[1];
  return kb === undefined ? NaN : Number(kb) * 1024;
}
