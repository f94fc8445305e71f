import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeTempDir, removeTempDir, spawnTracked, stopChild } from './cleanup.js';
import { ROOT, serverLaunch, type Launch } from './paths.js';

/** A hark started as `npm start` starts it, in its own process, with its own DATA_DIR. */
export interface ChildServer {
  url: string;
  pid: number;
  dataDir: string;
  launch: Launch;
  /** From spawn until the port answered (the "hark listening" log line). */
  listeningMs: number;
  /** From spawn until GET /readyz first answered 200 (engines loaded). */
  readyMs: number;
  /** The last lines the server logged, for error messages. */
  logTail(): string;
  /** SIGTERM (graceful), SIGKILL after 5 s, then removes DATA_DIR. */
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Extra environment for the server (HOST, PORT and DATA_DIR are the bench's). */
  env?: Record<string, string>;
  timeoutMs?: number;
  /** How often /readyz is polled while engines load; bounds the cold-start error. */
  pollMs?: number;
}

function collectLines(stream: Readable | null, tail: string[], onLine?: (line: string) => void): void {
  if (stream === null) return;
  createInterface({ input: stream }).on('line', (line) => {
    tail.push(line);
    if (tail.length > 40) tail.shift();
    onLine?.(line);
  });
}

/** Starts `node dist/main.js` on 127.0.0.1 and a free port; resolves once /readyz says ready. */
export async function startChildServer(options: StartOptions = {}): Promise<ChildServer> {
  const { timeoutMs = 60_000, pollMs = 10 } = options;
  const launch = serverLaunch();
  const dataDir = makeTempDir('hark-bench-data-');
  const tail: string[] = [];
  const started = performance.now();
  const child = spawnTracked(launch.command, launch.args, {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'info', ...options.env, HOST: '127.0.0.1', PORT: '0', DATA_DIR: dataDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const pid = child.pid;
  const logTail = () => tail.join('\n');
  const stop = async () => {
    await stopChild(child);
    removeTempDir(dataDir);
  };

  try {
    if (pid === undefined) throw new Error(`could not start ${launch.command} ${launch.args.join(' ')}`);
    let exited: string | undefined;
    child.on('exit', (code, signal) => (exited = `exited with ${signal ?? `code ${code}`}`));
    let url: string | undefined;
    let listeningMs = 0;
    collectLines(child.stdout, tail, (line) => {
      if (url !== undefined || !line.startsWith('{')) return;
      const entry = JSON.parse(line) as { msg?: string; url?: string };
      if (entry.msg === 'hark listening' && entry.url !== undefined) {
        url = entry.url;
        listeningMs = performance.now() - started;
      }
    });
    collectLines(child.stderr, tail);

    const deadline = started + timeoutMs;
    const fail = (why: string) => new Error(`hark server ${why}; its last log lines:\n${logTail()}`);
    while (url === undefined) {
      if (exited !== undefined) throw fail(exited);
      if (performance.now() > deadline) throw fail(`did not listen within ${timeoutMs} ms`);
      await sleep(pollMs);
    }
    for (;;) {
      if (exited !== undefined) throw fail(exited);
      const res = await fetch(`${url}/readyz`);
      const body = (await res.json()) as { status?: string };
      if (res.status === 200) break;
      if (body.status === 'failed') throw fail(`failed to load its engines (${JSON.stringify(body)})`);
      if (performance.now() > deadline) throw fail(`was not ready within ${timeoutMs} ms`);
      await sleep(pollMs);
    }
    const readyMs = performance.now() - started;
    return { url, pid, dataDir, launch, listeningMs, readyMs, logTail, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
