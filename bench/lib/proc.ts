import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';

/*
 * Figures about a process from Linux's /proc: resident memory (VmRSS, VmHWM)
 * and CPU time. CPU seconds matter on a shared machine: wall time grows when
 * other work competes for the cores, CPU time much less.
 */

/** Resident memory of a process from /proc/<pid>/status, in bytes. */
export interface ProcMemory {
  /** VmRSS: resident now. */
  rss: number;
  /** VmHWM: the peak resident size since start (or since {@link resetPeak}). */
  hwm: number;
}

/** A /proc file of a process; undefined once the process is gone. */
function readProc(pid: number, file: string): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ESRCH') return undefined;
    throw err;
  }
}

/** Reads /proc/<pid>/status; undefined once the process is gone. */
export function readProcMemory(pid: number): ProcMemory | undefined {
  const status = readProc(pid, 'status');
  if (status === undefined) return undefined;
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

/**
 * Resets the process's VmHWM to its current RSS (Linux 4.0+: write 5 to
 * clear_refs), so a later VmHWM is the peak of one window, not of the process's life.
 * Returns false where that is not allowed; samples alone then give the peak.
 */
export function resetPeak(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

export interface PeakResult {
  /** Highest VmRSS seen, or the window's VmHWM when that could be reset (it catches spikes between samples). */
  peakBytes: number;
  /** Highest VmRSS among the samples. */
  sampledPeakBytes: number;
  /** VmRSS at the start of the window. */
  startBytes: number;
  samples: number;
  /** True when VmHWM was reset at the start, so `peakBytes` includes spikes shorter than the interval. */
  exact: boolean;
}

/**
 * Samples a process's resident memory every `intervalMs` over a window. Meant
 * for child processes: the sampler runs on the bench's event loop, which is
 * idle while it waits on the child.
 */
export class PeakSampler {
  private timer: NodeJS.Timeout | undefined;
  private max = 0;
  private count = 0;
  private readonly start: number;
  private readonly exact: boolean;

  constructor(
    private readonly pid: number,
    intervalMs = 100,
  ) {
    this.exact = resetPeak(pid);
    this.start = this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
  }

  private sample(): number {
    const m = readProcMemory(this.pid);
    if (m === undefined) return 0;
    this.count++;
    this.max = Math.max(this.max, m.rss);
    return m.rss;
  }

  stop(): PeakResult {
    clearInterval(this.timer);
    this.timer = undefined;
    const last = readProcMemory(this.pid);
    if (last !== undefined) this.max = Math.max(this.max, last.rss);
    const hwm = this.exact && last !== undefined ? last.hwm : 0;
    return { peakBytes: Math.max(this.max, hwm), sampledPeakBytes: this.max, startBytes: this.start, samples: this.count, exact: this.exact && last !== undefined };
  }
}

/** Bytes as MB (10^6), the unit the targets use. */
export function mb(bytes: number): number {
  return bytes / 1e6;
}

let clockTicks: number | undefined;

function ticksPerSecond(): number {
  clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  return clockTicks;
}

/** The fields of /proc/<pid>/stat after the command name (which may itself hold spaces). */
function statFields(pid: number): string[] | undefined {
  const stat = readProc(pid, 'stat');
  return stat?.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/**
 * CPU seconds (user + system) a process has used, including children it has
 * waited for (hark's ffmpeg and ffprobe runs). 10 ms resolution.
 */
export function readCpuSeconds(pid: number): number | undefined {
  const f = statFields(pid);
  if (f === undefined) return undefined;
  // After the name: state ppid ... utime(11) stime(12) cutime(13) cstime(14).
  const ticks = [11, 12, 13, 14].reduce((n, i) => n + Number(f[i] ?? 0), 0);
  return ticks / ticksPerSecond();
}

/** A process and all its descendants (e.g. a server and its worker pool), by scanning /proc. */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const ppid = Number(statFields(Number(name))?.[1]);
    if (!Number.isFinite(ppid)) continue;
    children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
  }
  const tree: number[] = [];
  for (const queue = [pid]; queue.length > 0; ) {
    const p = queue.shift()!;
    tree.push(p);
    queue.push(...(children.get(p) ?? []));
  }
  return tree;
}

/** Summed VmRSS of a process tree (shared pages count once per process, as `ps` shows them). */
export function treeRss(pid: number): { bytes: number; processes: number } {
  const tree = processTree(pid);
  return { bytes: tree.reduce((n, p) => n + (readProcMemory(p)?.rss ?? 0), 0), processes: tree.length };
}
