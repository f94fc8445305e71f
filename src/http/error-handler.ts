import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { AppError, type ErrorCode } from '../errors.js';
import { ERROR_STATUS } from './error-status.js';

/** Fastify's and its plugins' own errors, mapped to hark's codes. */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'INVALID_REQUEST',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'INVALID_REQUEST',
  FST_ERR_CTP_INVALID_JSON_BODY: 'INVALID_REQUEST',
  FST_ERR_CTP_BODY_TOO_LARGE: 'FILE_TOO_LARGE',
  FST_INVALID_MULTIPART_CONTENT_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_REQ_FILE_TOO_LARGE: 'FILE_TOO_LARGE',
  FST_FILES_LIMIT: 'TOO_MANY_FILES',
  FST_PARTS_LIMIT: 'INVALID_REQUEST',
  FST_FIELDS_LIMIT: 'INVALID_REQUEST',
  FST_PROTO_VIOLATION: 'INVALID_REQUEST',
  FST_MP_PREMATURE_CLOSE: 'REQUEST_ABORTED',
};

/** Clearer words than Fastify's for errors a client meets often. */
const FASTIFY_MESSAGES: Record<string, string> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported Content-Type; send the audio as multipart/form-data with a "file" field',
};

export interface ErrorBody {
  error: { code: ErrorCode; message: string; details?: Record<string, unknown> };
}

/** Any thrown value as hark's error, hiding internals of 5xx. */
export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  const fe = err as Partial<FastifyError> & { name?: string };
  if (fe.name === 'AbortError') return new AppError('REQUEST_ABORTED', 'the request was aborted');
  if (hasZodFastifySchemaValidationErrors(err)) {
    const issue = err.validation[0];
    const where = issue?.instancePath ? issue.instancePath.replace(/^\//, '').replace(/\//g, '.') : err.validationContext;
    return new AppError('INVALID_REQUEST', `invalid ${err.validationContext ?? 'request'}: ${where ? `${where}: ` : ''}${issue?.message ?? err.message}`);
  }
  const mapped = fe.code === undefined ? undefined : FASTIFY_CODES[fe.code];
  if (mapped !== undefined) return new AppError(mapped, FASTIFY_MESSAGES[fe.code ?? ''] ?? fe.message ?? mapped, { cause: err });
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return new AppError('INVALID_REQUEST', fe.message ?? 'bad request', { cause: err });
  }
  // Premature close of the request stream: the client went away mid-upload.
  if (fe.code === 'ERR_STREAM_PREMATURE_CLOSE' || fe.code === 'ECONNRESET' || fe.message === 'aborted') {
    return new AppError('REQUEST_ABORTED', 'the client closed the connection during the upload', { cause: err });
  }
  return new AppError('INTERNAL_ERROR', 'internal server error', { cause: err });
}

export function errorBody(err: AppError): ErrorBody {
  return { error: err.details === undefined ? { code: err.code, message: err.message } : { code: err.code, message: err.message, details: err.details } };
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The hark error code this request was answered with (for metrics). */
    harkErrorCode?: ErrorCode;
  }
}

export function sendError(reply: FastifyReply, err: AppError): FastifyReply {
  const status = ERROR_STATUS[err.code];
  reply.request.harkErrorCode = err.code;
  const retry = err.details?.['retry_after_seconds'];
  if (typeof retry === 'number') void reply.header('retry-after', String(retry));
  return reply.status(status).type('application/json; charset=utf-8').send(errorBody(err));
}

/**
 * A refused body this small, and not yet read at all, is left to Node, which
 * reads and drops it after the answer: the client finishes sending and reads
 * the answer. Closing instead can reset the connection under a client still
 * writing, which then reports a broken pipe rather than hark's error.
 */
const DRAIN_MAX_BYTES = 1024 * 1024;

/**
 * An upload we refused may still be arriving: close the connection after
 * answering rather than reading (and discarding) the rest of a large or
 * partly parsed body.
 */
function mustClose(request: FastifyRequest): boolean {
  const raw = request.raw;
  if (raw.complete) return false;
  const length = Number(raw.headers['content-length']);
  const untouched = raw.readableFlowing === null;
  return !(untouched && Number.isFinite(length) && length <= DRAIN_MAX_BYTES);
}

/** One error handler for the whole app: every error leaves as `{ "error": { code, message } }`. */
export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((raw: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const err = toAppError(raw);
    const status = ERROR_STATUS[err.code];
    if (err.code === 'INTERNAL_ERROR' || err.code === 'ENGINE_ERROR') {
      request.log.error({ err: raw }, 'request failed');
    } else if (status >= 500) {
      // Capacity, shutdown, pool faults: expected in operation, no stack needed.
      request.log.warn({ code: err.code, reason: err.message }, 'request failed');
    } else {
      request.log.info({ code: err.code, reason: err.message }, 'request rejected');
    }
    if (mustClose(request)) void reply.header('connection', 'close');
    if (err.code === 'REQUEST_ABORTED' && request.raw.destroyed) return;
    return sendError(reply, err);
  });
}
