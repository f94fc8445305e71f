/**
 * Every error hark raises on purpose is an {@link AppError} with a stable code.
 * Codes are a closed union: the HTTP layer maps each one to a status in one table
 * (`http/error-status.ts`), typed so that a new code cannot be forgotten there.
 * The code survives crossing a process boundary (see `toSerializedError`).
 */
export const ERROR_CODES = [
  // Request shape
  'INVALID_REQUEST',
  'NOT_FOUND',
  'METHOD_NOT_ALLOWED',
  // The HTTP parser's own refusals (a head too large, a request too slow)
  'REQUEST_TIMEOUT',
  'HEADERS_TOO_LARGE',
  // Access
  'UNAUTHORIZED',
  'FORBIDDEN',
  'HOST_NOT_ALLOWED',
  'CROSS_SITE_REQUEST',
  'RATE_LIMITED',
  'QUOTA_EXCEEDED',
  'UNSUPPORTED_MEDIA_TYPE',
  'MISSING_FILE',
  'TOO_MANY_FILES',
  'EMPTY_FILE',
  'FILE_TOO_LARGE',
  'INVALID_RESPONSE_FORMAT',
  'UNSUPPORTED_PARAMETER',
  'INVALID_SPEAKER_COUNT',
  'INVALID_SPEAKER_REFERENCE',
  'MODEL_NOT_FOUND',
  'MODEL_NOT_DOWNLOADED',
  'MODEL_NOT_IN_CATALOGUE',
  'MODEL_IN_USE',
  'MODEL_MEMORY_LIMIT',
  // Audio
  'INVALID_AUDIO',
  'EMPTY_AUDIO',
  'AUDIO_TOO_LONG',
  // Capacity and lifecycle
  'AT_CAPACITY',
  'ENGINE_NOT_READY',
  'REQUEST_ABORTED',
  'SHUTTING_DOWN',
  'PROCESS_ISOLATION_DISABLED',
  'INSUFFICIENT_STORAGE',
  // Worker pool
  'TRANSCRIPTION_TIMEOUT',
  'WORKER_CRASHED',
  'WORKER_UNAVAILABLE',
  // Jobs
  'JOB_NOT_FOUND',
  'JOB_ALREADY_FINISHED',
  'JOB_NOT_FINISHED',
  'JOB_NOT_COMPLETED',
  'JOB_AUDIO_GONE',
  'NO_SPEAKERS',
  'UNKNOWN_SPEAKER',
  'INVALID_SPEAKER_NAME',
  'TOO_MANY_SPEAKER_NAMES',
  'INVALID_EDIT',
  'REVISION_CONFLICT',
  'INVALID_CURSOR',
  'INVALID_CALLBACK_URL',
  'ORPHANED',
  'CANCELLED',
  // Live streams
  'STREAM_TOO_FAST',
  'FRAME_TOO_LARGE',
  'STREAM_IDLE_TIMEOUT',
  'STREAM_TOO_LONG',
  // Engines that call another service
  'UPSTREAM_AUTH_FAILED',
  'UPSTREAM_RATE_LIMITED',
  'UPSTREAM_TIMEOUT',
  'UPSTREAM_ERROR',
  // Engine and internals
  'UNSUPPORTED_LANGUAGE',
  'TRANSLATION_UNSUPPORTED',
  'ENGINE_ERROR',
  'INTERNAL_ERROR',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface AppErrorOptions {
  cause?: unknown;
  /** Extra machine-readable facts a client may act on (e.g. `retry_after_seconds`). */
  details?: Record<string, unknown>;
}

export class AppError extends Error {
  override readonly name = 'AppError';
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details;
  }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && (ERROR_CODES as readonly string[]).includes(value);
}

/** The plain form of an error, for IPC and job records. */
export interface SerializedError {
  code: ErrorCode;
  message: string;
  details?: Record<string, unknown>;
}

/** Seconds a client is told to wait after INSUFFICIENT_STORAGE: room comes back when jobs end and expire, or an operator acts. */
const STORAGE_RETRY_SECONDS = 60;

/**
 * A full disk or quota as INSUFFICIENT_STORAGE: the system's ENOSPC and EDQUOT
 * (a write to DATA_DIR: an upload, decoded audio, a job's files), SQLite's
 * SQLITE_FULL and PostgreSQL's disk_full (53100). Anything else: undefined.
 */
export function storageFullError(err: unknown): AppError | undefined {
  return isStorageFull(err) ? insufficientStorage('the server has no disk space left to store this request', err) : undefined;
}

/** Whether `err` is a full disk or quota: ENOSPC, EDQUOT, SQLITE_FULL or PostgreSQL's 53100. */
export function isStorageFull(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT' || code === 'SQLITE_FULL' || code === '53100';
}

/** INSUFFICIENT_STORAGE: `what` happened, then what the client can do, with Retry-After. */
export function insufficientStorage(what: string, cause?: unknown): AppError {
  return new AppError('INSUFFICIENT_STORAGE', `${what}; try again later, or tell its operator that its data directory is full`, {
    cause,
    details: { retry_after_seconds: STORAGE_RETRY_SECONDS },
  });
}

export function toSerializedError(raw: unknown): SerializedError {
  const err = storageFullError(raw) ?? raw;
  if (err instanceof AppError) {
    return err.details === undefined
      ? { code: err.code, message: err.message }
      : { code: err.code, message: err.message, details: err.details };
  }
  return { code: 'INTERNAL_ERROR', message: err instanceof Error ? err.message : String(err) };
}

export function fromSerializedError(e: SerializedError): AppError {
  return new AppError(isErrorCode(e.code) ? e.code : 'INTERNAL_ERROR', e.message, e.details ? { details: e.details } : {});
}
