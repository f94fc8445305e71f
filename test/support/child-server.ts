import { readdirSync, readFileSync } from 'node:fs';
import { startChildServer, type ChildServer } from '../../src/loadtest/child-server.js';

export { MAIN_JS, startChildServer, waitFor, type ChildServer } from '../../src/loadtest/child-server.js';

/**
 * hark as users run it (`node dist/main.js`), on 127.0.0.1 and a free port, in
 * its own DATA_DIR (removed by stop()). `waitReady: false` waits only until it
 * listens (a test of a server whose engines cannot load).
 */
export function spawnServer(env: Record<string, string> = {}, opts: { waitReady?: boolean } = {}): Promise<ChildServer> {
  return startChildServer({ env, waitFor: opts.waitReady === false ? 'listening' : 'ready', maxLogLines: Infinity });
}

/** Pids of the live children of `pid` (from /proc). */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // field 3 is the state (Z = zombie, already dead), field 4 the parent pid
      if (Number(fields[1]) === pid && fields[0] !== 'Z') out.push(Number(entry));
    } catch {
      // gone
    }
  }
  return out;
}

export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}
