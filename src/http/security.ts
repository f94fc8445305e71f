import type { ServerOptions } from 'node:http';
import fastifyCors from '@fastify/cors';
import fastifyHelmet from '@fastify/helmet';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config/index.js';

/**
 * The API answers JSON, text and audio, never a page: it may load nothing and
 * be framed by nobody. The web page (routes/ui.ts) and /docs set their own.
 */
const API_CSP = {
  defaultSrc: ["'none'"],
  baseUri: ["'none'"],
  formAction: ["'none'"],
  frameAncestors: ["'none'"],
};

/**
 * swagger-ui loads only its own files from /docs, but styles elements inline
 * and draws icons as data: images; nothing comes from elsewhere.
 */
export const DOCS_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Largest request head (request line and headers) Node reads; past it, 431. */
export const MAX_HEADER_BYTES = 16 * 1024;
/** Headers read per request; hark needs a dozen, the rest are dropped. */
const MAX_HEADERS_COUNT = 100;
/** A client has this long to send its request head (at most the whole request's limit). */
const HEADERS_TIMEOUT_MS = 30_000;

/**
 * Options for Node's HTTP server: the head size limit, and a check of request
 * time limits often enough that a short REQUEST_TIMEOUT_SECONDS is kept (Node
 * checks every 30 s by default).
 */
export function httpServerOptions(config: Config): ServerOptions {
  const requestMs = config.REQUEST_TIMEOUT_SECONDS * 1000;
  return { maxHeaderSize: MAX_HEADER_BYTES, connectionsCheckingInterval: Math.min(30_000, Math.max(250, requestMs / 4)) };
}

/**
 * Security headers (helmet) on every answer, CORS for CORS_ORIGINS only, and
 * the slow-client limits Fastify has no option for. Registered before the
 * access check so a CORS preflight (which carries no key) is answered.
 */
export async function installHttpSecurity(app: FastifyInstance, config: Config): Promise<void> {
  const requestMs = config.REQUEST_TIMEOUT_SECONDS * 1000;
  // A body that trickles in (slow loris) is cut at requestTimeout (set in Fastify's options); the head sooner.
  app.server.headersTimeout = Math.min(HEADERS_TIMEOUT_MS, requestMs);
  app.server.maxHeadersCount = MAX_HEADERS_COUNT;

  await app.register(fastifyHelmet, {
    contentSecurityPolicy: { useDefaults: false, directives: API_CSP },
    // The page fetches its own API only; this keeps other sites from embedding answers (audio, transcripts).
    crossOriginResourcePolicy: { policy: 'same-origin' },
  });
  // The page's own CSP is set by its routes after helmet's; swagger-ui needs inline styles.
  app.addHook('onSend', async (request, reply) => {
    const path = request.url.split('?')[0] ?? '';
    if ((path === '/docs' || path.startsWith('/docs/')) && !path.startsWith('/docs/json') && !path.startsWith('/docs/yaml')) {
      void reply.header('content-security-policy', DOCS_CSP);
    }
  });

  await app.register(fastifyCors, {
    // An empty list matches no origin: no cross-origin access, preflights answered without Allow-Origin.
    origin: [...config.CORS_ORIGINS],
    credentials: false,
    exposedHeaders: ['x-request-id', 'location', 'retry-after', 'ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset'],
    maxAge: 600,
  });
}
