import { createHmac } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { AppError } from '../errors.js';
import { checkOutboundUrl, guardedLookup, OutboundRefusedError, type OutboundAllow } from '../net/index.js';
import type { Logger } from '../logger.js';
import type { WebhookStore } from '../store/index.js';
import type { Job } from './model.js';

export interface WebhookOptions {
  store: WebhookStore;
  logger: Logger;
  secret: string | undefined;
  /** OUTBOUND_ALLOW: the private hosts and ranges callbacks may reach. */
  allow: OutboundAllow;
  maxAttempts: number;
  timeoutMs: number;
  /** Base of the links in the payload, e.g. http://127.0.0.1:8000 */
  baseUrl: () => string;
  /** Wait before attempt n (1-based); tests shorten it. */
  backoffMs?: (attempt: number) => number;
}

/** Only http(s) URLs; anything else is refused at submit. */
export function checkCallbackUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new AppError('INVALID_CALLBACK_URL', `callback_url is not a URL: ${JSON.stringify(raw.slice(0, 200))}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new AppError('INVALID_CALLBACK_URL', `callback_url must be http or https, not ${url.protocol.replace(':', '')}`);
  }
  if (url.username || url.password) throw new AppError('INVALID_CALLBACK_URL', 'callback_url must not carry credentials');
  return url.toString();
}

/** The one answer to a callback URL refused for where it points, whatever the reason. */
export const CALLBACK_TARGET_REFUSED =
  'the callback URL is not allowed: it must be an http(s) URL whose host resolves to a public address (OUTBOUND_ALLOW lists exceptions)';

/**
 * Refuses (400 INVALID_CALLBACK_URL) a callback URL whose host is, or resolves
 * to, a private, loopback, link-local... address not in OUTBOUND_ALLOW, or does
 * not resolve. The delivery checks again (DNS can change in between) and
 * connects to the address it checked.
 */
export async function checkCallbackTarget(url: string, allow: OutboundAllow, logger?: Pick<Logger, 'warn'>): Promise<string> {
  try {
    await checkOutboundUrl(new URL(url), allow);
  } catch (err) {
    // One answer for an address that is private, a name that resolves to one and a name that
    // does not resolve: telling them apart would let any key map the server's network and
    // its DNS (which internal names exist, and where they point). The reason is logged.
    const code = (err as { code?: unknown }).code;
    const reason = err instanceof OutboundRefusedError ? err.message : `the host could not be resolved (${typeof code === 'string' ? code : 'DNS error'})`;
    logger?.warn({ callbackHost: new URL(url).hostname, reason }, 'callback_url refused');
    throw new AppError('INVALID_CALLBACK_URL', CALLBACK_TARGET_REFUSED, { cause: err });
  }
  return url;
}

/** Bytes of a receiver's answer read at most: only the status matters, the rest is dropped. */
const MAX_ANSWER_BYTES = 64 * 1024;

interface Answer {
  status: number;
  retryAfter: string | null;
}

/**
 * POSTs `body` through node:http(s) with a lookup that refuses private
 * addresses, so the address checked is the one connected to (DNS rebinding
 * between check and connect cannot slip through). Redirects are not followed.
 */
async function post(url: string, headers: Record<string, string>, body: string, allow: OutboundAllow, signal: AbortSignal): Promise<Answer> {
  const target = new URL(url);
  // An IP literal never goes through `lookup`: check it here.
  await checkOutboundUrl(target, allow, async () => []);
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<Answer>((resolve, reject) => {
    const req = send(target, { method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) }, lookup: guardedLookup(allow), signal }, (res) => {
      let read = 0;
      const answer = { status: res.statusCode ?? 0, retryAfter: typeof res.headers['retry-after'] === 'string' ? res.headers['retry-after'] : null };
      res.on('data', (chunk: Buffer) => {
        read += chunk.length;
        // A receiver streaming an endless answer must not hold the delivery: the status is known.
        if (read > MAX_ANSWER_BYTES) {
          res.destroy();
          resolve(answer);
        }
      });
      res.on('end', () => resolve(answer));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * Retry-After as delay-seconds or as an HTTP-date (RFC 9110, 10.2.3), in ms,
 * capped at five minutes; undefined when absent, unreadable or not in the future.
 */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null) return undefined;
  const v = value.trim();
  const ms = /^\d+$/.test(v) ? Number(v) * 1000 : Date.parse(v) - now;
  return Number.isFinite(ms) && ms > 0 ? Math.min(ms, 300_000) : undefined;
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/** `X-Hark-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">` (the receiver checks t for replay). */
export function signPayload(secret: string, timestamp: number, body: string): string {
  return `t=${timestamp},v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

export function webhookPayload(job: Job, baseUrl: string) {
  return {
    event: `job.${job.status}`,
    job_id: job.id,
    status: job.status,
    file_name: job.fileName,
    duration_seconds: job.durationSeconds,
    attempts: job.attempts,
    created_at: new Date(job.createdAt).toISOString(),
    finished_at: job.finishedAt === null ? null : new Date(job.finishedAt).toISOString(),
    error: job.errorCode === null || job.status === 'completed' ? null : { code: job.errorCode, message: job.errorMessage },
    text: job.result?.text ?? null,
    links: { self: `${baseUrl}/api/v1/jobs/${job.id}`, result: `${baseUrl}/api/v1/jobs/${job.id}/result` },
  };
}

/**
 * Tells a job's `callback_url` that the job ended. Retries with backoff (and
 * the receiver's Retry-After) up to WEBHOOK_MAX_ATTEMPTS, recording each
 * attempt on the job. A failing webhook never changes the job's own outcome.
 */
export class WebhookSender {
  private readonly inFlight = new Set<string>();
  /** Aborted by stop(): ends waits between attempts and attempts in flight. */
  private readonly stopping = new AbortController();
  /** Delivery attempts by outcome, for metrics (read-only outside). */
  readonly totals = { delivered: 0, retried: 0, failed: 0 };

  constructor(private readonly options: WebhookOptions) {}

  /** Starts delivery in the background (at most once at a time per job). */
  deliver(job: Job): void {
    if (job.callbackUrl === null || this.inFlight.has(job.id) || this.stopping.signal.aborted) return;
    this.inFlight.add(job.id);
    void this.run(job)
      .catch((err: unknown) => this.options.logger.error({ err, jobId: job.id }, 'webhook delivery failed'))
      .finally(() => this.inFlight.delete(job.id));
  }

  /**
   * Stops delivering without waiting out backoffs or a receiver's Retry-After
   * (up to five minutes): a delivery still due stays `pending` with its
   * attempts recorded, and the next start resumes it (see pendingWebhooks).
   */
  async stop(): Promise<void> {
    this.stopping.abort();
    await this.idle();
  }

  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await new Promise((r) => setTimeout(r, 20));
  }

  private async run(job: Job): Promise<void> {
    const { store, logger, secret, maxAttempts, timeoutMs } = this.options;
    const log = logger.child({ jobId: job.id });
    const body = JSON.stringify(webhookPayload(job, this.options.baseUrl()));
    const backoff = this.options.backoffMs ?? ((n: number) => 1000 * 2 ** (n - 1));
    let lastError: string | null = null;
    const stopping = this.stopping.signal;
    for (let attempt = job.webhookAttempts + 1; attempt <= maxAttempts && !stopping.aborted; attempt++) {
      const timestamp = Math.floor(Date.now() / 1000);
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        'user-agent': 'hark-webhook/1',
        'x-hark-event': `job.${job.status}`,
        'x-hark-timestamp': String(timestamp),
        'x-hark-delivery-attempt': String(attempt),
      };
      if (secret) headers['x-hark-signature'] = signPayload(secret, timestamp, body);
      let retryAfterMs: number | undefined;
      let reason: string | undefined;
      try {
        const signal = AbortSignal.any([AbortSignal.timeout(timeoutMs), stopping]);
        const res = await post(job.callbackUrl!, headers, body, this.options.allow, signal);
        if (res.status >= 200 && res.status < 300) {
          await store.setWebhook(job.id, 'delivered', attempt, null);
          this.totals.delivered++;
          log.info({ attempt, status: res.status }, 'webhook delivered');
          return;
        }
        // The status is the receiver's own answer: the key may see it.
        lastError = `delivery failed: HTTP ${res.status}`;
        retryAfterMs = parseRetryAfter(res.retryAfter);
      } catch (err) {
        // Cut short by shutdown: not the receiver's failure; the next start tries this attempt again.
        if (stopping.aborted) return;
        // How the connection went (refused, timed out, no such name, a private address after a
        // DNS change) would tell the key what answers where on the server's network: it gets
        // the fact, the server log the reason.
        lastError = 'delivery failed: no 2xx answer';
        reason = err instanceof Error ? err.message : String(err);
      }
      const last = attempt === maxAttempts;
      this.totals[last ? 'failed' : 'retried']++;
      await store.setWebhook(job.id, last ? 'failed' : 'pending', attempt, lastError);
      log.warn({ attempt, maxAttempts, error: lastError, reason }, last ? 'webhook failed, giving up' : 'webhook failed, will retry');
      if (!last) await pause(retryAfterMs ?? backoff(attempt), stopping);
    }
  }
}
