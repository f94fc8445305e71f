import type { ErrorCode } from '../errors.js';

/** The only place an error code meets an HTTP status. */
export const ERROR_STATUS: Record<ErrorCode, number> = {
  INVALID_REQUEST: 400,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  REQUEST_TIMEOUT: 408,
  HEADERS_TOO_LARGE: 431,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  // AUTH_MODE=none: a Host this server does not answer to (DNS rebinding), a write from another site.
  HOST_NOT_ALLOWED: 403,
  CROSS_SITE_REQUEST: 403,
  RATE_LIMITED: 429,
  QUOTA_EXCEEDED: 429,
  UNSUPPORTED_MEDIA_TYPE: 415,
  MISSING_FILE: 400,
  TOO_MANY_FILES: 400,
  EMPTY_FILE: 400,
  FILE_TOO_LARGE: 413,
  INVALID_RESPONSE_FORMAT: 400,
  UNSUPPORTED_PARAMETER: 400,
  INVALID_SPEAKER_COUNT: 400,
  INVALID_SPEAKER_REFERENCE: 400,
  MODEL_NOT_FOUND: 400,
  // A model the catalogue knows but this server has not downloaded (or is downloading): the server's state, not the request's shape.
  MODEL_NOT_DOWNLOADED: 409,
  // A pull (POST /v1/models/{id}) of an id no catalogue entry has.
  MODEL_NOT_IN_CATALOGUE: 404,
  MODEL_IN_USE: 409,
  // The model does not fit MODEL_MEMORY_LIMIT_MB next to the models in use.
  MODEL_MEMORY_LIMIT: 503,
  INVALID_AUDIO: 400,
  EMPTY_AUDIO: 400,
  AUDIO_TOO_LONG: 400,
  AT_CAPACITY: 503,
  ENGINE_NOT_READY: 503,
  // Nobody reads it (the client left); 499 as nginx logs it.
  REQUEST_ABORTED: 499,
  SHUTTING_DOWN: 503,
  PROCESS_ISOLATION_DISABLED: 503,
  // DATA_DIR (or the job store's disk) is full: the server's state, with Retry-After; 507 as RFC 4918 names it.
  INSUFFICIENT_STORAGE: 507,
  TRANSCRIPTION_TIMEOUT: 504,
  WORKER_CRASHED: 502,
  WORKER_UNAVAILABLE: 503,
  JOB_NOT_FOUND: 404,
  JOB_ALREADY_FINISHED: 409,
  JOB_NOT_FINISHED: 409,
  JOB_NOT_COMPLETED: 409,
  // Gone for good (KEEP_JOB_AUDIO=false deleted it): asking again cannot help.
  JOB_AUDIO_GONE: 410,
  NO_SPEAKERS: 409,
  UNKNOWN_SPEAKER: 400,
  INVALID_SPEAKER_NAME: 400,
  TOO_MANY_SPEAKER_NAMES: 400,
  INVALID_EDIT: 400,
  // An edit made on a revision another edit has since replaced: read the latest and edit that.
  REVISION_CONFLICT: 409,
  INVALID_CURSOR: 400,
  INVALID_CALLBACK_URL: 400,
  // Job outcomes, not HTTP answers: shown in a job's `error`; mapped for completeness.
  ORPHANED: 500,
  CANCELLED: 409,
  // Stream errors travel as WebSocket messages; mapped for completeness.
  STREAM_TOO_FAST: 429,
  FRAME_TOO_LARGE: 413,
  STREAM_IDLE_TIMEOUT: 408,
  STREAM_TOO_LONG: 408,
  // The upstream refused our credentials: the operator's problem, not the client's.
  UPSTREAM_AUTH_FAILED: 502,
  UPSTREAM_RATE_LIMITED: 503,
  UPSTREAM_TIMEOUT: 504,
  UPSTREAM_ERROR: 502,
  UNSUPPORTED_LANGUAGE: 400,
  TRANSLATION_UNSUPPORTED: 400,
  ENGINE_ERROR: 500,
  INTERNAL_ERROR: 500,
};
