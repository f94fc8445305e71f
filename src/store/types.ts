import type { Transcript } from '../engines/index.js';
import type { SerializedError } from '../errors.js';
import type { Job, JobStatus, NewJob, WebhookStatus } from '../jobs/model.js';

export interface ListJobsQuery {
  status?: JobStatus | undefined;
  limit: number;
  /** Opaque position from a previous page (newest first). */
  cursor?: { createdAt: number; id: string } | undefined;
  /** Only jobs submitted with this API key. */
  apiKeyId?: string | undefined;
}

export const API_KEY_SCOPES = ['transcribe', 'jobs', 'admin'] as const;
export type ApiKeyScope = (typeof API_KEY_SCOPES)[number];

/** An API key as stored: its hash, never the key. */
export interface ApiKeyRecord {
  id: string;
  name: string;
  keyHash: string;
  scopes: ApiKeyScope[];
  createdAt: number;
  revokedAt: number | null;
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

/** One line of a job's log. `seq` counts from 1 per job, in the order lines were stored. */
export interface LogLine {
  seq: number;
  /** Epoch milliseconds when the line was written. */
  time: number;
  line: string;
}

export interface LogLinesQuery {
  /** Only lines after this seq (a follower's position). */
  afterSeq?: number | undefined;
  /** Only the last `tail` lines (of those after `afterSeq`). */
  tail?: number | undefined;
  /** At most this many lines from the first (default: all). */
  limit?: number | undefined;
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
  /** Which of `ids` are jobs in the store (one query, whatever their number). */
  existingJobIds(ids: readonly string[]): Promise<Set<string>>;
  findByIdempotencyKey(key: string): Promise<Job | undefined>;
  list(query: ListJobsQuery): Promise<Job[]>;
  countByStatus(): Promise<Record<JobStatus, number>>;
  /** Queued plus running jobs of one API key (KEY_MAX_ACTIVE_JOBS). */
  countActiveByApiKey(apiKeyId: string): Promise<number>;
  /** Deletes the job and its log lines. */
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

  /** Appends lines to a job's log in one statement, numbered after its last line. */
  appendLogLines(jobId: string, lines: readonly { time: number; line: string }[]): Promise<void>;
  /** A job's log lines in seq order (none for an unknown job). */
  logLines(jobId: string, query?: LogLinesQuery): Promise<LogLine[]>;

  finishedBefore(before: number, limit: number): Promise<Job[]>;
  setWebhook(id: string, status: WebhookStatus, attempts: number, lastError: string | null): Promise<void>;
  pendingWebhooks(): Promise<Job[]>;

  createApiKey(key: Omit<ApiKeyRecord, 'revokedAt'>): Promise<ApiKeyRecord>;
  /** The key with this hash, revoked or not (the caller checks `revokedAt`). */
  findApiKeyByHash(keyHash: string): Promise<ApiKeyRecord | undefined>;
  findApiKeyById(id: string): Promise<ApiKeyRecord | undefined>;
  listApiKeys(): Promise<ApiKeyRecord[]>;
  /** False when no unrevoked key has this id. */
  revokeApiKey(id: string, now: number): Promise<boolean>;
  /** Adds audio seconds to a key's total for a UTC day (YYYY-MM-DD). */
  addKeyUsage(apiKeyId: string, day: string, seconds: number): Promise<void>;
  /** A key's audio seconds on a UTC day; 0 when none. */
  keyUsage(apiKeyId: string, day: string): Promise<number>;
}
