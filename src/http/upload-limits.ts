import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Config } from '../config/index.js';
import { AppError } from '../errors.js';

/**
 * Retry-After for an upload over its cap. An upload in flight ends when its
 * sender finishes (or at REQUEST_TIMEOUT_SECONDS), which says nothing about
 * when: this is a polite pause, not an estimate.
 */
const RETRY_AFTER_SECONDS = 5;

/** Uploads in flight per holder (an API key or a client address), up to `max` each; 0 = no cap. */
class InFlight {
  /** Holders at zero are deleted, so the map holds only who is uploading now (addresses are many). */
  private readonly counts = new Map<string, number>();

  constructor(readonly max: number) {}

  /** Counts one more for `holder`; false (and nothing counted) when it is at the cap. */
  take(holder: string): boolean {
    const n = this.counts.get(holder) ?? 0;
    if (n >= this.max) return false;
    this.counts.set(holder, n + 1);
    return true;
  }

  give(holder: string): void {
    const n = (this.counts.get(holder) ?? 0) - 1;
    if (n > 0) this.counts.set(holder, n);
    else this.counts.delete(holder);
  }
}

/** Each counted request's release, for `uploadReceived` (keyed by the raw request: gone with it). */
const releases = new WeakMap<FastifyRequest['raw'], () => void>();

/**
 * The request's upload is in (or failed): it stops counting against its key's
 * and address's caps, though the request goes on (a transcription). Safe on
 * any request, and twice.
 */
export function uploadReceived(request: FastifyRequest): void {
  releases.get(request.raw)?.();
}

function overCap(setting: 'KEY_MAX_UPLOADS' | 'ADDRESS_MAX_UPLOADS', max: number): AppError {
  const from = setting === 'KEY_MAX_UPLOADS' ? 'this API key' : 'this client address';
  return new AppError(
    'RATE_LIMITED',
    `${max} uploads from ${from} are already being received (${setting}=${max}); send this one when one of them is in, in ${RETRY_AFTER_SECONDS} s or later`,
    { details: { retry_after_seconds: RETRY_AFTER_SECONDS, max_uploads: max } },
  );
}

/**
 * KEY_MAX_UPLOADS and ADDRESS_MAX_UPLOADS: uploads one API key, and one client
 * address (`request.ip`, which TRUST_PROXY decides), may have in flight on the
 * routes that take one (`config.upload`). Over a cap the request gets 429
 * RATE_LIMITED before a byte of its body is read. A request counts from then
 * until its upload is received (`uploadReceived`) or its response closes,
 * whichever comes first: a count that leaked would lock a key out for good,
 * so the response's `close`, which Node emits on every end (answered, client
 * gone, request timeout), gives it back.
 *
 * A preParsing hook: after the key check and the rate limit (onRequest), and
 * before the body. Add it after `installAccess`, before the routes.
 */
export function installUploadLimits(app: FastifyInstance, config: Config): void {
  const perKey = new InFlight(config.KEY_MAX_UPLOADS);
  const perAddress = new InFlight(config.ADDRESS_MAX_UPLOADS);
  app.addHook('preParsing', async (request, reply) => {
    if (request.routeOptions.config.upload === undefined) return;
    const key = perKey.max > 0 ? request.apiKey?.id : undefined;
    const address = perAddress.max > 0 ? request.ip : undefined;
    if (key !== undefined && !perKey.take(key)) throw overCap('KEY_MAX_UPLOADS', perKey.max);
    if (address !== undefined && !perAddress.take(address)) {
      if (key !== undefined) perKey.give(key);
      throw overCap('ADDRESS_MAX_UPLOADS', perAddress.max);
    }
    if (key === undefined && address === undefined) return;
    let counted = true;
    const release = () => {
      if (!counted) return;
      counted = false;
      releases.delete(request.raw);
      if (key !== undefined) perKey.give(key);
      if (address !== undefined) perAddress.give(address);
    };
    releases.set(request.raw, release);
    reply.raw.once('close', release);
    // A client gone while the key was looked up: its `close` was emitted before the listener was added.
    if (reply.raw.destroyed) release();
  });
}
