import type { Transcript } from '../engines/index.js';
import type { SerializedError } from '../errors.js';
import type { Job, JobStatus, NewJob, WebhookStatus } from '../jobs/model.js';

export interface ListJobsQuery {
  status?: JobStatus | undefined;
  limit: number;
  /** Opaque position from a previous page (in the page's order). */
  cursor?: { createdAt: number; id: string } | undefined;
  /** Oldest first; default newest first. */
  oldestFirst?: boolean | undefined;
  /** Only jobs created at or after this time (ms). */
  createdFrom?: number | undefined;
  /** Only jobs created before this time (ms). */
  createdBefore?: number | undefined;
  /** Only jobs submitted with this API key. */
  apiKeyId?: string | undefined;
  /**
   * Only jobs whose file name or transcript text contains this, in any case (a plain
   * substring: `%` and `_` are characters like any other). Case is folded by the
   * database's `lower()`, which on SQLite folds ASCII letters only.
   */
  search?: string | undefined;
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
  /**
   * Session cookies of this key issued at or before this time (ms) are void:
   * `DELETE /api/v1/session` sets it (migration 007). Null: none ended.
   */
  sessionsValidAfter: number | null;
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
 * Jobs as records: submit, read, list, cancel, delete (with their log lines),
 * and what retention and per-key limits count. Status moves that a run makes
 * are JobRunStore's.
 */
export interface JobStore {
  create(job: NewJob): Promise<Job>;
  get(id: string): Promise<Job | undefined>;
  /** Which of `ids` are jobs in the store (one query, whatever their number). */
  existingJobIds(ids: readonly string[]): Promise<Set<string>>;
  /** The job `apiKeyId` (null: submitted without a key) submitted with this Idempotency-Key; another key's never. */
  findByIdempotencyKey(apiKeyId: string | null, key: string): Promise<Job | undefined>;
  list(query: ListJobsQuery): Promise<Job[]>;
  countByStatus(): Promise<Record<JobStatus, number>>;
  /**
   * Queued jobs by isolation mode (modes with none are absent): the jobs that wait in the store
   * for a runner to claim them, which an executor's admission line never sees.
   */
  countQueuedByIsolation(): Promise<Record<string, number>>;
  /** Queued plus running jobs of one API key (KEY_MAX_ACTIVE_JOBS). */
  countActiveByApiKey(apiKeyId: string): Promise<number>;
  /** Cancels a queued job, or a running one (any run). Returns the job after, or undefined if unknown. */
  cancel(id: string, now: number): Promise<Job | undefined>;
  clearAudio(id: string): Promise<void>;
  /** Gives the job another file name (what lists, searches and downloads show); false when there is no such job. */
  rename(id: string, fileName: string): Promise<boolean>;
  /** Replaces the names given to a completed job's speakers (`{}` clears them); false when no completed job has this id. */
  setSpeakerNames(id: string, names: Readonly<Record<string, string>>): Promise<boolean>;
  /** Ended jobs (completed, failed, cancelled) that finished before `before`, for retention. */
  finishedBefore(before: number, limit: number): Promise<Job[]>;
  /** Deletes the job, its log lines and its transcript's revisions. */
  delete(id: string): Promise<boolean>;
}

/**
 * A job's runs: the claim, what the runner records while it runs, its one
 * outcome, and orphan recovery. Every write is a guarded UPDATE that follows
 * the state machine in jobs/model.ts, so concurrent writers cannot both win.
 */
export interface JobRunStore {
  /** Atomically takes the next queued job (priority with aging, then FIFO) and marks it running. */
  claimNext(options: ClaimOptions): Promise<Job | undefined>;
  setProcess(run: RunRef, pid: number, processStartedAt: number | null): Promise<void>;
  setProgress(run: RunRef, progress: number, durationSeconds?: number): Promise<void>;
  /** Refreshes the instance's heartbeat and that of the running jobs it owns among `runningIds`. */
  heartbeat(instanceId: string, runningIds: readonly string[], now: number): Promise<void>;
  /** Each returns false when the job was no longer this run's (cancelled, recovered elsewhere). */
  complete(run: RunRef, result: Transcript, now: number): Promise<boolean>;
  fail(run: RunRef, error: SerializedError, now: number): Promise<boolean>;
  /** Back to queued for another attempt (a worker crash, a lost server). */
  requeue(run: RunRef, error: SerializedError): Promise<boolean>;
  /** Every running job, whoever runs it (orphan scans, metrics). */
  runningJobs(): Promise<Job[]>;
  /** Requeues (attempts left) or fails with ORPHANED: once, whoever calls it first. */
  recoverOrphan(job: Pick<Job, 'id' | 'runToken' | 'attempts'>, maxAttempts: number, now: number): Promise<'requeued' | 'failed' | 'gone'>;
}

/** Jobs' log lines (table hark_job_log_lines), so any instance shows the log of a job another runs. */
export interface JobLogStore {
  /** Appends lines to a job's log in one statement, numbered after its last line. */
  appendLogLines(jobId: string, lines: readonly { time: number; line: string }[]): Promise<void>;
  /** A job's log lines in seq order (none for an unknown job). */
  logLines(jobId: string, query?: LogLinesQuery): Promise<LogLine[]>;
}

/** The hark servers sharing the database; their heartbeats tell orphan recovery who is gone. */
export interface InstanceStore {
  registerInstance(instance: InstanceRecord): Promise<void>;
  listInstances(): Promise<InstanceRecord[]>;
  removeInstance(id: string): Promise<void>;
}

/** Delivery state of ended jobs' callbacks. */
export interface WebhookStore {
  /** Records an attempt's outcome (`pending` while retries are left). */
  setWebhook(id: string, status: WebhookStatus, attempts: number, lastError: string | null): Promise<void>;
  /** Ended jobs whose callback is still to be delivered (resumed at start). */
  pendingWebhooks(): Promise<Job[]>;
}

/** API keys, by the hash of the key (never the key). */
export interface ApiKeyStore {
  createApiKey(key: Omit<ApiKeyRecord, 'revokedAt' | 'sessionsValidAfter'>): Promise<ApiKeyRecord>;
  /** The key with this hash, revoked or not (the caller checks `revokedAt`). */
  findApiKeyByHash(keyHash: string): Promise<ApiKeyRecord | undefined>;
  findApiKeyById(id: string): Promise<ApiKeyRecord | undefined>;
  listApiKeys(): Promise<ApiKeyRecord[]>;
  /** False when no unrevoked key has this id. */
  revokeApiKey(id: string, now: number): Promise<boolean>;
  /** Voids every session cookie of this key issued at or before `now` (ms); later ones stay valid. */
  endSessions(id: string, now: number): Promise<void>;
}

/** Audio seconds per API key and UTC day (KEY_MAX_AUDIO_HOURS_PER_DAY). */
export interface UsageStore {
  /** Adds audio seconds to a key's total for a UTC day (YYYY-MM-DD); concurrent adds sum. */
  addKeyUsage(apiKeyId: string, day: string, seconds: number): Promise<void>;
  /** A key's audio seconds on a UTC day; 0 when none. */
  keyUsage(apiKeyId: string, day: string): Promise<number>;
}

/**
 * hark's one database, one small interface per concern. store/ is the only
 * module that speaks SQL: SQLite and PostgreSQL implement this and pass one
 * shared contract suite (test/support/store-suite). Callers take only the
 * concern they use (`store.jobs`, `store.keys`, ...).
 */
/** One edit of a completed job's transcript. */
export interface ResultRevision {
  revision: number;
  createdAt: number;
  apiKeyId: string | null;
  result: Transcript;
}

/**
 * Edited transcripts of completed jobs, numbered from 1 (the job's own result is
 * the original, revision 0). An edit is made on a revision; a second edit made on
 * the same one conflicts rather than overwriting the first.
 */
export interface JobRevisionStore {
  /** Stores `result` as revision `base + 1`; false when `base` is not the latest (another edit came first). */
  add(jobId: string, base: number, revision: Omit<ResultRevision, 'revision'>): Promise<boolean>;
  /** The latest edit, or undefined when the job has none. */
  latest(jobId: string): Promise<ResultRevision | undefined>;
  get(jobId: string, revision: number): Promise<ResultRevision | undefined>;
  /** Every edit, oldest first, without their results. */
  list(jobId: string): Promise<Omit<ResultRevision, 'result'>[]>;
}

export interface Store {
  readonly jobs: JobStore;
  readonly revisions: JobRevisionStore;
  readonly runs: JobRunStore;
  readonly logs: JobLogStore;
  readonly instances: InstanceStore;
  readonly webhooks: WebhookStore;
  readonly keys: ApiKeyStore;
  readonly usage: UsageStore;
  /** Applies pending migrations (safe from several instances at once). */
  migrate(): Promise<void>;
  /** Names of migrations not applied yet. */
  pendingMigrations(): Promise<string[]>;
  close(): Promise<void>;
}
