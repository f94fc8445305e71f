import { rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { UsageMeter } from '../auth/usage.js';
import type { Config } from '../config/index.js';
import { AppError, toSerializedError, type ErrorCode } from '../errors.js';
import type { Logger } from '../logger.js';
import { readStartTime } from '../os/index.js';
import type { JobRunStore, JobStore, RunRef } from '../store/index.js';
import type { Plan, TranscriptionService } from '../transcription/index.js';
import type { JobLogs } from './job-log.js';
import type { Job } from './model.js';
import type { WebhookSender } from './webhooks.js';

/** Failures worth another attempt: the process went away, not the input. */
const RETRYABLE: readonly ErrorCode[] = ['WORKER_CRASHED', 'WORKER_UNAVAILABLE', 'SHUTTING_DOWN', 'ENGINE_NOT_READY'];

export interface JobRunnerOptions {
  config: Config;
  logger: Logger;
  /** Reads the job after a run (`afterRun`, cancels from elsewhere) and drops its audio path. */
  jobs: JobStore;
  runs: JobRunStore;
  /** Counts each completed job's audio against its key's day. */
  usage?: UsageMeter;
  service: TranscriptionService;
  webhooks: WebhookSender;
  logs: JobLogs;
  instanceId: string;
  /** false for ROLE=api: the runner only heartbeats this instance and never claims a job. */
  claims?: boolean;
}

interface InFlight {
  run: RunRef;
  abort: AbortController;
  cancelled: boolean;
  done: Promise<void>;
}

/**
 * Claims queued jobs while its executors have room, runs each through the same
 * TranscriptionService as synchronous requests (so admission, isolation and
 * metrics mean the same), records pid, progress and heartbeats, and writes the
 * outcome once.
 */
export class JobRunner {
  private readonly inFlight = new Map<string, InFlight>();
  private stopped = false;
  private ticking = false;
  private again = false;
  /** The claim pass in progress: a job it claims joins `runs` before stop() counts them. */
  private pass: Promise<void> = Promise.resolve();
  /** Every job run until its bookkeeping (audio removal, webhook) is done, which outlasts `inFlight`. */
  private readonly runs = new Set<Promise<void>>();
  private claimTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  /** Job runs by how they ended, for metrics. */
  readonly totals = { completed: 0, failed: 0, cancelled: 0, requeued: 0 };

  constructor(private readonly o: JobRunnerOptions) {}

  start(): void {
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), this.o.config.HEARTBEAT_SECONDS * 1000);
    // Claims also happen on submit and on every job's end; this catches freed capacity from sync requests.
    this.claimTimer = setInterval(() => this.tick(), 1000);
    this.tick();
  }

  /** Ids of jobs this instance is running now. */
  runningIds(): string[] {
    return [...this.inFlight.keys()];
  }

  /** Stops claiming; running jobs end as the executors end them (shutdown requeues them). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.claimTimer);
    // Waited for whole, so that nothing writes to the store after the caller closes it.
    await this.pass;
    // Jobs still running keep their heartbeat while they drain: other instances
    // would otherwise take them for orphans after 3 missed beats and run them again.
    while (this.runs.size > 0) await Promise.all(this.runs);
    clearInterval(this.heartbeatTimer);
  }

  /** Kills a running job's process (its worker's tree) after the store marked it cancelled. */
  abort(id: string): boolean {
    const f = this.inFlight.get(id);
    if (f === undefined) return false;
    f.cancelled = true;
    f.abort.abort();
    return true;
  }

  /** Looks for work now. Safe to call often: one pass runs at a time. */
  tick(): void {
    if (this.stopped || this.o.claims === false) return;
    if (this.ticking) {
      this.again = true;
      return;
    }
    this.ticking = true;
    this.pass = this.fill()
      .catch((err: unknown) => this.o.logger.error({ err }, 'job claim failed'))
      .finally(() => {
        this.ticking = false;
        if (this.again) {
          this.again = false;
          this.tick();
        }
      });
  }

  private async fill(): Promise<void> {
    for (const isolation of this.o.service.isolationModes()) {
      while (!this.stopped) {
        // Claim only for a decoder that is free now. Admission would also hand out a place in
        // its own line (MAX_QUEUE_SIZE deep): a job claimed into that line is marked running
        // with started_at set while it waits, leaves the store's priority order (the line is
        // FIFO) and no longer counts as queued for AT_CAPACITY.
        const cap = this.o.service.capacity(isolation);
        if (cap.active + cap.queued >= cap.concurrency) break;
        let plan;
        try {
          // The job's engine is known once it is claimed: `settle` checks it then.
          plan = this.o.service.plan({ isolation });
        } catch {
          break; // that mode is full; queued jobs wait
        }
        let job;
        try {
          job = await this.o.runs.claimNext({
            instanceId: this.o.instanceId,
            now: Date.now(),
            agingMs: Math.round(this.o.config.PRIORITY_AGING_SECONDS * 1000),
            isolation,
          });
        } catch (err) {
          // A failed claim (the database briefly away) must not keep the place: capacity would shrink for good.
          plan.release();
          throw err;
        }
        if (job === undefined) {
          plan.release();
          break;
        }
        this.execute(job, plan);
      }
    }
  }

  /** Runs a claimed job in the place `claimed` holds for it; the place is released however the run ends. */
  private execute(job: Job, claimed: Plan): void {
    const isolation = claimed.isolation;
    const run: RunRef = { id: job.id, runToken: job.runToken ?? '' };
    const abort = new AbortController();
    const log = { append: (message: string) => this.o.logs.append(job.id, message) };
    const logger = this.o.logger.child({ jobId: job.id });
    const entry: InFlight = { run, abort, cancelled: false, done: Promise.resolve() };
    this.inFlight.set(job.id, entry);
    entry.done = (async () => {
      log.append(`attempt ${job.attempts} started (isolation ${isolation}, engine ${job.engine})`);
      logger.info({ attempt: job.attempts, isolation }, 'job started');
      let lastProgress = 0;
      // Seconds this attempt decoded, as transcribeFile reports them (success or not): a job that
      // fails or is cancelled is charged them below, one that completes its transcript's length.
      // Its quota was checked at submit; the run itself is not refused for it.
      let decodedSeconds = 0;
      const usage = { check: async () => undefined, charge: async (seconds: number) => void (decodedSeconds = seconds) };
      try {
        if (job.audioPath === null) throw new AppError('INVALID_AUDIO', 'the job has no audio (it was deleted)');
        const plan = this.o.service.settle(claimed, job.engine);
        const result = await this.o.service.transcribeFile(plan, {
          id: job.id,
          inputPath: job.audioPath,
          options: { language: job.options.language, task: job.options.task, model: job.options.model, vad: job.vad ?? undefined, diarize: job.diarize ?? undefined },
          logger,
          usage,
          hooks: {
            signal: abort.signal,
            onStart: ({ pid }) => {
              log.append(`decoding in process ${pid}`);
              void readStartTime(pid)
                .then((startedAt) => this.o.runs.setProcess(run, pid, startedAt ?? null))
                .catch((err: unknown) => logger.warn({ err }, 'could not record the job\'s process'));
            },
            onProgress: (p) => {
              if (p.fraction - lastProgress < 0.05 && p.fraction < 1) return;
              lastProgress = p.fraction;
              log.append(`progress ${(p.fraction * 100).toFixed(0)}% (${p.processedSeconds.toFixed(1)} of ${p.totalSeconds.toFixed(1)} s)`);
              void this.o.runs.setProgress(run, p.fraction, p.totalSeconds).catch((err: unknown) => logger.warn({ err }, 'could not record progress'));
            },
            onLog: (message) => log.append(`engine: ${message}`),
            // The text as each utterance is decoded: the page shows the transcript growing from these
            // lines (src/ui/progress.ts reads them back), and `hark jobs logs --follow` prints them too.
            onSegment: (s) => {
              if (s.text.trim() !== '') log.append(`segment ${s.start.toFixed(1)}-${s.end.toFixed(1)} s: ${s.text.trim()}`);
            },
          },
        });
        const { transcript, processingMs } = result;
        if (await this.o.runs.complete(run, transcript, Date.now())) {
          this.totals.completed++;
          await this.o.usage?.charge(job.apiKeyId, transcript.duration_seconds).catch((err: unknown) => logger.warn({ err }, 'could not count the job\'s audio against its key'));
          log.append(`completed in ${(processingMs / 1000).toFixed(1)} s: ${transcript.words.length} words, ${transcript.duration_seconds.toFixed(1)} s of audio`);
          logger.info({ processingMs }, 'job completed');
        } else {
          log.append('finished, but the job was no longer this run\'s (cancelled or recovered): result discarded');
        }
      } catch (raw) {
        const err = toSerializedError(raw instanceof Error && raw.name === 'AbortError' ? new AppError('CANCELLED', 'cancelled') : raw);
        const chargeDecoded = () => this.o.usage?.charge(job.apiKeyId, decodedSeconds).catch((e: unknown) => logger.warn({ err: e }, 'could not count the job\'s audio against its key'));
        if (entry.cancelled) {
          await chargeDecoded();
          this.totals.cancelled++;
          log.append('cancelled; its process was stopped');
          logger.info('job cancelled');
        } else if (RETRYABLE.includes(err.code) && job.attempts < this.o.config.MAX_ATTEMPTS) {
          await this.o.runs.requeue(run, err);
          this.totals.requeued++;
          log.append(`attempt ${job.attempts} failed (${err.code}: ${err.message}); queued again`);
          logger.warn({ code: err.code, attempt: job.attempts }, 'job attempt failed; requeued');
        } else {
          // A requeued attempt (above) is not charged: its process went away, not the key's doing.
          await chargeDecoded();
          await this.o.runs.fail(run, err, Date.now());
          this.totals.failed++;
          log.append(`failed: ${err.code}: ${err.message}`);
          logger.warn({ code: err.code }, 'job failed');
        }
      } finally {
        claimed.release();
        this.inFlight.delete(job.id);
        // The job's last lines are stored before anyone can see it ended and stop following.
        await this.o.logs.flush();
        await this.afterRun(job.id);
      }
    })()
      // A boundary: a store that fails (or was closed by a shutdown that stopped waiting) is logged, never an unhandled rejection.
      .catch((err: unknown) => logger.error({ err }, 'job bookkeeping failed'))
      .finally(() => {
        this.runs.delete(entry.done);
        this.tick();
      });
    this.runs.add(entry.done);
  }

  /** Once a job has ended: its audio goes (unless kept) and its webhook is sent. */
  async afterRun(id: string): Promise<void> {
    const job = await this.o.jobs.get(id);
    if (job === undefined || job.status === 'queued' || job.status === 'running') return;
    if (!this.o.config.KEEP_JOB_AUDIO && job.audioPath !== null) {
      // The job's folder holds only its audio (the log is in the store).
      await rm(dirname(job.audioPath), { recursive: true, force: true });
      await this.o.jobs.clearAudio(id);
    }
    // A job cancelled through another instance ends on both: the first to get here sends it.
    if (job.webhookStatus === 'pending') this.o.webhooks.deliver(job);
  }

  private async heartbeat(): Promise<void> {
    try {
      const ids = this.runningIds();
      await this.o.runs.heartbeat(this.o.instanceId, ids, Date.now());
      // A cancel may have been written by another instance: stop what was cancelled.
      for (const id of ids) {
        const job = await this.o.jobs.get(id);
        if (job?.status === 'cancelled') this.abort(id);
      }
    } catch (err) {
      this.o.logger.error({ err }, 'heartbeat failed');
    }
  }
}
