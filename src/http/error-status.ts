import type { ErrorCode } from '../errors.js';

/** The only place an error code meets an HTTP status. */
export const ERROR_STATUS: Record<ErrorCode, number> = {
  INVALID_REQUEST: 400,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  UNSUPPORTED_MEDIA_TYPE: 415,
  MISSING_FILE: 400,
  TOO_MANY_FILES: 400,
  EMPTY_FILE: 400,
  FILE_TOO_LARGE: 413,
  INVALID_RESPONSE_FORMAT: 400,
  MODEL_NOT_FOUND: 400,
  INVALID_AUDIO: 400,
  EMPTY_AUDIO: 400,
  AUDIO_TOO_LONG: 400,
  AT_CAPACITY: 503,
  ENGINE_NOT_READY: 503,
  // Nobody reads it (the client left); 499 as nginx logs it.
  REQUEST_ABORTED: 499,
  SHUTTING_DOWN: 503,
  PROCESS_ISOLATION_DISABLED: 503,
  TRANSCRIPTION_TIMEOUT: 504,
  WORKER_CRASHED: 502,
  WORKER_UNAVAILABLE: 503,
  JOB_NOT_FOUND: 404,
  JOB_ALREADY_FINISHED: 409,
  JOB_NOT_FINISHED: 409,
  JOB_NOT_COMPLETED: 409,
  INVALID_CURSOR: 400,
  INVALID_CALLBACK_URL: 400,
  // Job outcomes, not HTTP answers: shown in a job's `error`; mapped for completeness.
  ORPHANED: 500,
  CANCELLED: 409,
  // Stream errors travel as WebSocket messages; mapped for completeness.
  STREAM_TOO_FAST: 429,
  FRAME_TOO_LARGE: 413,
  STREAM_IDLE_TIMEOUT: 408,
  // The upstream refused our credentials: the operator's problem, not the client's.
  UPSTREAM_AUTH_FAILED: 502,
  UPSTREAM_RATE_LIMITED: 503,
  UPSTREAM_TIMEOUT: 504,
  UPSTREAM_ERROR: 502,
  UNSUPPORTED_LANGUAGE: 400,
  ENGINE_ERROR: 500,
  INTERNAL_ERROR: 500,
};
