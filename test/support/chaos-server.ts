import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { waitFor } from './child-server.js';

const MAIN = fileURLToPath(new URL('../../dist/main.js', import.meta.url));

/** One `node dist/main.js` on a port and DATA_DIR chosen by the caller (a restart reuses both). */
export interface HarkProcess {
  child: ChildProcess;
  pid: number;
  url: string;
  logs: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends `signal` unless the process has already exited. */
  signal(signal: NodeJS.Signals): void;
}

/**
 * Starts hark as users run it, like child-server.ts's spawnServer, but on a
 * given port and DATA_DIR: the chaos test restarts the server where its clients
 * already point, on the same database. Resolves once /readyz answers 200.
 */
export async function spawnHark(port: number, dataDir: string, env: Record<string, string>): Promise<HarkProcess> {
  if (!existsSync(MAIN)) throw new Error('dist/ is missing: run `npm run build:ts` first');
  const child = spawn(process.execPath, [MAIN], {
    env: { PATH: process.env['PATH'] ?? '', HOST: '127.0.0.1', PORT: String(port), DATA_DIR: dataDir, LOG_LEVEL: 'info', ENV_FILE: '/nonexistent', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (l) => logs.push(l));
  createInterface({ input: child.stdout! }).on('line', (l) => logs.push(l));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const url = `http://127.0.0.1:${port}`;
  const proc: HarkProcess = {
    child,
    pid: child.pid!,
    url,
    logs,
    exited,
    signal: (signal) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
  };
  try {
    await Promise.race([
      waitFor(async () => (await fetch(`${url}/readyz`)).status === 200, 60_000, 50),
      exited.then(() => {
        throw new Error(`hark exited during start-up:\n${logs.slice(-20).join('\n')}`);
      }),
    ]);
  } catch (err) {
    proc.signal('SIGKILL');
    await exited;
    throw err;
  }
  return proc;
}
