import type { Dispatcher } from 'undici';
import type { z } from 'zod';
import { AppError } from '../../errors.js';
import { BodyTooLargeError, readBodyLimited } from '../../net/index.js';
import type { AzureAuth } from './auth.js';

export interface AzureClientOptions {
  auth: AzureAuth;
  /** Limit of one attempt, upload and answer included (AZURE_SPEECH_TIMEOUT_SECONDS). */
  timeoutMs: number;
  /** Retries after a 429, a 5xx or a connection failure (AZURE_SPEECH_MAX_RETRIES). */
  maxRetries: number;
  /** First backoff step; doubles each retry, with jitter. */
  retryBaseMs: number;
  /** A Retry-After longer than this is not waited out: the request fails at once. */
  maxRetryWaitMs: number;
  /** Connects only where OUTBOUND_ALLOW permits, checked per connection (guardedDispatcher). */
  dispatcher?: Dispatcher | undefined;
}

/**
 * Largest answer read. Fast transcription of 90 minutes with word times is a
 * few MB of JSON; past this the service (or something posing as it) is broken.
 */
export const MAX_AZURE_ANSWER_BYTES = 64 * 1024 * 1024;

export interface AzureRequest<T> {
  /** Which API, for messages: `fast transcription` or `short audio`. */
  api: string;
  url: URL;
  headers: Record<string, string>;
  /** Called per attempt, so a streamed body can be sent again. */
  body: () => Buffer | AsyncIterable<Uint8Array>;
  schema: z.ZodType<T>;
}

export interface CallHooks {
  signal?: AbortSignal | undefined;
  onLog?: ((message: string) => void) | undefined;
}

interface Answer {
  status: number;
  headers: Headers;
  text: string;
}

const BACKOFF_CAP_MS = 30_000;

/**
 * One POST to Azure Speech with hark's policy around it: auth headers, a time
 * limit per attempt, retries with backoff on 429/5xx (Retry-After honoured),
 * abort at any point, and every failure turned into an AppError whose message
 * never carries a key or token.
 */
export class AzureClient {
  constructor(private readonly options: AzureClientOptions) {}

  async post<T>(req: AzureRequest<T>, hooks: CallHooks = {}): Promise<T> {
    const { maxRetries } = this.options;
    for (let attempt = 0; ; attempt++) {
      let answer: Answer;
      try {
        answer = await this.once(req, hooks.signal);
      } catch (err) {
        if (!(err instanceof ConnectionError)) throw err;
        if (attempt >= maxRetries) throw new AppError('UPSTREAM_ERROR', `could not reach Azure Speech (${req.api}) at ${req.url.host}: ${err.message}`, { cause: err.cause });
        const wait = this.backoff(attempt);
        hooks.onLog?.(`azure ${req.api}: ${err.message}; retry ${attempt + 1}/${maxRetries} in ${seconds(wait)} s`);
        await sleep(wait, hooks.signal);
        continue;
      }
      if (answer.status >= 200 && answer.status < 300) return this.parse(req, answer);
      const retryAfter = retryAfterMs(answer.headers);
      const retryable = answer.status === 429 || answer.status >= 500;
      if (retryable && attempt < maxRetries && (retryAfter === undefined || retryAfter <= this.options.maxRetryWaitMs)) {
        const wait = retryAfter ?? this.backoff(attempt);
        hooks.onLog?.(`azure ${req.api}: HTTP ${answer.status}; retry ${attempt + 1}/${maxRetries} in ${seconds(wait)} s`);
        await sleep(wait, hooks.signal);
        continue;
      }
      throw this.failure(req, answer, retryAfter, attempt);
    }
  }

  private async once(req: AzureRequest<unknown>, signal: AbortSignal | undefined): Promise<Answer> {
    const timeout = AbortSignal.timeout(this.options.timeoutMs);
    const both = signal === undefined ? timeout : AbortSignal.any([signal, timeout]);
    try {
      const headers = { ...(await this.options.auth.headers(both)), ...req.headers };
      // Node's fetch takes a Buffer or an async iterable (streamed upload); the DOM typing (the UI's type-check) does not know that.
      const body = req.body() as unknown as RequestInit['body'];
      const res = await fetch(req.url, { method: 'POST', headers, body, duplex: 'half', signal: both, dispatcher: this.options.dispatcher } as RequestInit);
      return { status: res.status, headers: res.headers, text: new TextDecoder().decode(await readBodyLimited(res, MAX_AZURE_ANSWER_BYTES)) };
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      if (timeout.aborted) {
        throw new AppError('UPSTREAM_TIMEOUT', `Azure Speech (${req.api}) did not answer within ${seconds(this.options.timeoutMs)} s (AZURE_SPEECH_TIMEOUT_SECONDS)`, {
          cause: err,
        });
      }
      if (err instanceof AppError) throw err;
      if (err instanceof BodyTooLargeError) throw new AppError('UPSTREAM_ERROR', `Azure Speech (${req.api}): ${err.message}; refused`, { cause: err });
      const code = (err as { cause?: { code?: unknown } }).cause?.code;
      throw new ConnectionError(typeof code === 'string' ? code : this.scrub((err as Error).message), err);
    }
  }

  private parse<T>(req: AzureRequest<T>, answer: Answer): T {
    let json: unknown;
    try {
      json = JSON.parse(answer.text);
    } catch {
      throw new AppError('UPSTREAM_ERROR', `Azure Speech (${req.api}) answered HTTP ${answer.status} with ${describeBody(answer)} instead of JSON`);
    }
    const parsed = req.schema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue === undefined || issue.path.length === 0 ? 'the body' : issue.path.join('.');
      throw new AppError('UPSTREAM_ERROR', `Azure Speech (${req.api}) answered JSON hark does not understand (${where}: ${issue?.message ?? 'invalid'})`);
    }
    return parsed.data;
  }

  private failure(req: AzureRequest<unknown>, answer: Answer, retryAfter: number | undefined, attempt: number): AppError {
    const { status } = answer;
    const azure = azureError(answer.text);
    const said = azure?.message === undefined ? describeBody(answer) : this.scrub(oneLine(azure.message));
    const details: Record<string, unknown> = { upstream_status: status };
    if (azure?.code !== undefined) details['upstream_code'] = azure.innerCode ?? azure.code;
    if (status === 401 || status === 403) {
      const hint =
        this.options.auth.kind === 'key'
          ? 'check AZURE_SPEECH_KEY and that AZURE_SPEECH_REGION or AZURE_SPEECH_ENDPOINT is that key\'s resource'
          : 'check that the Microsoft Entra identity has a Speech role (e.g. Cognitive Services Speech User) on the resource at AZURE_SPEECH_ENDPOINT';
      this.options.auth.rejected();
      return new AppError('UPSTREAM_AUTH_FAILED', `Azure Speech refused hark's credentials (HTTP ${status}: ${said}); ${hint}`, { details });
    }
    if (status === 429) {
      if (retryAfter !== undefined) details['retry_after_seconds'] = Math.ceil(retryAfter / 1000);
      return new AppError('UPSTREAM_RATE_LIMITED', `Azure Speech is rate limiting hark (HTTP 429 after ${attempt} retries): ${said}`, { details });
    }
    if (status === 400 || status === 415 || status === 422) {
      const text = `${azure?.code ?? ''} ${azure?.innerCode ?? ''} ${azure?.message ?? answer.text.slice(0, 500)}`;
      if (/InvalidLocale|UnsupportedLanguage|\blocales?\b|\blanguage\b/i.test(text)) {
        return new AppError('UNSUPPORTED_LANGUAGE', `Azure Speech does not support the requested language: ${said}`, { details });
      }
      if (status === 415 || /UnsupportedMediaType|\baudio\b|\bwav\b|\bcodec\b|\bdecode\b/i.test(text)) {
        return new AppError('INVALID_AUDIO', `Azure Speech could not use the audio: ${said}`, { details });
      }
    }
    return new AppError('UPSTREAM_ERROR', `Azure Speech (${req.api}) answered HTTP ${status}: ${said}`, { details });
  }

  private backoff(attempt: number): number {
    const step = Math.min(BACKOFF_CAP_MS, this.options.retryBaseMs * 2 ** attempt);
    // Jitter spreads the retries of many concurrent requests apart.
    return Math.round(step / 2 + Math.random() * (step / 2));
  }

  private scrub(text: string): string {
    let out = text;
    for (const secret of this.options.auth.secrets()) if (secret !== '') out = out.split(secret).join('***');
    return out;
  }
}

/** A request that got no HTTP answer at all (refused, reset, DNS). */
class ConnectionError extends Error {
  constructor(message: string, cause: unknown) {
    super(message, { cause });
  }
}

/**
 * Azure's error bodies: `{code, message, innerError}` (speech to text API) or
 * `{error: {code, message, innerError?}}` (the API gateway, e.g. on 401).
 */
function azureError(text: string): { code?: string; innerCode?: string; message?: string } | undefined {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof json !== 'object' || json === null) return undefined;
  const outer = json as Record<string, unknown>;
  const e = (typeof outer['error'] === 'object' && outer['error'] !== null ? outer['error'] : outer) as Record<string, unknown>;
  const inner = (e['innerError'] ?? e['innererror']) as Record<string, unknown> | undefined;
  const str = (v: unknown) => (typeof v === 'string' || typeof v === 'number' ? String(v) : undefined);
  const out: { code?: string; innerCode?: string; message?: string } = {};
  const code = str(e['code']);
  const innerCode = str(inner?.['code']);
  const message = str(inner?.['message']) ?? str(e['message']);
  if (code !== undefined) out.code = code;
  if (innerCode !== undefined) out.innerCode = innerCode;
  if (message !== undefined) out.message = message;
  return code === undefined && message === undefined ? undefined : out;
}

function describeBody(answer: Answer): string {
  const type = answer.headers.get('content-type')?.split(';')[0]?.trim();
  if (answer.text.trim() === '') return 'an empty body';
  if (type === 'text/html' || /^\s*<(!doctype|html)/i.test(answer.text)) return 'an HTML page';
  return `a ${type ?? 'untyped'} body of ${answer.text.length} bytes`;
}

/** Seconds (`Retry-After: 7`), an HTTP date, or Azure's `retry-after-ms`. */
export function retryAfterMs(headers: Headers, now = Date.now()): number | undefined {
  const ms = headers.get('retry-after-ms') ?? headers.get('x-ms-retry-after-ms');
  if (ms !== null && /^\d+(\.\d+)?$/.test(ms.trim())) return Math.ceil(Number(ms));
  const value = headers.get('retry-after')?.trim();
  if (value === undefined || value === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Math.ceil(Number(value) * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function oneLine(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > 300 ? `${line.slice(0, 300)}...` : line;
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(ms < 10_000 ? 1 : 0);
}
