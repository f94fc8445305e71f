import { AppError } from '../errors.js';
import type { DiarizeRequest } from '../diarization/types.js';
import type { Isolation, Transcript } from '../engines/index.js';
import type { VadSettings } from '../vad/index.js';
import { JOB_STATUSES, TERMINAL_STATUSES, type JobStatus, type Priority } from '../api/jobs.js';

// Declared in src/api (dependency-free, shared with the web page and the CLI).
export { JOB_STATUSES, PRIORITIES, TERMINAL_STATUSES, type JobStatus, type Priority } from '../api/jobs.js';

/** Lower runs first; aging subtracts from a waiting job's rank (see JobRunStore.claimNext). */
export const PRIORITY_RANK: Record<Priority, number> = { high: 0, normal: 1, low: 2 };

/**
 * The job state machine, in one place. Recovery moves a running job back to
 * queued; nothing leaves a terminal state.
 */
export const TRANSITIONS: Record<JobStatus, readonly JobStatus[]> = {
  queued: ['running', 'cancelled'],
  running: ['completed', 'failed', 'cancelled', 'queued'],
  completed: [],
  failed: [],
  cancelled: [],
};

export function canMove(from: JobStatus, to: JobStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

/** Statuses a job may be in for a move to `to` (what a guarded UPDATE ... WHERE status IN (...) uses). */
export function sourcesOf(to: JobStatus): JobStatus[] {
  return JOB_STATUSES.filter((from) => canMove(from, to));
}

export function isTerminal(status: JobStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

export interface JobOptions {
  language?: string | undefined;
  response_format?: string | undefined;
  /** `translate`: English text whatever is spoken (kept in the options' JSON, so no migration); absent: transcribe. */
  task?: 'translate' | undefined;
  /** The engine's model the submission picked (whisper: a name in MODELS_DIR, from `whisper-<name>`); absent: the engine's default. */
  model?: string | undefined;
}

export type WebhookStatus = 'pending' | 'delivered' | 'failed';

/** A transcription job as the store keeps it (times in epoch milliseconds). */
export interface Job {
  id: string;
  status: JobStatus;
  priority: Priority;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  fileName: string;
  fileSize: number;
  durationSeconds: number | null;
  audioPath: string | null;
  options: JobOptions;
  /** What the job runs with (migration 008); null for jobs stored before it, which run with the server's settings. */
  vad: VadSettings | null;
  /** What it asked of diarization (migration 009): `{}` for no count given; null when not asked. */
  diarize: DiarizeRequest | null;
  /** Names given to its result's speakers after it completed (migration 010), label -> name; `{}`: none. */
  speakerNames: Readonly<Record<string, string>>;
  engine: string;
  isolation: Isolation;
  attempts: number;
  errorCode: string | null;
  errorMessage: string | null;
  result: Transcript | null;
  progress: number;
  processId: number | null;
  /** Start time of `processId` (clock ticks since boot): tells a reused pid from ours. */
  processStartedAt: number | null;
  lastHeartbeat: number | null;
  ownerInstanceId: string | null;
  /** New at every claim: a result is written only by the run that holds it (never twice). */
  runToken: string | null;
  idempotencyKey: string | null;
  callbackUrl: string | null;
  webhookStatus: WebhookStatus | null;
  webhookAttempts: number;
  webhookLastError: string | null;
  cancelRequested: boolean;
  /** The API key that submitted it (null without AUTH_MODE=api_key). */
  apiKeyId: string | null;
}

export type NewJob = Pick<
  Job,
  'id' | 'priority' | 'createdAt' | 'fileName' | 'fileSize' | 'durationSeconds' | 'audioPath' | 'options' | 'engine' | 'isolation' | 'idempotencyKey' | 'callbackUrl'
> & { apiKeyId?: string | null | undefined; vad?: VadSettings | null | undefined; diarize?: DiarizeRequest | null | undefined };

export function illegalMove(job: Pick<Job, 'id' | 'status'>, to: JobStatus): AppError {
  return new AppError('JOB_ALREADY_FINISHED', `job ${job.id} is ${job.status} and cannot become ${to}`);
}
