import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

/*
 * hark as users run it (`node dist/main.js`), in a child process: the one
 * harness behind `hark demo leak`, the benches (bench/lib) and the tests
 * (test/support). It lives in src/ because the shipped demo cannot import test/.
 */

/** The built service, as `npm start` runs it. */
export const MAIN_JS = fileURLToPath(new URL('../../dist/main.js', import.meta.url));

/** How the child exited. */
export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ChildServerOptions {
  /** Settings on top of the harness's own (HOST, PORT, DATA_DIR, LOG_LEVEL=info, no .env file). */
  env?: Record<string, string | undefined>;
  /** The environment under everything (default: PATH only, so the caller's shell does not leak in). */
  baseEnv?: Record<string, string | undefined>;
  /** Default: a port free right now on 127.0.0.1. A restart passes the port its clients already use. */
  port?: number;
  /** Default: `env.DATA_DIR`, else a fresh temp folder removed by stop(). A given folder is the caller's to remove. */
  dataDir?: string;
  /** Temp folder name prefix (default `hark-child-`). */
  dataDirPrefix?: string;
  /** Default `node dist/main.js`; the benches run the sources through tsx when there is no build. */
  command?: string;
  args?: readonly string[];
  cwd?: string;
  /** `ready` (default): GET /readyz answers 200; `listening`: GET /healthz answers; `none`: do not wait. */
  waitFor?: 'ready' | 'listening' | 'none';
  /** Start-up deadline (default 60 s). */
  timeoutMs?: number;
  /** Interval between probes (default 50 ms); it bounds the error of readyMs. */
  pollMs?: number;
  /** Log lines kept (default 2000; the last ones). */
  maxLogLines?: number;
  /** Called with every log line, stdout and stderr. */
  onLine?: (line: string) => void;
  /** Called right after spawn (a bench registers the child for its Ctrl-C cleanup). */
  onSpawn?: (child: ChildProcess) => void;
}

export interface ChildServer {
  child: ChildProcess;
  pid: number;
  port: number;
  url: string;
  dataDir: string;
  /** The last log lines (JSON), stdout and stderr interleaved. */
  logs: string[];
  /** The last `n` log lines as one string, for error messages. */
  logTail(n?: number): string;
  exited: Promise<ChildExit>;
  /** From spawn until the "hark listening" line (NaN if the log level hides it). */
  listeningMs: number;
  /** From spawn until the wait asked for held (GET /readyz first 200 by default). */
  readyMs: number;
  /** Sends `signal` to the server alone, unless it has exited. */
  signal(signal: NodeJS.Signals): void;
  /**
   * SIGTERM to the server (it shuts down its own workers), SIGKILL to its whole
   * process group after `graceMs` (default 5 s) or at once with `graceMs: 0`;
   * then removes DATA_DIR if the harness made it.
   */
  stop(opts?: { graceMs?: number }): Promise<void>;
}

/** A TCP port free on 127.0.0.1 right now (for servers that must be told their port). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no free port'))));
    });
  });
}

/** Polls `check` until it returns true; a throw counts as "not yet". Throws after `timeoutMs`. */
export async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs = 10_000, stepMs = 100): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not yet
    }
    if (Date.now() > end) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(stepMs);
  }
}

/** Sends `signal` to the process group `pid` leads; a group already gone is what was wanted. */
function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

/*
 * A child leads its own process group, so a terminal's Ctrl-C no longer reaches
 * it: every live child is killed (with its group), and the DATA_DIR made for
 * it removed, when this process exits or is ended by SIGINT, SIGTERM or
 * SIGHUP, so no server outlives whoever started it.
 */
const live = new Map<ChildProcess, string | undefined>();
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

function killAll(): void {
  for (const [child, ownDataDir] of live) {
    killGroup(child.pid, 'SIGKILL');
    if (ownDataDir !== undefined) rmSync(ownDataDir, { recursive: true, force: true });
  }
  live.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  killAll();
  unwatch();
  // Where nobody else handles the signal, end as it would have ended us.
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

function watch(child: ChildProcess, ownDataDir: string | undefined): void {
  if (live.size === 0) {
    process.on('exit', killAll);
    for (const signal of SIGNALS) process.on(signal, onSignal);
  }
  live.set(child, ownDataDir);
  child.once('exit', () => {
    live.delete(child);
    if (live.size === 0) unwatch();
  });
}

function unwatch(): void {
  process.off('exit', killAll);
  for (const signal of SIGNALS) process.off(signal, onSignal);
}

function running(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

function collect(stream: Readable | null, logs: string[], max: number, onLine: (line: string) => void): void {
  if (stream === null) return;
  createInterface({ input: stream }).on('line', (line) => {
    logs.push(line);
    if (logs.length > max) logs.shift();
    onLine(line);
  });
}

/** One probe, bounded so that a server that accepts but never answers cannot hang the wait. */
async function probe(url: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, body };
}

/**
 * Starts hark in a child process leading its own process group (so its
 * workers and ffmpeg go with it), on 127.0.0.1, and waits until it is ready:
 * GET /readyz polled until 200, to a deadline, failing at once if the server
 * exits or reports its engines failed. A failed start leaves nothing running.
 */
export async function startChildServer(o: ChildServerOptions = {}): Promise<ChildServer> {
  const { timeoutMs = 60_000, pollMs = 50, maxLogLines = 2000, waitFor: until = 'ready' } = o;
  const command = o.command ?? process.execPath;
  const args = o.args ?? [MAIN_JS];
  if (o.command === undefined && o.args === undefined && !existsSync(MAIN_JS)) throw new Error(`${MAIN_JS} is missing: build first (npm run build:ts)`);
  // A DATA_DIR in `env` counts as given: a restart on the same database passes it there.
  const given = o.dataDir ?? o.env?.['DATA_DIR'];
  const ownDataDir = given === undefined;
  const dataDir = given ?? (await mkdtemp(join(tmpdir(), o.dataDirPrefix ?? 'hark-child-')));
  const port = o.port ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  const started = performance.now();
  const child = spawn(command, args, {
    cwd: o.cwd,
    env: {
      ...(o.baseEnv ?? { PATH: process.env['PATH'] ?? '' }),
      LOG_LEVEL: 'info',
      ENV_FILE: '/nonexistent',
      ...o.env,
      HOST: '127.0.0.1',
      PORT: String(port),
      DATA_DIR: dataDir,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  watch(child, ownDataDir ? dataDir : undefined);
  o.onSpawn?.(child);
  const exited = new Promise<ChildExit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const logs: string[] = [];
  let listeningMs = NaN;
  const onLine = (line: string) => {
    if (Number.isNaN(listeningMs) && line.includes('"hark listening"')) listeningMs = performance.now() - started;
    o.onLine?.(line);
  };
  collect(child.stdout, logs, maxLogLines, onLine);
  collect(child.stderr, logs, maxLogLines, onLine);
  const logTail = (n = 40) => logs.slice(-n).join('\n');

  const stop = async ({ graceMs = 5000 }: { graceMs?: number } = {}) => {
    if (running(child)) {
      if (graceMs > 0) child.kill('SIGTERM');
      else killGroup(child.pid, 'SIGKILL');
      const timer = setTimeout(() => killGroup(child.pid, 'SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    }
    // Grandchildren still running (a worker, an ffmpeg) go with the group.
    killGroup(child.pid, 'SIGKILL');
    if (ownDataDir) await rm(dataDir, { recursive: true, force: true });
  };

  try {
    if (child.pid === undefined) throw new Error(`could not start ${command} ${args.join(' ')}`);
    const deadline = started + timeoutMs;
    const fail = (why: string) => new Error(`hark ${why}; its last log lines:\n${logTail()}`);
    while (until !== 'none') {
      if (!running(child)) throw fail(`exited during start-up (${child.signalCode ?? `code ${child.exitCode}`})`);
      const answer = await probe(`${url}${until === 'ready' ? '/readyz' : '/healthz'}`).catch(() => undefined);
      if (answer !== undefined) {
        if (until === 'listening' || answer.status === 200) break;
        const status = (answer.body as { status?: unknown } | null)?.status;
        if (status === 'failed') throw fail(`failed to load its engines (${JSON.stringify(answer.body)})`);
      }
      if (performance.now() > deadline) throw fail(`was not ${until} within ${timeoutMs} ms`);
      // The exit is awaited too, so a crash is reported at once rather than at the next probe.
      await Promise.race([sleep(pollMs), exited]);
    }
  } catch (err) {
    // Never leave a half-started server (and its workers) behind.
    await stop({ graceMs: 0 });
    throw err;
  }
  return {
    child,
    pid: child.pid,
    port,
    url,
    dataDir,
    logs,
    logTail,
    exited,
    listeningMs,
    readyMs: performance.now() - started,
    signal: (signal) => {
      if (running(child)) child.kill(signal);
    },
    stop,
  };
}
