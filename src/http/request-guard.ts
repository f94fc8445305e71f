import { isIP } from 'node:net';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Config } from '../config/index.js';
import { AppError } from '../errors.js';

/*
 * What a web page on another site can make a visitor's browser do to hark. CORS
 * keeps such a page from reading answers, but not from sending: a form POST, a
 * WebSocket (which CORS does not cover at all), or, after DNS rebinding (the
 * page's own name re-pointed at 127.0.0.1), any request at all, now "same-origin"
 * to the browser. With AUTH_MODE=api_key the page has no key to send; without
 * keys, these checks are what stands between a visited page and every job.
 */

/** A Host value split into lower-case name (IPv6 without brackets, no trailing dot) and port. */
interface HostName {
  name: string;
  port: string | undefined;
}

/** Parses a Host header, an X-Forwarded-Host or an ALLOWED_HOSTS entry; undefined when it is none of those. */
export function parseHost(value: string): HostName | undefined {
  const v = value.trim().toLowerCase();
  const m = /^\[([0-9a-f:.]+)\](?::(\d{1,5}))?$/.exec(v) ?? /^([^:[\]\s/@]+?)\.?(?::(\d{1,5}))?$/.exec(v);
  if (m === null || m[1] === undefined || m[1] === '') return undefined;
  return { name: m[1], port: m[2] };
}

/**
 * True for a Host no DNS rebinding can produce: a loopback name (RFC 6761 keeps
 * `localhost` and `*.localhost` on this machine) or an IP address. A rebinding
 * page reaches the server under its own DNS name, which the browser then sends
 * as Host; an address in Host means the client named this server by address,
 * which no other site can arrange. So a probe that sends the pod IP passes.
 */
function needsNoListing(host: HostName): boolean {
  return host.name === 'localhost' || host.name.endsWith('.localhost') || isIP(host.name) !== 0;
}

/** ALLOWED_HOSTS as a predicate: `*` any, `name` on any port, `name:port` on that port. */
function allowedHosts(entries: readonly string[]): (host: HostName) => boolean {
  if (entries.includes('*')) return () => true;
  const parsed = entries.map(parseHost).filter((h) => h !== undefined);
  return (host) => parsed.some((a) => a.name === host.name && (a.port === undefined || a.port === host.port));
}

const DEFAULT_PORT: Record<string, string> = { 'http:': '80', 'https:': '443', 'ws:': '80', 'wss:': '443' };

/** True when `origin` is this server as the client named it in `host` (scheme aside, ports compared). */
function sameHost(origin: URL, host: string | undefined): boolean {
  const h = host === undefined ? undefined : parseHost(host);
  if (h === undefined) return false;
  const port = origin.port === '' ? DEFAULT_PORT[origin.protocol] : origin.port;
  return origin.hostname.replace(/^\[|\]$/g, '').toLowerCase() === h.name && (h.port ?? DEFAULT_PORT[origin.protocol]) === port;
}

/**
 * Whether a request's `Origin` is this server itself (as the Host, or the
 * forwarded host of a trusted proxy, names it) or one of CORS_ORIGINS. `null`
 * (a sandboxed frame, a privacy redirect) is neither.
 */
function trustedOrigin(request: FastifyRequest, origin: string, cors: readonly string[]): boolean {
  if (cors.includes(origin)) return true;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  return sameHost(url, request.headers.host) || sameHost(url, request.host);
}

/** What an error message may repeat of a client's header: short, printable. */
function quoted(value: string): string {
  return JSON.stringify(value.length > 100 ? `${value.slice(0, 100)}…` : value);
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

function isWebSocketUpgrade(request: FastifyRequest): boolean {
  return request.routeOptions.config.websocketKey === true || String(request.headers.upgrade ?? '').toLowerCase() === 'websocket';
}

/**
 * Checks every request before authentication (an onRequest hook; call before
 * installAccess):
 * - in every AUTH_MODE, a WebSocket upgrade whose Origin is neither this server
 *   nor in CORS_ORIGINS gets 403 CROSS_SITE_REQUEST (clients that send no Origin,
 *   as the CLI and SDKs, are not browsers and pass);
 * - with AUTH_MODE=none, a Host (and a trusted proxy's forwarded host) must be a
 *   loopback name, an address, or in ALLOWED_HOSTS, else 403 HOST_NOT_ALLOWED
 *   (DNS rebinding); and a write (any method but GET, HEAD, OPTIONS) whose Origin
 *   is another site's, or without Origin whose Sec-Fetch-Site is `cross-site` or
 *   `same-site`, gets 403 CROSS_SITE_REQUEST (a form on a visited page).
 */
export function installRequestGuards(app: FastifyInstance, config: Config, loopback: boolean): void {
  const keysOff = config.AUTH_MODE === 'none';
  const listed = allowedHosts(config.ALLOWED_HOSTS);
  if (keysOff && !loopback && config.ALLOWED_HOSTS.length === 0) {
    app.log.warn(
      { host: config.HOST },
      'AUTH_MODE=none and ALLOWED_HOSTS is empty: requests that name this server by a host name other than localhost (a browser at http://my-server:8000, an ingress) get 403 HOST_NOT_ALLOWED; requests by IP address pass. List the names clients use in ALLOWED_HOSTS',
    );
  }

  app.addHook('onRequest', async (request) => {
    if (keysOff) {
      for (const value of new Set([request.headers.host, request.host])) {
        if (value === undefined || value === '') continue;
        const host = parseHost(value);
        if (host === undefined || (!needsNoListing(host) && !listed(host))) {
          throw new AppError(
            'HOST_NOT_ALLOWED',
            `this server does not answer to the host ${quoted(value)} while AUTH_MODE=none (a guard against DNS rebinding): add the name to ALLOWED_HOSTS, or use localhost or the server's address`,
          );
        }
      }
    }
    const origin = request.headers.origin;
    if (isWebSocketUpgrade(request)) {
      if (origin !== undefined && !trustedOrigin(request, origin, config.CORS_ORIGINS)) {
        throw new AppError('CROSS_SITE_REQUEST', `a page on another site (Origin ${quoted(origin)}) may not open this WebSocket: add its origin to CORS_ORIGINS to allow it`);
      }
      return;
    }
    if (!keysOff || SAFE_METHODS.has(request.method)) return;
    const site = request.headers['sec-fetch-site'];
    const foreign = origin !== undefined ? !trustedOrigin(request, origin, config.CORS_ORIGINS) : site === 'cross-site' || site === 'same-site';
    if (foreign) {
      const from = origin !== undefined ? `Origin ${quoted(origin)}` : `Sec-Fetch-Site: ${site ?? ''}`;
      throw new AppError(
        'CROSS_SITE_REQUEST',
        `a ${request.method} sent by a page on another site (${from}) is refused while AUTH_MODE=none: a visited web page may not act on this server. Add the origin to CORS_ORIGINS to allow it`,
      );
    }
  });
}
