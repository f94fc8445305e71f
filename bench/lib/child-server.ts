import { startChildServer as start, type ChildServer as Child, type ChildServerOptions } from '../../src/loadtest/child-server.js';
import { makeTempDir, removeTempDir, trackChild } from './cleanup.js';
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
  /** SIGTERM (graceful), SIGKILL to its process group after 5 s, then removes DATA_DIR. */
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Extra environment for the server (HOST, PORT and DATA_DIR are the bench's). */
  env?: Record<string, string>;
  timeoutMs?: number;
  /** How often /readyz is polled while engines load; bounds the cold-start error. */
  pollMs?: number;
}

/**
 * How a bench's server is started through the shared harness: `launch` (dist,
 * or tsx on the sources), the shell's settings (and .env, as `npm start` reads
 * it) under the bench's own, and the child registered for the Ctrl-C cleanup.
 */
export function benchServerOptions(launch: Launch = serverLaunch()): ChildServerOptions & { env: Record<string, string> } {
  return {
    command: launch.command,
    args: launch.args,
    cwd: ROOT,
    baseEnv: process.env,
    env: { LOG_LEVEL: 'info', ENV_FILE: process.env['ENV_FILE'] ?? '.env' },
    onSpawn: trackChild,
  };
}

/**
 * Starts `node dist/main.js` (tsx on the sources when there is no build) on
 * 127.0.0.1 and a free port, through the shared harness (src/loadtest/child-server.ts);
 * resolves once /readyz says ready. The child and its DATA_DIR are registered
 * for the bench's Ctrl-C cleanup.
 */
export async function startChildServer(options: StartOptions = {}): Promise<ChildServer> {
  const launch = serverLaunch();
  const dataDir = makeTempDir('hark-bench-data-');
  let child: Child;
  try {
    const base = benchServerOptions(launch);
    child = await start({
      ...base,
      env: { ...base.env, ...options.env },
      dataDir,
      timeoutMs: options.timeoutMs ?? 60_000,
      pollMs: options.pollMs ?? 10,
      maxLogLines: 40,
    });
  } catch (err) {
    removeTempDir(dataDir);
    throw err;
  }
  return {
    url: child.url,
    pid: child.pid,
    dataDir,
    launch,
    listeningMs: child.listeningMs,
    readyMs: child.readyMs,
    logTail: () => child.logTail(),
    stop: async () => {
      await child.stop();
      removeTempDir(dataDir);
    },
  };
}
