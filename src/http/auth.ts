import { createHmac, timingSafeEqual } from 'node:crypto';
import fastifyRateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest, onRouteHookHandler, RouteOptions } from 'fastify';
import { hashApiKey } from '../auth/keys.js';
import type { Config } from '../config/index.js';
import { AppError } from '../errors.js';
import type { ApiKeyRecord, ApiKeyScope, ApiKeyStore } from '../store/index.js';

/** What authentication needs from the store: one indexed read per request (so a revoke takes effect at once). */
export type KeyLookup = Pick<ApiKeyStore, 'findApiKeyByHash' | 'findApiKeyById'>;

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
   * A WebSocket upgrade: the key may also come as `?api_key=` (browsers cannot set
   * headers on a WebSocket), and the page's session cookie never stands for one.
   */
  websocketKey?: boolean;
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

/** The key a request presents: Bearer, X-API-Key, or (WebSocket routes only) `?api_key=`. */
function presentedKey(request: FastifyRequest, route: AuthRouteConfig): string | undefined {
  const auth = request.headers.authorization;
  const bearer = auth === undefined ? undefined : /^Bearer\s+(\S+)\s*$/i.exec(auth)?.[1];
  if (bearer !== undefined) return bearer;
  const header = request.headers['x-api-key'];
  if (typeof header === 'string' && header !== '') return header;
  // Browsers cannot set headers on a WebSocket, so the stream also takes the key in the query.
  if (route.websocketKey === true) {
    const q = (request.query as Record<string, unknown> | undefined)?.['api_key'];
    if (typeof q === 'string' && q !== '') return q;
  }
  return undefined;
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
 * a browser-session cookie (gone with the browser), Secure over HTTPS; it never
 * authorises a write, nor the WebSocket (which takes `?api_key=`).
 */
export const SESSION_COOKIE = 'hark_session';
const SESSION_SECONDS = 12 * 3600;

function sessionMac(record: ApiKeyRecord, expires: number): string {
  return createHmac('sha256', record.keyHash).update(`${record.id}.${expires}`).digest('base64url');
}

/** Sets the session cookie for `record` on `reply`. */
export function setSessionCookie(request: FastifyRequest, reply: FastifyReply, record: ApiKeyRecord, now = Date.now()): void {
  const expires = Math.floor(now / 1000) + SESSION_SECONDS;
  const secure = request.protocol === 'https' ? '; Secure' : '';
  void reply.header('set-cookie', `${SESSION_COOKIE}=${record.id}.${expires}.${sessionMac(record, expires)}; Path=/; HttpOnly; SameSite=Strict${secure}`);
}

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

/** The key an authentic, unexpired session cookie stands for (revoked or not: the caller checks). */
async function sessionKey(keys: KeyLookup, value: string, now: number): Promise<ApiKeyRecord | undefined> {
  const [id, expiresText, mac, ...rest] = value.split('.');
  const expires = Number(expiresText);
  if (id === undefined || mac === undefined || rest.length > 0 || !Number.isSafeInteger(expires) || expires * 1000 <= now) return undefined;
  const record = await keys.findApiKeyById(id);
  return record !== undefined && sameSecret(mac, sessionMac(record, expires)) ? record : undefined;
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
 */
export function installAuth(app: FastifyInstance, config: Config, keys: KeyLookup): void {
  app.addHook('onRequest', async (request, reply) => {
    // No route matched: the not-found handler answers 404 (or 405), which reveals nothing a key guards.
    if (request.is404) return;
    const route = request.routeOptions.config;
    const scope = route.scope;
    // requireRouteScopes refuses to start without one; should a route slip through, it is closed, not open.
    if (scope === undefined) throw new AppError('INTERNAL_ERROR', `the route ${request.routeOptions.url ?? ''} declares no scope`);
    if (scope === 'public') return;
    const key = presentedKey(request, route);
    if (route.metricsToken === true && config.METRICS_TOKEN !== undefined && key !== undefined && sameSecret(key, config.METRICS_TOKEN)) return;
    const session = key === undefined ? sessionCookie(request, route) : undefined;
    let record: ApiKeyRecord | undefined;
    if (key !== undefined) record = await keys.findApiKeyByHash(hashApiKey(key));
    else if (session !== undefined) record = await sessionKey(keys, session, Date.now());
    if (record === undefined || record.revokedAt !== null) {
      void reply.header('www-authenticate', key === undefined ? 'Bearer realm="hark"' : 'Bearer realm="hark", error="invalid_token"');
      if (key !== undefined) throw unauthorized('the API key is not valid (unknown or revoked)');
      throw unauthorized(
        session === undefined
          ? 'an API key is required: send it as "Authorization: Bearer <key>" or "X-API-Key: <key>"'
          : 'the page\'s session has expired or its key was revoked: enter the key again',
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

/**
 * RATE_LIMIT_PER_MINUTE per key (per client IP without one), with RateLimit-* headers.
 * Register before the routes: the plugin attaches itself to routes added after it.
 * A route opts out in its config (`rateLimit: false`: the probes).
 */
export async function installRateLimit(app: FastifyInstance, config: Config): Promise<void> {
  // Without keys there is no one to count per but an IP (often a proxy's), so the limit is opt-in there.
  const max = config.RATE_LIMIT_PER_MINUTE ?? (config.AUTH_MODE === 'api_key' ? DEFAULT_RATE_LIMIT : 0);
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
