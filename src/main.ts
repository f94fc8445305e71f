import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { ConfigError, loadConfig } from './config/index.js';
import type { Config } from './config/index.js';
import { createLogger, isPretty, type Logger } from './logger.js';
import { startServer } from './server.js';

/**
 * `npm start` / `hark serve`: parse config once, start, stop cleanly on
 * SIGTERM/SIGINT. An invalid setting stops start-up with one line per problem.
 */
export async function main(env: Record<string, string | undefined> = process.env): Promise<void> {
  let config;
  try {
    config = loadConfig({ env, envFile: env['ENV_FILE'] ?? '.env' });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`hark: ${err.message.split('\n').join('\nhark: ')}\n`);
      process.exit(2);
    }
    throw err;
  }
  // Each in-process decode holds a libuv thread; leave room for file I/O and DNS.
  process.env['UV_THREADPOOL_SIZE'] ??= String(Math.max(4, config.IN_PROCESS_CONCURRENCY + 2));
  const logger = createLogger(config.LOG_LEVEL, undefined, isPretty(config.LOG_FORMAT, process.stdout.isTTY));
  const server = await startServer(config, logger);
  announce(config, server.url, logger);
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    server.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

/** A wildcard listen address is not a URL a browser can open; the machine itself answers on loopback. */
function browsable(url: string): string {
  return url.replace(/^http:\/\/(0\.0\.0\.0|\[::\])(?=:)/, 'http://127.0.0.1');
}

/**
 * The page and the API docs, as the first lines once the server listens (a
 * person running `make run` looks for where to go; JSON readers get them as
 * log messages). A `worker` instance serves neither.
 */
function announce(config: Config, url: string, logger: Logger): void {
  if (config.ROLE === 'worker') return;
  const base = browsable(url);
  logger.info(`web page: ${base}/`);
  if (config.ENABLE_DOCS) logger.info(`API docs: ${base}/docs`);
}

/** True when this module is the program being run (`node dist/main.js`), also through symlinks or odd paths. */
function isEntryPoint(): boolean {
  const argv1 = process.argv[1];
  if (argv1 === undefined) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(argv1)).href;
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  main().catch((err: unknown) => {
    process.stderr.write(`hark: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
