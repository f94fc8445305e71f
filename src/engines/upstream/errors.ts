import { APIConnectionError, APIConnectionTimeoutError, APIError } from 'openai';
import { BodyTooLargeError, OutboundRefusedError } from '../../net/index.js';
import { AppError } from '../../errors.js';

/** What the error messages may name about the upstream (never its key, which is only scrubbed). */
export interface UpstreamErrorContext {
  /** Host of the base URL, e.g. `api.openai.com`. */
  host: string;
  /** The base URL without credentials or query. */
  baseUrl: string;
  timeoutSeconds: number;
  maxRetries: number;
  /** The configured key, removed from any text an upstream sends back. */
  apiKey: string | undefined;
  errorBody(headers: Headers | undefined): string | undefined;
}

/** What a failed answer said: OpenAI's `{error:{message,code,param}}`, hark's `{error:{code,message}}`, FastAPI's `{detail}`, or text. */
interface Complaint {
  message: string | undefined;
  code: string | undefined;
  param: string | undefined;
}

/** How a 400/422 is taken. */
export type BadRequestKind = 'audio' | 'language' | 'prompt' | 'other';

const AUDIO_CODES = new Set(['INVALID_AUDIO', 'EMPTY_AUDIO', 'invalid_file_format', 'audio_too_short', 'unsupported_file']);

/** The base URL as error messages show it: no user, password or query (which may carry secrets). */
export function displayUrl(url: URL): string {
  return `${url.origin}${url.pathname}`.replace(/\/$/, '');
}

/** Whether a 400/422 is about the audio, the language, the prompt, or something else (e.g. verbose_json). */
export function badRequestKind(err: unknown, ctx: UpstreamErrorContext): BadRequestKind | undefined {
  if (!(err instanceof APIError) || (err.status !== 400 && err.status !== 422)) return undefined;
  const c = complaint(err, ctx);
  const text = c.message ?? '';
  // First: a refused prompt's message may say why in words about the language (a hark upstream's does).
  if (c.param === 'prompt' || /^prompt\b|\bprompt is not supported/i.test(text)) return 'prompt';
  if (c.code === 'UNSUPPORTED_LANGUAGE' || c.param === 'language' || /\blanguage\b/i.test(text)) return 'language';
  if ((c.code !== undefined && AUDIO_CODES.has(c.code)) || c.param === 'file' || /audio|file format|corrupt|decod/i.test(text)) return 'audio';
  return 'other';
}

/**
 * The openai client's errors as hark's codes. Upstream messages are kept
 * (a hark upstream's too), scrubbed of the key; errors that are not the
 * client's (hark's own bugs) pass through untouched.
 */
export function toUpstreamError(err: unknown, ctx: UpstreamErrorContext): unknown {
  if (err instanceof AppError) return err;
  const { host } = ctx;
  if (err instanceof APIConnectionTimeoutError) {
    return new AppError(
      'UPSTREAM_TIMEOUT',
      `the upstream server ${host} did not answer within ${ctx.timeoutSeconds} s (UPSTREAM_TIMEOUT_SECONDS)${retried(ctx)}`,
      { cause: err },
    );
  }
  if (err instanceof APIConnectionError) {
    const refused = inCauses(err, (e) => e instanceof OutboundRefusedError || e instanceof BodyTooLargeError);
    if (refused !== undefined) return new AppError('UPSTREAM_ERROR', `the upstream server at ${ctx.baseUrl}: ${(refused as Error).message}`, { cause: err });
    const why = networkCode(err) ?? err.message;
    return new AppError('UPSTREAM_ERROR', `could not reach the upstream server at ${ctx.baseUrl} (${why})${retried(ctx)}; check UPSTREAM_BASE_URL`, {
      cause: err,
    });
  }
  if (err instanceof SyntaxError) return notATranscription(ctx, 'a body that is not JSON', err);
  if (!(err instanceof APIError) || err.status === undefined) return err;

  const status = err.status;
  const said = complaint(err, ctx).message;
  const saying = said === undefined ? '' : `: ${said}`;
  if (status === 401 || status === 403) {
    return new AppError(
      'UPSTREAM_AUTH_FAILED',
      `the upstream server ${host} refused hark's credentials (${status}); check UPSTREAM_API_KEY`,
      { cause: err, details: { upstream_status: status } },
    );
  }
  const retryAfter = retryAfterSeconds(err.headers);
  // A 503 with Retry-After is a busy server (another hark at capacity says so), not a broken one.
  if (status === 429 || (status === 503 && retryAfter !== undefined)) {
    return new AppError('UPSTREAM_RATE_LIMITED', `the upstream server ${host} is rate-limiting hark (${status})${retried(ctx)}${saying}`, {
      cause: err,
      details: { upstream_status: status, ...(retryAfter === undefined ? {} : { retry_after_seconds: retryAfter }) },
    });
  }
  const kind = badRequestKind(err, ctx);
  if (kind === 'audio') return new AppError('INVALID_AUDIO', `the upstream server ${host} refused the audio${saying}`, { cause: err });
  if (kind === 'language') return new AppError('UNSUPPORTED_LANGUAGE', `the upstream server ${host} refused the language${saying}`, { cause: err });
  if (kind === 'prompt') {
    return new AppError('UNSUPPORTED_PARAMETER', `the upstream server ${host} refused the prompt${saying}`, { cause: err, details: { parameter: 'prompt' } });
  }
  return new AppError('UPSTREAM_ERROR', `the upstream server ${host} answered ${status}${saying}`, { cause: err, details: { upstream_status: status } });
}

/** A 200 whose body is no transcription: an HTML login page, a proxy's error page, garbage. */
export function notATranscription(ctx: UpstreamErrorContext, what: string, cause?: unknown): AppError {
  return new AppError(
    'UPSTREAM_ERROR',
    `the upstream server ${ctx.host} answered something that is not a transcription (${what}); check UPSTREAM_BASE_URL (it usually ends in /v1)`,
    cause === undefined ? {} : { cause },
  );
}

function retried(ctx: UpstreamErrorContext): string {
  return ctx.maxRetries > 0 ? ` after ${ctx.maxRetries} ${ctx.maxRetries === 1 ? 'retry' : 'retries'}` : '';
}

function complaint(err: APIError, ctx: UpstreamErrorContext): Complaint {
  const fromClient = err.error as unknown;
  let body: unknown = fromClient === undefined ? undefined : { error: fromClient };
  const raw = ctx.errorBody(err.headers);
  if (body === undefined && raw !== undefined) {
    try {
      body = JSON.parse(raw);
    } catch {
      body = raw;
    }
  }
  const c = read(body);
  return { ...c, message: c.message === undefined ? undefined : scrub(c.message, ctx.apiKey) };
}

function read(body: unknown): Complaint {
  const none: Complaint = { message: undefined, code: undefined, param: undefined };
  if (typeof body === 'string') {
    // An HTML error page says nothing a user can act on; a line of text might.
    const line = body.trim().split('\n')[0]?.trim() ?? '';
    return line === '' || line.startsWith('<') ? none : { ...none, message: line };
  }
  if (typeof body !== 'object' || body === null) return none;
  const { error, detail, message } = body as { error?: unknown; detail?: unknown; message?: unknown };
  if (typeof error === 'string') return { ...none, message: error };
  if (typeof error === 'object' && error !== null) {
    const e = error as { message?: unknown; code?: unknown; param?: unknown };
    return {
      message: typeof e.message === 'string' ? e.message : undefined,
      code: typeof e.code === 'string' ? e.code : undefined,
      param: typeof e.param === 'string' ? e.param : undefined,
    };
  }
  if (typeof detail === 'string') return { ...none, message: detail };
  if (Array.isArray(detail)) {
    // FastAPI's validation errors: [{ loc: ['body', 'response_format'], msg }].
    const parts = detail.map((d: { loc?: unknown[]; msg?: unknown }) => `${(d.loc ?? []).join('.')}: ${String(d.msg ?? '')}`);
    return { ...none, message: parts.join('; ') };
  }
  return typeof message === 'string' ? { ...none, message } : none;
}

/** Text from an upstream with the key cut out (a server may echo the Authorization header) and kept short. */
function scrub(text: string, key: string | undefined): string {
  const clean = key === undefined || key === '' ? text : text.split(key).join('[redacted]');
  return clean.length > 500 ? `${clean.slice(0, 500)}…` : clean;
}

/** Retry-After (seconds or an HTTP date) or retry-after-ms, in whole seconds. */
function retryAfterSeconds(headers: Headers | undefined): number | undefined {
  const ms = Number(headers?.get('retry-after-ms') ?? Number.NaN);
  if (Number.isFinite(ms) && ms >= 0) return Math.max(1, Math.ceil(ms / 1000));
  const value = headers?.get('retry-after');
  if (value == null || value.trim() === '') return undefined;
  const seconds = /^\d+(\.\d+)?$/.test(value.trim()) ? Number(value) : (Date.parse(value) - Date.now()) / 1000;
  return Number.isFinite(seconds) ? Math.max(1, Math.ceil(seconds)) : undefined;
}

/**
 * The first error down the cause chain that `match` picks. An AggregateError
 * (a connection tried on several addresses) is followed into its first error.
 */
function inCauses(err: unknown, match: (e: unknown) => boolean): unknown {
  for (let e: unknown = err, depth = 0; e !== undefined && e !== null && depth < 6; depth++) {
    if (match(e)) return e;
    e = (e as { cause?: unknown }).cause ?? (e as { errors?: unknown[] }).errors?.[0];
  }
  return undefined;
}

/** ECONNREFUSED, ENOTFOUND, ...: the first system error code down the cause chain. */
function networkCode(err: unknown): string | undefined {
  const isSystem = (e: unknown) => /^E[A-Z_]+$/.test(String((e as { code?: unknown }).code));
  return (inCauses(err, isSystem) as { code?: string } | undefined)?.code;
}
