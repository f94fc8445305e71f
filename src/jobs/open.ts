import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { UsageMeter } from '../auth/usage.js';
import type { Config } from '../config/index.js';
import type { Logger } from '../logger.js';
import { readStartTime } from '../os/index.js';
import type { Store } from '../store/index.js';
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
  /** The database the jobs live in (opened and closed by the caller). */
  store: Store;
  service: JobService;
  runner: JobRunner;
  recovery: OrphanRecovery;
  webhooks: WebhookSender;
  logs: JobLogs;
  /** Starts claiming (call once engines are warm). */
  start(): void;
  /** Stops claiming and timers; waits for running jobs unless `wait` is false. The store stays open (its opener closes it). */
  stop(wait: boolean): Promise<void>;
}

/**
 * On an open, migrated store: registers this server as an instance (whatever its ROLE: every
 * role heartbeats and scans for orphans), recovers what a
 * previous crash left running, and wires the runner, webhooks and retention.
 */
export async function openJobs(opts: {
  config: Config;
  logger: Logger;
  service: TranscriptionService;
  dataDir: string;
  baseUrl: () => string;
  store: Store;
  /** Audio hours per key and day (KEY_MAX_AUDIO_HOURS_PER_DAY): checked at submit, charged when a job completes. */
  usage: UsageMeter;
}): Promise<Jobs> {
  const { config, service, dataDir, store, usage } = opts;
  const logger = opts.logger.child({ component: 'jobs' });
  const instanceId = randomUUID();
  const now = Date.now();
  await store.instances.registerInstance({ id: instanceId, hostname: hostname(), pid: process.pid, processStartedAt: (await readStartTime(process.pid)) ?? null, startedAt: now, lastHeartbeat: now });

  const webhooks = new WebhookSender({
    store: store.webhooks,
    logger,
    secret: config.WEBHOOK_SECRET,
    allow: parseOutboundAllow(config.OUTBOUND_ALLOW),
    maxAttempts: config.WEBHOOK_MAX_ATTEMPTS,
    timeoutMs: config.WEBHOOK_TIMEOUT_SECONDS * 1000,
    baseUrl: opts.baseUrl,
  });
  const logs = new JobLogs({ store: store.logs, logger });
  // ROLE=api stores jobs and answers for them; only `all` and `worker` claim.
  const runner = new JobRunner({ config, logger, jobs: store.jobs, runs: store.runs, service, webhooks, logs, usage, instanceId, claims: config.ROLE !== 'api' });
  const recovery = new OrphanRecovery({ config, logger, instances: store.instances, runs: store.runs, instanceId, logs, runningHere: () => runner.runningIds() });
  const jobService = new JobService(config, store.jobs, runner, logs, usage, dataDir, service, store.revisions);
  const retention = new Retention(store.jobs, logger, config.JOB_CLEANUP_MAX_AGE_HOURS * 3600 * 1000, join(dataDir, 'jobs'));

  // Before anything runs: what did the last crash leave behind?
  const report = await recovery.scan();
  if (report.requeued + report.failed > 0) logger.warn({ ...report }, 'recovered jobs left running by a previous server');

  return {
    instanceId,
    store,
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
      void store.webhooks
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
      await store.instances.removeInstance(instanceId).catch(() => undefined);
    },
  };
}
