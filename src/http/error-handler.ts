import { STATUS_CODES, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { AppError, storageFullError, type ErrorCode } from '../errors.js';
import { ERROR_STATUS } from './error-status.js';
import { MAX_HEADER_BYTES } from './security.js';

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
  return storageFullError(err) ?? new AppError('INTERNAL_ERROR', 'internal server error', { cause: err });
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

/**
 * What Node's HTTP parser refuses before Fastify sees a request (a head over
 * MAX_HEADER_BYTES, bytes that are not HTTP, a request slower than
 * REQUEST_TIMEOUT_SECONDS) as hark's error, in hark's shape.
 */
export function parserError(err: NodeJS.ErrnoException): AppError {
  switch (err.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new AppError('REQUEST_TIMEOUT', 'the request did not arrive in time (REQUEST_TIMEOUT_SECONDS); the connection is closed');
    case 'HPE_HEADER_OVERFLOW':
      return new AppError('HEADERS_TOO_LARGE', `the request line and headers are larger than ${MAX_HEADER_BYTES / 1024} KB`);
    default:
      return new AppError('INVALID_REQUEST', `the request is not valid HTTP/1.1 (${err.code ?? 'parse error'})`);
  }
}

/**
 * Answers a parser-level refusal on the raw socket, then closes it: the
 * connection's framing cannot be trusted after it. Fastify's default answer
 * has its own body shape (`{"error":"Bad Request","statusCode":400}`).
 */
function answerClientError(app: FastifyInstance, err: NodeJS.ErrnoException, socket: Socket): void {
  // A reset connection has no one to answer.
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const appErr = parserError(err);
  const status = ERROR_STATUS[appErr.code];
  app.log.info({ code: appErr.code, reason: err.code }, 'request rejected by the HTTP parser');
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const body = JSON.stringify(errorBody(appErr));
  const head = [`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`, 'Content-Type: application/json; charset=utf-8', `Content-Length: ${Buffer.byteLength(body)}`, 'Connection: close'];
  const answer = (): void => {
    socket.end(`${head.join('\r\n')}\r\n\r\n${body}`, () => socket.destroy());
  };
  // The answer in progress on this socket, if any (Node's own guard reads the same internal field).
  const inFlight = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
  if (inFlight == null || inFlight.writableFinished) return answer();
  if (inFlight.req.complete) {
    // Garbage pipelined behind a complete request: that request's answer goes first, or
    // the client would read the refusal as the answer to it.
    inFlight.once('finish', answer);
    inFlight.once('close', () => socket.destroy());
  } else if (inFlight.headersSent) {
    // The request's own body broke after its answer began: nothing clean can follow.
    socket.destroy();
  } else {
    answer();
  }
}

/**
 * Fastify's router refusals (a URL whose percent-encoding is not UTF-8, a path
 * parameter over maxParamLength) in hark's shape. Pass as Fastify's
 * `frameworkErrors` option: without it they leave in Fastify's own shape.
 */
export function frameworkErrors(error: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  const message = error.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'a part of the URL path is too long' : 'the URL is not valid (bad percent-encoding)';
  void sendError(reply, new AppError('INVALID_REQUEST', message, { cause: error }));
}

/** One error handler for the whole app: every error leaves as `{ "error": { code, message } }`. */
export function installErrorHandler(app: FastifyInstance): void {
  // Fastify's `clientErrorHandler` option does the same; set here so every app built with this handler gets it.
  app.server.removeAllListeners('clientError');
  app.server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => answerClientError(app, err, socket));
  app.setErrorHandler((raw: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const err = toAppError(raw);
    const status = ERROR_STATUS[err.code];
    // A full disk too: it needs an operator, and the raw error says which write failed.
    if (err.code === 'INTERNAL_ERROR' || err.code === 'ENGINE_ERROR' || err.code === 'INSUFFICIENT_STORAGE') {
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
