import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { processScratchDir } from './os/index.js';
import type { Config } from './config/index.js';
import { InProcessExecutor, PoolExecutor, type Executor } from './executors/index.js';
import { UsageMeter } from './auth/usage.js';
import { openJobs, type Jobs } from './jobs/index.js';
import { Metrics } from './metrics/index.js';
import { ModelRegistry } from './models/index.js';
import { MemoryHistory } from './metrics/memory-history.js';
import { buildApp, type Readiness } from './http/index.js';
import type { Logger } from './logger.js';
import { WorkerPool } from './pool/index.js';
import { readStartTime } from './os/index.js';
import { openStore } from './store/index.js';
import { TranscriptionService } from './transcription/index.js';

export interface RunningServer {
  app: FastifyInstance;
  /** e.g. http://127.0.0.1:8000 */
  url: string;
  readiness: Readiness;
  /** Resolves when engines are loaded (or rejects if they failed). */
  ready: Promise<void>;
  /** Stops accepting, lets running requests finish (SHUTDOWN_GRACE_SECONDS), kills what is left, unloads engines. */
  close(): Promise<void>;
  /** The worker pool; undefined when ENABLE_PROCESS_ISOLATED=false. */
  pool: WorkerPool | undefined;
  jobs: Jobs;
  /** This process's scratch folder, DATA_DIR/tmp/<host>-<pid>-<start time>. */
  tempDir: string;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}

/**
 * Composition root: config -> temp space -> executors -> service -> HTTP.
 * The port opens at once (so /healthz answers and /readyz says "starting");
 * engines load behind it.
 */
export async function startServer(config: Config, logger: Logger, testing: { now?: () => number } = {}): Promise<RunningServer> {
  const dataDir = resolve(config.DATA_DIR);
  const startTime = (await readStartTime(process.pid)) ?? 0;
  const temp = await processScratchDir(join(dataDir, 'tmp'), { host: hostname(), pid: process.pid, startTime }, readStartTime);

  if (config.SIMULATE_NATIVE_LEAK_MB > 0) {
    logger.warn(
      { leakMbPerTask: config.SIMULATE_NATIVE_LEAK_MB },
      'SIMULATE_NATIVE_LEAK_MB is set: every transcription leaks native memory on purpose (demonstration only, never in production)',
    );
  }
  // With the flag off no pool object exists at all, so nothing can spawn a worker.
  const pool = config.ENABLE_PROCESS_ISOLATED ? new WorkerPool({ config, logger: logger.child({ component: 'pool' }) }) : undefined;
  const inProcess = new InProcessExecutor({
    config,
    logger: logger.child({ component: 'in-process' }),
    engines: config.ENGINES,
    concurrency: config.IN_PROCESS_CONCURRENCY,
    // Buffered live streams (engines without their own streaming) write utterances here.
    scratch: temp,
  });
  const executors: Executor[] = [inProcess];
  if (pool !== undefined) executors.push(new PoolExecutor(pool));
  const service = new TranscriptionService(config, temp, executors);
  const readiness: Readiness = { state: 'starting', isolationModes: service.isolationModes() };
  let url = `http://${config.HOST.includes(':') ? `[${config.HOST}]` : config.HOST}:${config.PORT}`;
  const store = await openStore(config, dataDir, logger.child({ component: 'store' }));
  // One meter for routes, streams and jobs; `testing.now` pins its day away from a UTC midnight.
  const usage = new UsageMeter(store.usage, config.KEY_MAX_AUDIO_HOURS_PER_DAY, testing.now);
  const jobs = await openJobs({ config, logger, service, dataDir, baseUrl: () => url, store, usage });
  const models = new ModelRegistry({
    config,
    logger: logger.child({ component: 'models' }),
    held: () => service.models(),
    evict: (id) => service.evictModel(id),
    engines: () => service.engineStatus().map((e) => ({ name: e.name, ready: e.ready_in.length > 0 || readiness.state === 'starting', error: e.error })),
  });
  const metrics = new Metrics({ config, service, pool, jobs });
  const memory = new MemoryHistory({ pool });
  const app = await buildApp({ config, service, temp, readiness, pool, jobs: jobs.service, keys: store.keys, usage, metrics, memory, models }, logger);
  await app.listen({ host: config.HOST, port: config.PORT });
  const address = app.server.address();
  if (typeof address === 'object' && address !== null) url = url.replace(/:\d+$/, `:${address.port}`);
  logger.info(
    { url, role: config.ROLE, dataDir, engines: config.ENGINES, engine: config.ENGINE, inProcessConcurrency: config.IN_PROCESS_CONCURRENCY, workers: pool?.size ?? 0, defaultIsolation: service.defaultIsolation },
    'hark listening',
  );

  memory.start();
  const started = performance.now();
  const ready = service.start().then(
    () => {
      readiness.state = 'ready';
      const failed = service.engineStatus().filter((e) => e.ready_in.length === 0);
      if (failed.length > 0) logger.error({ failed: failed.map((e) => ({ engine: e.name, error: e.error?.message })) }, 'some engines failed to load');
      logger.info({ ms: Math.round(performance.now() - started), engines: config.ENGINES.length - failed.length }, 'engines ready');
      jobs.start();
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

  // Last resort: whatever ends this process, its workers go with it.
  const killWorkers = () => pool?.killAllNow();
  process.once('exit', killWorkers);

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      readiness.state = 'stopping';
      memory.stop();
      // Downloads under way stop (their .part is kept for the next pull to resume).
      await models.close();
      const graceMs = config.SHUTDOWN_GRACE_SECONDS * 1000;
      // Stop accepting; requests in flight get the grace period to finish.
      const drained = Promise.all([app.close(), jobs.runner.stop()]);
      const timedOut = await Promise.race([drained.then(() => false), sleep(graceMs).then(() => true)]);
      if (timedOut) logger.warn({ graceSeconds: config.SHUTDOWN_GRACE_SECONDS }, 'grace period over: killing running tasks');
      await ready.catch(() => undefined);
      // Killing the workers ends their tasks; their jobs go back to the queue (or are
      // recovered at the next start when this process exits first).
      await pool?.close(0);
      await jobs.stop(!timedOut);
      await store.close();
      if (timedOut) {
        app.server.closeAllConnections();
      } else {
        await service.close();
        await drained;
      }
      process.removeListener('exit', killWorkers);
    })());
  return { app, url, readiness, ready, close, pool, jobs, tempDir: temp.path };
}
