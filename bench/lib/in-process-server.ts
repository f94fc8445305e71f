import { Writable } from 'node:stream';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/logger.js';
import { startServer } from '../../src/server.js';
import { makeTempDir, removeTempDir } from './cleanup.js';
import { ROOT } from './paths.js';

export interface InProcessServer {
  url: string;
  stop(): Promise<void>;
}

/** Discards log lines, but only after pino has built them: the server pays what it pays in production. */
const nowhere = new Writable({ write: (_chunk, _encoding, done) => done() });

/**
 * The real service (`startServer`) inside the bench process, on 127.0.0.1 and a
 * free port, with a temp DATA_DIR and engines loaded. Settings come from the
 * environment and .env like `npm start`, then `env`.
 */
export async function startInProcessServer(env: Record<string, string>): Promise<InProcessServer> {
  const dataDir = makeTempDir('hark-bench-data-');
  const config = loadConfig({
    env: { ...process.env, LOG_LEVEL: 'info', ...env, HOST: '127.0.0.1', PORT: '0', DATA_DIR: dataDir },
    envFile: join(ROOT, '.env'),
  });
  const server = await startServer(config, createLogger(config.LOG_LEVEL, nowhere));
  const stop = async () => {
    await server.close();
    removeTempDir(dataDir);
  };
  try {
    await server.ready;
  } catch (err) {
    await stop();
    throw err;
  }
  return { url: server.url, stop };
}
