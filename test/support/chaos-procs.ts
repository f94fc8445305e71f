import { readdirSync, readFileSync } from 'node:fs';

interface ProcStat {
  pid: number;
  ppid: number;
  sid: number;
  /** Clock ticks since boot: with the pid, names one process even after the pid is reused. */
  startTime: number;
  zombie: boolean;
  comm: string;
}

function readStat(pid: number): ProcStat | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    // After the command name: state ppid pgrp session ... (field 22, index 19 here, is the start time)
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { pid, ppid: Number(f[1]), sid: Number(f[3]), startTime: Number(f[19]), zombie: f[0] === 'Z', comm };
  } catch {
    return undefined; // gone
  }
}

function allProcesses(): ProcStat[] {
  const out: ProcStat[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const s = readStat(Number(entry));
    if (s !== undefined && !s.zombie) out.push(s);
  }
  return out;
}

/** A process seen as part of a hark server, named by pid and start time. */
export interface SeenProcess {
  pid: number;
  startTime: number;
  comm: string;
  /** Which server it belonged to (1 = before the restart). */
  server: number;
}

/**
 * Remembers every process that was ever part of a hark server: its
 * descendants, and anything in a worker's session (workers are spawned
 * detached, each leading its own session, so what a worker starts stays in it
 * even once reparented to init). At the end, `survivors()` lists those still
 * alive: the same pid with the same start time, so a reused pid is no false alarm.
 */
export class ProcessWatch {
  private readonly seen = new Map<string, SeenProcess>();
  /** Worker sessions: session id (the worker's pid) -> the worker's start time. */
  private readonly sessions = new Map<number, number>();
  private timer: NodeJS.Timeout | undefined;
  private servers: { pid: number; index: number }[] = [];

  /** Watches `pid` (server number `index`) from now on, sampling every `everyMs`. */
  watch(pid: number, index: number, everyMs = 250): void {
    this.servers.push({ pid, index });
    this.scan();
    this.timer ??= setInterval(() => this.scan(), everyMs);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  scan(): void {
    const procs = allProcesses();
    const children = new Map<number, ProcStat[]>();
    for (const p of procs) {
      const list = children.get(p.ppid) ?? [];
      list.push(p);
      children.set(p.ppid, list);
    }
    for (const { pid, index } of this.servers) {
      const stack = [...(children.get(pid) ?? [])];
      while (stack.length > 0) {
        const p = stack.pop()!;
        this.remember(p, index);
        // A direct child leading its own session is a worker (the server itself shares the test's session).
        if (p.ppid === pid && p.sid === p.pid) this.sessions.set(p.sid, p.startTime);
        stack.push(...(children.get(p.pid) ?? []));
      }
    }
    const live = new Map(procs.map((p) => [p.pid, p]));
    for (const p of procs) {
      if (this.inWorkerSession(p, live) && !this.seen.has(`${p.pid}:${p.startTime}`)) this.remember(p, 0);
    }
  }

  /**
   * In a session a worker started. A session whose leader's pid now names another
   * process is that process's own (the pid was reused), not a worker's.
   */
  private inWorkerSession(p: ProcStat, live: Map<number, ProcStat>): boolean {
    const leaderStart = this.sessions.get(p.sid);
    if (leaderStart === undefined) return false;
    const leader = live.get(p.sid);
    return leader === undefined || leader.startTime === leaderStart;
  }

  private remember(p: ProcStat, server: number): void {
    const key = `${p.pid}:${p.startTime}`;
    if (!this.seen.has(key)) this.seen.set(key, { pid: p.pid, startTime: p.startTime, comm: p.comm, server });
  }

  all(): SeenProcess[] {
    return [...this.seen.values()];
  }

  /** Worker sessions seen (one per worker process ever started). */
  workerCount(): number {
    return this.sessions.size;
  }

  /** Seen processes still alive now (same pid and start time, not a zombie), and live members of a worker session. */
  survivors(): SeenProcess[] {
    const live = new Map(allProcesses().map((p) => [p.pid, p]));
    const out = this.all().filter((s) => live.get(s.pid)?.startTime === s.startTime);
    for (const p of live.values()) {
      if (this.inWorkerSession(p, live) && !out.some((s) => s.pid === p.pid)) out.push({ pid: p.pid, startTime: p.startTime, comm: p.comm, server: 0 });
    }
    return out;
  }
}
