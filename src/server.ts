import { join, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { TempDir } from './audio/index.js';
import type { Config } from './config/index.js';
import { InProcessExecutor } from './executors/index.js';
import { buildApp, type Readiness } from './http/index.js';
import type { Logger } from './logger.js';
import { TranscriptionService } from './transcription/index.js';

export interface RunningServer {
  app: FastifyInstance;
  /** e.g. http://127.0.0.1:8000 */
  url: string;
  readiness: Readiness;
  /** Resolves when engines are loaded (or rejects if they failed). */
  ready: Promise<void>;
  /** Stops accepting, lets running requests finish, unloads engines. */
  close(): Promise<void>;
}

/**
 * Composition root: config -> temp space -> executors -> service -> HTTP.
 * The port opens at once (so /healthz answers and /readyz says "starting");
 * engines load behind it.
 */
export async function startServer(config: Config, logger: Logger): Promise<RunningServer> {
  const dataDir = resolve(config.DATA_DIR);
  const temp = new TempDir(join(dataDir, 'tmp'));
  await temp.init();

  const executors = [
    new InProcessExecutor({ config, logger: logger.child({ component: 'in-process' }), engines: [config.ENGINE], concurrency: config.IN_PROCESS_CONCURRENCY }),
  ];
  const service = new TranscriptionService(config, temp, executors);
  const readiness: Readiness = { state: 'starting', engines: [], isolationModes: service.isolationModes() };
  const app = await buildApp({ config, service, temp, readiness }, logger);
  await app.listen({ host: config.HOST, port: config.PORT });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.PORT;
  const host = config.HOST.includes(':') ? `[${config.HOST}]` : config.HOST;
  const url = `http://${host}:${port}`;
  logger.info({ url, dataDir, engine: config.ENGINE, inProcessConcurrency: config.IN_PROCESS_CONCURRENCY }, 'hark listening');

  const started = performance.now();
  const ready = service.start().then(
    () => {
      readiness.state = 'ready';
      readiness.engines = [{ name: config.ENGINE, version: '5prealpha', model: config.POCKETSPHINX_MODEL_DIR, loadMs: Math.round(performance.now() - started) }];
      logger.info({ ms: Math.round(performance.now() - started) }, 'engines ready');
    },
    (err: unknown) => {
      readiness.state = 'failed';
      readiness.error = err instanceof Error ? err.message : String(err);
      logger.error({ err }, 'engines failed to load');
      throw err;
    },
  );
  // The failure is reported through /readyz and the log; callers may await `ready`.
  ready.catch(() => undefined);

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      readiness.state = 'stopping';
      await app.close();
      await ready.catch(() => undefined);
      await service.close();
    })());
  return { app, url, readiness, ready, close };
}
