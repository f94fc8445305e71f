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
  ENGINE_ERROR: 500,
  INTERNAL_ERROR: 500,
};
