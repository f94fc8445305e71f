import type { Transcript } from '../engines/index.js';
import type { SerializedError } from '../errors.js';
import type { Job, JobStatus, NewJob, WebhookStatus } from '../jobs/model.js';

export interface ListJobsQuery {
  status?: JobStatus | undefined;
  limit: number;
  /** Opaque position from a previous page (newest first). */
  cursor?: { createdAt: number; id: string } | undefined;
}

export interface ClaimOptions {
  instanceId: string;
  now: number;
  /** A job waiting this long moves up one priority level (and again after each further period). */
  agingMs: number;
  /** Only jobs for this isolation mode (each mode has its own capacity). */
  isolation?: string;
}

export interface InstanceRecord {
  id: string;
  hostname: string;
  pid: number;
  processStartedAt: number | null;
  startedAt: number;
  lastHeartbeat: number;
}

/** Where a running job stands, for the runner's writes (guarded by the claim's token). */
export interface RunRef {
  id: string;
  runToken: string;
}

/**
 * The only module that speaks SQL. SQLite and PostgreSQL implement it and pass
 * one shared test suite; every status change is a guarded UPDATE that follows
 * the state machine in jobs/model.ts, so concurrent writers cannot both win.
 */
export interface JobStore {
  migrate(): Promise<void>;
  close(): Promise<void>;

  create(job: NewJob): Promise<Job>;
  get(id: string): Promise<Job | undefined>;
  findByIdempotencyKey(key: string): Promise<Job | undefined>;
  list(query: ListJobsQuery): Promise<Job[]>;
  countByStatus(): Promise<Record<JobStatus, number>>;
  delete(id: string): Promise<boolean>;

  /** Atomically takes the next queued job (priority with aging, then FIFO) and marks it running. */
  claimNext(options: ClaimOptions): Promise<Job | undefined>;
  setProcess(run: RunRef, pid: number, processStartedAt: number | null): Promise<void>;
  setProgress(run: RunRef, progress: number, durationSeconds?: number): Promise<void>;
  heartbeat(instanceId: string, runningIds: readonly string[], now: number): Promise<void>;
  /** Each returns false when the job was no longer this run's (cancelled, recovered elsewhere). */
  complete(run: RunRef, result: Transcript, now: number): Promise<boolean>;
  fail(run: RunRef, error: SerializedError, now: number): Promise<boolean>;
  /** Back to queued for another attempt (a worker crash, a lost server). */
  requeue(run: RunRef, error: SerializedError): Promise<boolean>;
  /** Cancels a queued job, or a running one (any run). Returns the job after, or undefined if unknown. */
  cancel(id: string, now: number): Promise<Job | undefined>;
  clearAudio(id: string): Promise<void>;

  registerInstance(instance: InstanceRecord): Promise<void>;
  listInstances(): Promise<InstanceRecord[]>;
  removeInstance(id: string): Promise<void>;
  /** Running jobs that are not owned by `exceptInstanceId` or whose heartbeat is older than `staleBefore`. */
  runningJobs(): Promise<Job[]>;
  /** Requeues (attempts left) or fails with ORPHANED: once, whoever calls it first. */
  recoverOrphan(job: Pick<Job, 'id' | 'runToken' | 'attempts'>, maxAttempts: number, now: number): Promise<'requeued' | 'failed' | 'gone'>;

  finishedBefore(before: number, limit: number): Promise<Job[]>;
  setWebhook(id: string, status: WebhookStatus, attempts: number, lastError: string | null): Promise<void>;
  pendingWebhooks(): Promise<Job[]>;
}
