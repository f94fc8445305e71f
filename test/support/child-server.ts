import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { freePort } from './net.js';

const MAIN = fileURLToPath(new URL('../../dist/main.js', import.meta.url));

export interface ChildServer {
  child: ChildProcess;
  pid: number;
  url: string;
  dataDir: string;
  /** Log lines (JSON) printed so far. */
  logs: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(): Promise<void>;
}

/** hark as users run it (`node dist/main.js`), on 127.0.0.1 and a free port, in its own DATA_DIR. */
export async function spawnServer(env: Record<string, string> = {}, opts: { waitReady?: boolean } = {}): Promise<ChildServer> {
  if (!existsSync(MAIN)) throw new Error('dist/ is missing: run `make test` (it builds first)');
  const dataDir = await mkdtemp(join(tmpdir(), 'hark-child-'));
  const port = await freePort();
  const child = spawn(process.execPath, [MAIN], {
    env: { PATH: process.env['PATH'] ?? '', HOST: '127.0.0.1', PORT: String(port), DATA_DIR: dataDir, LOG_LEVEL: 'info', ENV_FILE: '/nonexistent', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const url = `http://127.0.0.1:${port}`;
  createInterface({ input: child.stderr! }).on('line', (l) => logs.push(l));
  createInterface({ input: child.stdout! }).on('line', (l) => logs.push(l));
  try {
    await Promise.race([
      waitFor(async () => (await fetch(`${url}/healthz`)).ok, 20_000, 50),
      exited.then(() => {
        throw new Error(`server exited: ${logs.join('\n')}`);
      }),
    ]);
    if (opts.waitReady !== false) await waitFor(async () => (await fetch(`${url}/readyz`)).status === 200, 30_000);
  } catch (err) {
    // Never leave a half-started server (and its workers) behind a failed test.
    child.kill('SIGKILL');
    await exited;
    await rm(dataDir, { recursive: true, force: true });
    throw err;
  }
  return {
    child,
    pid: child.pid!,
    url,
    dataDir,
    logs,
    exited,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}


export async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs = 10_000, stepMs = 100): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not yet
    }
    if (Date.now() > end) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
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
