import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { UsageMeter } from '../auth/usage.js';
import type { Config } from '../config/index.js';
import type { Logger } from '../logger.js';
import { readStartTime } from '../os/index.js';
import { PostgresJobStore, SqliteJobStore, type JobStore } from '../store/index.js';
import type { TranscriptionService } from '../transcription/index.js';
import { JobLogs } from './job-log.js';
import { OrphanRecovery } from './recovery.js';
import { Retention } from './retention.js';
import { JobRunner } from './runner.js';
import { JobService } from './service.js';
import { WebhookSender } from './webhooks.js';
import { parseOutboundAllow } from '../net/index.js';

export interface Jobs {
  instanceId: string;
  store: JobStore;
  /** Audio hours per key and day (KEY_MAX_AUDIO_HOURS_PER_DAY), for every route. */
  usage: UsageMeter;
  service: JobService;
  runner: JobRunner;
  recovery: OrphanRecovery;
  webhooks: WebhookSender;
  logs: JobLogs;
  /** Starts claiming (call once engines are warm). */
  start(): void;
  /** Stops claiming and timers; waits for running jobs unless `wait` is false. */
  stop(wait: boolean): Promise<void>;
}

/** The store DATABASE_URL names (SQLite in DATA_DIR when empty), migrated. */
export async function openStore(config: Config, dataDir: string, logger: Logger): Promise<JobStore> {
  const url = config.DATABASE_URL;
  if (url !== undefined && /^postgres(ql)?:/.test(url)) {
    const store = await PostgresJobStore.open(url, 10, (err) => logger.warn({ err }, 'PostgreSQL dropped an idle connection'));
    const pending = await store.pendingMigrations();
    await store.migrate();
    if (pending.length > 0) logger.info({ applied: pending }, 'database migrated');
    return store;
  }
  const store = await SqliteJobStore.open(url?.replace(/^sqlite:/, '') ?? join(dataDir, 'hark.db'));
  await store.migrate();
  if (store.lastMigration.applied.length > 0) {
    logger.info({ applied: store.lastMigration.applied, backup: store.lastMigration.backupPath, db: store.path }, 'database migrated');
  }
  return store;
}

/**
 * Opens the job store, registers this server as an instance (whatever its ROLE: every
 * role heartbeats and scans for orphans), recovers what a
 * previous crash left running, and wires the runner, webhooks and retention.
 */
export async function openJobs(opts: {
  config: Config;
  logger: Logger;
  service: TranscriptionService;
  dataDir: string;
  baseUrl: () => string;
}): Promise<Jobs> {
  const { config, service, dataDir } = opts;
  const logger = opts.logger.child({ component: 'jobs' });
  const store = await openStore(config, dataDir, logger);
  const instanceId = randomUUID();
  const now = Date.now();
  await store.registerInstance({ id: instanceId, hostname: hostname(), pid: process.pid, processStartedAt: (await readStartTime(process.pid)) ?? null, startedAt: now, lastHeartbeat: now });

  const webhooks = new WebhookSender({
    store,
    logger,
    secret: config.WEBHOOK_SECRET,
    allow: parseOutboundAllow(config.OUTBOUND_ALLOW),
    maxAttempts: config.WEBHOOK_MAX_ATTEMPTS,
    timeoutMs: config.WEBHOOK_TIMEOUT_SECONDS * 1000,
    baseUrl: opts.baseUrl,
  });
  const logs = new JobLogs({ store, logger });
  const usage = new UsageMeter(store, config.KEY_MAX_AUDIO_HOURS_PER_DAY);
  // ROLE=api stores jobs and answers for them; only `all` and `worker` claim.
  const runner = new JobRunner({ config, logger, store, service, webhooks, logs, usage, instanceId, claims: config.ROLE !== 'api' });
  const recovery = new OrphanRecovery({ config, logger, store, instanceId, logs, runningHere: () => runner.runningIds() });
  const jobService = new JobService(config, store, runner, logs, usage, dataDir);
  const retention = new Retention(store, logger, config.JOB_CLEANUP_MAX_AGE_HOURS * 3600 * 1000, join(dataDir, 'jobs'));

  // Before anything runs: what did the last crash leave behind?
  const report = await recovery.scan();
  if (report.requeued + report.failed > 0) logger.warn({ ...report }, 'recovered jobs left running by a previous server');

  return {
    instanceId,
    store,
    usage,
    service: jobService,
    runner,
    recovery,
    webhooks,
    logs,
    start() {
      runner.start();
      recovery.start();
      retention.start();
      void retention.sweep().catch((err: unknown) => logger.error({ err }, 'retention sweep failed'));
      // Webhooks that a previous run could not finish delivering.
      void store
        .pendingWebhooks()
        .then((jobs) => jobs.forEach((j) => webhooks.deliver(j)))
        .catch((err: unknown) => logger.error({ err }, 'could not read pending webhooks'));
    },
    async stop(wait: boolean) {
      recovery.stop();
      retention.stop();
      if (wait) await runner.stop();
      else void runner.stop();
      await webhooks.stop(); // quick: due retries stay pending for the next start
      await logs.flush();
      await store.removeInstance(instanceId).catch(() => undefined);
      await store.close();
    },
  };
}
