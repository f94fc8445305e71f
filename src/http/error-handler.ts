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
  if (mapped !== undefined) return new AppError(mapped, fe.message ?? mapped, { cause: err });
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

export function sendError(reply: FastifyReply, err: AppError): FastifyReply {
  const status = ERROR_STATUS[err.code];
  const retry = err.details?.['retry_after_seconds'];
  if (typeof retry === 'number') void reply.header('retry-after', String(retry));
  return reply.status(status).type('application/json; charset=utf-8').send(errorBody(err));
}

/** One error handler for the whole app: every error leaves as `{ "error": { code, message } }`. */
export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((raw: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const err = toAppError(raw);
    const status = ERROR_STATUS[err.code];
    if (status >= 500 && err.code !== 'AT_CAPACITY' && err.code !== 'ENGINE_NOT_READY' && err.code !== 'SHUTTING_DOWN') {
      request.log.error({ err: raw }, 'request failed');
    } else {
      request.log.info({ code: err.code, msg: err.message }, 'request rejected');
    }
    // An upload we refused may still be arriving: close the connection after
    // answering rather than reading (and discarding) the rest of the body.
    if (!request.raw.complete) void reply.header('connection', 'close');
    if (err.code === 'REQUEST_ABORTED' && request.raw.destroyed) return;
    return sendError(reply, err);
  });
}
