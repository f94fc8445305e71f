import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import fastifyRateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest, onRouteHookHandler, RouteOptions } from 'fastify';
import { hashApiKey } from '../auth/keys.js';
import type { Config } from '../config/index.js';
import { AppError } from '../errors.js';
import type { ApiKeyRecord, ApiKeyScope, ApiKeyStore } from '../store/index.js';

/**
 * What authentication needs from the store: one indexed read per request (so a
 * revoke takes effect at once), and the logout that voids a key's session cookies.
 */
export type KeyLookup = Pick<ApiKeyStore, 'findApiKeyByHash' | 'findApiKeyById' | 'endSessions'>;

/**
 * Who may call a route when AUTH_MODE=api_key: a key with that scope; `any`, any
 * valid key (chosen on purpose: the page's session, server settings); `public`,
 * anyone without a key (probes, the web page and its files, the API docs).
 */
export type RouteScope = ApiKeyScope | 'any' | 'public';

/**
 * hark's authorization keys of a route's `config`. Policy sits on the route and
 * is read from the route the router matched, never from `request.url` (which the
 * router percent-decodes, takes in absolute form and cuts at `#`).
 */
export interface AuthRouteConfig {
  /** Required on every route: the app refuses to start with a route that has none (requireRouteScopes). */
  scope?: RouteScope;
  /**
   * A WebSocket upgrade: the key may also come as `?api_key=`, or a stream ticket
   * as `?ticket=` (browsers cannot set headers on a WebSocket), and the page's
   * session cookie never stands for one.
   */
  websocketKey?: boolean;
  /**
   * On a `public` route: a key sent anyway is checked, and when valid is the
   * request's `apiKey`, so the handler may show it more (/readyz: detail to admin).
   * A wrong key is no error here (a probe must not fail on it), but counts as a failure.
   */
  keyOptional?: boolean;
  /** METRICS_TOKEN opens the route as well (a Prometheus scraper needs no API key). */
  metricsToken?: boolean;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The key this request came with (AUTH_MODE=api_key), once authenticated. */
    apiKey?: ApiKeyRecord;
  }
  // Declaration merging adds hark's route config keys to Fastify's.
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  interface FastifyContextConfig extends AuthRouteConfig {}
}

/**
 * An onRoute hook that gives `config` to the routes of a plugin that takes no
 * route config of its own (@fastify/static, @fastify/swagger-ui). Add it to an
 * encapsulated context around that plugin only, or name its routes in `only`
 * where the plugin must sit in the root context; a route's own keys win.
 */
export function routeDefaults(defaults: AuthRouteConfig, only: (route: RouteOptions) => boolean = () => true): onRouteHookHandler {
  return (route) => {
    if (only(route)) route.config = { ...defaults, ...route.config };
  };
}

/**
 * Refuses to start an app that has a route without a declared scope, so a new
 * route never falls back to "any valid key" unnoticed; in every AUTH_MODE, so any
 * test that starts the app catches it. Checked when the app gets ready rather than
 * as each route is added, because routeDefaults runs in an inner context, after
 * this (outer) onRoute hook. Call first, before any plugin adds a route.
 */
export function requireRouteScopes(app: FastifyInstance): void {
  const routes: DeclaredRoute[] = [];
  app.addHook('onRoute', (route) => {
    // Method and path now; the config is read later, once every onRoute hook has had its say.
    for (const method of [route.method].flat()) routes.push({ method, url: route.url, route });
  });
  declared.set(app, routes);
  app.addHook('onReady', async () => {
    const missing = routeScopes(app).filter((r) => r.scope === undefined);
    if (missing.length > 0) {
      const list = missing.map((r) => `${r.method} ${r.url}`).join(', ');
      throw new AppError('INTERNAL_ERROR', `routes without an authorization scope (declare config.scope): ${list}`);
    }
  });
}

interface DeclaredRoute {
  method: string;
  url: string;
  route: RouteOptions;
}

const declared = new WeakMap<FastifyInstance, DeclaredRoute[]>();

/** Every route of an app set up with requireRouteScopes, with the scope it declares (for tests and review). */
export function routeScopes(app: FastifyInstance): { method: string; url: string; scope: RouteScope | undefined }[] {
  return (declared.get(app) ?? []).map(({ method, url, route }) => ({ method, url, scope: route.config?.scope }));
}

/** A query parameter of a WebSocket route (the only routes that take credentials in the URL). */
function socketQuery(request: FastifyRequest, route: AuthRouteConfig, name: string): string | undefined {
  if (route.websocketKey !== true) return undefined;
  const q = (request.query as Record<string, unknown> | undefined)?.[name];
  return typeof q === 'string' && q !== '' ? q : undefined;
}

/** The key a request presents: Bearer, X-API-Key, or (WebSocket routes only) `?api_key=`. */
function presentedKey(request: FastifyRequest, route: AuthRouteConfig): string | undefined {
  const auth = request.headers.authorization;
  const bearer = auth === undefined ? undefined : /^Bearer\s+(\S+)\s*$/i.exec(auth)?.[1];
  if (bearer !== undefined) return bearer;
  const header = request.headers['x-api-key'];
  if (typeof header === 'string' && header !== '') return header;
  // Browsers cannot set headers on a WebSocket, so the stream also takes the key in the query
  // (the logged URL has it redacted: see src/logger.ts).
  return socketQuery(request, route, 'api_key');
}

/**
 * The web page's session: a cookie that stands for a key on GET and HEAD only,
 * for what a browser fetches without letting the page set a header (the job
 * log's EventSource, the audio player, download links). The page makes it with
 * POST /api/v1/session and its key. Value: key id, expiry, and an HMAC of both
 * keyed with the key's stored hash, so any instance can check it with the one
 * read it does for a key anyway, and a revoke ends it at once. A database reader
 * could mint one, but such a reader has the transcripts already.
 * HttpOnly (no script reads it), SameSite=Strict (never sent from another site),
 * a browser-session cookie (gone with the browser), Secure over HTTPS (as a
 * trusted proxy says, TRUST_PROXY); it never authorises a write, nor the WebSocket
 * (which takes a stream ticket). The expiry is in ms, so its issue time (expiry
 * minus SESSION_MS) can be compared with the key's `sessionsValidAfter`: a logout
 * (endSessions) voids every cookie issued until then, copies included.
 */
export const SESSION_COOKIE = 'hark_session';
const SESSION_MS = 12 * 3600 * 1000;

function sessionMac(record: ApiKeyRecord, expires: number): string {
  return createHmac('sha256', record.keyHash).update(`${record.id}.${expires}`).digest('base64url');
}

/** Sets the session cookie for `record` on `reply`. */
export function setSessionCookie(request: FastifyRequest, reply: FastifyReply, record: ApiKeyRecord, now = Date.now()): void {
  // Issued after any logout of this key that the store has recorded, even one in this same millisecond.
  const issued = Math.max(now, (record.sessionsValidAfter ?? 0) + 1);
  const expires = issued + SESSION_MS;
  const secure = request.protocol === 'https' ? '; Secure' : '';
  void reply.header('set-cookie', `${SESSION_COOKIE}=${record.id}.${expires}.${sessionMac(record, expires)}; Path=/; HttpOnly; SameSite=Strict${secure}`);
}

/** Tells the browser to drop the session cookie (the server voids it with KeyLookup.endSessions). */
export function clearSessionCookie(reply: FastifyReply): void {
  void reply.header('set-cookie', `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`);
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** The session cookie, where it may stand for a key: GET and HEAD, not the WebSocket upgrade. */
function sessionCookie(request: FastifyRequest, route: AuthRouteConfig): string | undefined {
  if ((request.method !== 'GET' && request.method !== 'HEAD') || route.websocketKey === true) return undefined;
  return cookieValue(request.headers.cookie, SESSION_COOKIE);
}

/** The key an authentic, unexpired session cookie not ended by a logout stands for (revoked or not: the caller checks). */
async function sessionKey(keys: KeyLookup, value: string, now: number): Promise<ApiKeyRecord | undefined> {
  const [id, expiresText, mac, ...rest] = value.split('.');
  const expires = Number(expiresText);
  if (id === undefined || mac === undefined || rest.length > 0 || !Number.isSafeInteger(expires) || expires <= now) return undefined;
  const record = await keys.findApiKeyById(id);
  if (record === undefined || !sameSecret(mac, sessionMac(record, expires))) return undefined;
  return expires - SESSION_MS > (record.sessionsValidAfter ?? -Infinity) ? record : undefined;
}

/**
 * Stream tickets: what the page opens a WebSocket with instead of putting its key
 * in the URL (`POST /api/v1/stream-ticket`, then `?ticket=`). Key id, expiry (ms),
 * a random nonce, and an HMAC of the three keyed with the key's stored hash, like
 * the session cookie (and told apart from one by the MAC's prefix). Good for one
 * upgrade within TICKET_MS; single use is tracked in memory per server process,
 * so with several instances a ticket could open one stream on each of them in
 * those seconds, which is all a copy from a log could do.
 */
export const TICKET_MS = 60_000;

function ticketMac(record: ApiKeyRecord, expires: number, nonce: string): string {
  return createHmac('sha256', record.keyHash).update(`stream-ticket.${record.id}.${expires}.${nonce}`).digest('base64url');
}

/** A new stream ticket for `record`. */
export function mintStreamTicket(record: ApiKeyRecord, now = Date.now()): { ticket: string; expiresInSeconds: number } {
  const expires = now + TICKET_MS;
  const nonce = randomBytes(18).toString('base64url');
  return { ticket: `${record.id}.${expires}.${nonce}.${ticketMac(record, expires, nonce)}`, expiresInSeconds: TICKET_MS / 1000 };
}

/** Nonces of redeemed tickets until their expiry: each ticket opens one stream. */
class RedeemedTickets {
  private readonly used = new Map<string, number>();

  /** False when `nonce` was redeemed already; else records it. */
  take(nonce: string, expires: number, now: number): boolean {
    if (this.used.has(nonce)) return false;
    // Expired nonces can go: their tickets are refused by expiry anyway.
    for (const [n, e] of this.used) if (e <= now) this.used.delete(n);
    this.used.set(nonce, expires);
    return true;
  }
}

/** The key an authentic, unexpired, unused stream ticket stands for (revoked or not: the caller checks). */
async function ticketKey(keys: KeyLookup, redeemed: RedeemedTickets, value: string, now: number): Promise<ApiKeyRecord | undefined> {
  const [id, expiresText, nonce, mac, ...rest] = value.split('.');
  const expires = Number(expiresText);
  if (id === undefined || nonce === undefined || mac === undefined || rest.length > 0) return undefined;
  if (!Number.isSafeInteger(expires) || expires <= now || expires > now + TICKET_MS) return undefined;
  const record = await keys.findApiKeyById(id);
  if (record === undefined || !sameSecret(mac, ticketMac(record, expires, nonce))) return undefined;
  return redeemed.take(nonce, expires, now) ? record : undefined;
}

/**
 * Failed authentications per client address in the current minute. Past the
 * budget (RATE_LIMIT_PER_MINUTE) every request of that address to a route that
 * needs a key gets 429 until the minute ends, before its key is looked at: a
 * right guess then looks the same as a wrong one. The route-level rate limit
 * cannot do this: it counts per key, after the key check.
 */
class FailedAuthentications {
  private readonly counts = new Map<string, { failures: number; resetAt: number }>();

  constructor(private readonly budget: number) {}

  /** Seconds until `address` may try again; 0 when it may now. */
  blockedFor(address: string, now: number): number {
    const c = this.counts.get(address);
    if (c === undefined || this.budget === 0) return 0;
    if (c.resetAt <= now) {
      this.counts.delete(address);
      return 0;
    }
    return c.failures >= this.budget ? Math.max(1, Math.ceil((c.resetAt - now) / 1000)) : 0;
  }

  fail(address: string, now: number): void {
    if (this.budget === 0) return;
    const c = this.counts.get(address);
    if (c !== undefined && c.resetAt > now) {
      c.failures++;
      return;
    }
    // Bounded memory against guesses spread over many addresses: drop the expired, then the oldest.
    if (this.counts.size >= 10_000) {
      for (const [a, e] of this.counts) if (e.resetAt <= now) this.counts.delete(a);
      for (const a of this.counts.keys()) {
        if (this.counts.size < 10_000) break;
        this.counts.delete(a);
      }
    }
    this.counts.set(address, { failures: 1, resetAt: now + 60_000 });
  }
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function unauthorized(message: string): AppError {
  return new AppError('UNAUTHORIZED', message);
}

/** True when the request's key may see a job made by `apiKeyId` (its own, or any with admin). */
export function canSeeJob(request: FastifyRequest, apiKeyId: string | null): boolean {
  const key = request.apiKey;
  return key === undefined || key.scopes.includes('admin') || key.id === apiKeyId;
}

/**
 * AUTH_MODE=api_key: every route but the public ones needs a valid, unrevoked key
 * with the scope its config declares. An onRequest hook: the router has matched the
 * route by then, and the rate limit (a route-level hook, after it) can count per key.
 * Failed authentications are counted per client address (FailedAuthentications).
 */
export function installAuth(app: FastifyInstance, config: Config, keys: KeyLookup): void {
  const failures = new FailedAuthentications(rateLimitPerMinute(config));
  const redeemed = new RedeemedTickets();
  app.addHook('onRequest', async (request, reply) => {
    // No route matched: the not-found handler answers 404 (or 405), which reveals nothing a key guards.
    if (request.is404) return;
    const route = request.routeOptions.config;
    const scope = route.scope;
    // requireRouteScopes refuses to start without one; should a route slip through, it is closed, not open.
    if (scope === undefined) throw new AppError('INTERNAL_ERROR', `the route ${request.routeOptions.url ?? ''} declares no scope`);
    if (scope === 'public' && route.keyOptional !== true) return;
    const now = Date.now();
    const key = presentedKey(request, route);
    if (scope === 'public') {
      // A key on an open route: known to the handler when valid; never an error, never looked up past the budget.
      if (key === undefined || failures.blockedFor(request.ip, now) > 0) return;
      const record = await keys.findApiKeyByHash(hashApiKey(key));
      if (record === undefined || record.revokedAt !== null) failures.fail(request.ip, now);
      else request.apiKey = record;
      return;
    }
    const blocked = failures.blockedFor(request.ip, now);
    if (blocked > 0) {
      throw new AppError('RATE_LIMITED', `too many failed authentications from this address; retry in ${blocked} s (RATE_LIMIT_PER_MINUTE)`, {
        details: { retry_after_seconds: blocked },
      });
    }
    if (route.metricsToken === true && config.METRICS_TOKEN !== undefined && key !== undefined && sameSecret(key, config.METRICS_TOKEN)) return;
    const ticket = key === undefined ? socketQuery(request, route, 'ticket') : undefined;
    const session = key === undefined && ticket === undefined ? sessionCookie(request, route) : undefined;
    let record: ApiKeyRecord | undefined;
    if (key !== undefined) record = await keys.findApiKeyByHash(hashApiKey(key));
    else if (ticket !== undefined) record = await ticketKey(keys, redeemed, ticket, now);
    else if (session !== undefined) record = await sessionKey(keys, session, now);
    if (record === undefined || record.revokedAt !== null) {
      failures.fail(request.ip, now);
      void reply.header('www-authenticate', key === undefined ? 'Bearer realm="hark"' : 'Bearer realm="hark", error="invalid_token"');
      if (key !== undefined) throw unauthorized('the API key is not valid (unknown or revoked)');
      if (ticket !== undefined) throw unauthorized('the stream ticket is not valid (expired, used already, or its key was revoked): ask POST /api/v1/stream-ticket for another');
      throw unauthorized(
        session === undefined
          ? 'an API key is required: send it as "Authorization: Bearer <key>" or "X-API-Key: <key>"'
          : 'the page\'s session has ended (expired, logged out, or its key was revoked): enter the key again',
      );
    }
    request.apiKey = record;
    if (scope !== 'any' && !record.scopes.includes(scope)) {
      throw new AppError('FORBIDDEN', `this API key lacks the "${scope}" scope that ${request.method} ${request.routeOptions.url ?? ''} needs`, {
        details: { required_scope: scope },
      });
    }
  });
}

/** RATE_LIMIT_PER_MINUTE when empty and AUTH_MODE=api_key. */
export const DEFAULT_RATE_LIMIT = 120;

/** RATE_LIMIT_PER_MINUTE as it applies: the default with keys, off (0) without. */
function rateLimitPerMinute(config: Config): number {
  // Without keys there is no one to count per but an IP (often a proxy's), so the limit is opt-in there.
  return config.RATE_LIMIT_PER_MINUTE ?? (config.AUTH_MODE === 'api_key' ? DEFAULT_RATE_LIMIT : 0);
}

/**
 * RATE_LIMIT_PER_MINUTE per key (per client IP without one), with RateLimit-* headers.
 * Register before the routes: the plugin attaches itself to routes added after it.
 * A route opts out in its config (`rateLimit: false`: the probes).
 */
export async function installRateLimit(app: FastifyInstance, config: Config): Promise<void> {
  const max = rateLimitPerMinute(config);
  if (max === 0) return;
  await app.register(fastifyRateLimit, {
    global: true,
    max,
    timeWindow: 60_000,
    // IETF draft RateLimit-Limit/-Remaining/-Reset headers rather than X-RateLimit-*.
    enableDraftSpec: true,
    keyGenerator: (request) => (request.apiKey === undefined ? `ip:${request.ip}` : `key:${request.apiKey.id}`),
    errorResponseBuilder: (_request, context) => {
      const seconds = Math.max(1, Math.ceil(context.ttl / 1000));
      return new AppError('RATE_LIMITED', `more than ${context.max} requests in a minute; retry in ${seconds} s (RATE_LIMIT_PER_MINUTE)`, {
        details: { retry_after_seconds: seconds, limit_per_minute: context.max },
      });
    },
  });
}

/** Authentication and rate limits, as AUTH_MODE and RATE_LIMIT_PER_MINUTE say; call before any route is added. */
export async function installAccess(app: FastifyInstance, config: Config, keys: KeyLookup | undefined, loopback: boolean): Promise<void> {
  if (config.AUTH_MODE === 'api_key') {
    if (keys === undefined) throw new Error('AUTH_MODE=api_key needs the job store (it holds the keys)');
    installAuth(app, config, keys);
  } else if (!loopback) {
    app.log.warn(
      { host: config.HOST },
      'AUTH_MODE=none on a non-loopback address: ANYONE who can reach this port can transcribe, read every job and see /debug. Set AUTH_MODE=api_key (see `hark keys create`) or bind HOST=127.0.0.1',
    );
  }
  await installRateLimit(app, config);
}
