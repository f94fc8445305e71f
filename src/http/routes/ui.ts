import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { routeDefaults } from '../auth.js';
import type { AppDeps } from '../types.js';

/** dist/ui of this checkout: the same relative place from src/http/routes (tsx, tests) and dist/http/routes (built). */
export const DEFAULT_UI_DIR = fileURLToPath(new URL('../../../dist/ui/', import.meta.url));

/**
 * The page may load only what hark itself serves: a second line of defence behind
 * rendering every file name and transcript as text, and a guarantee that nothing
 * is fetched from the internet.
 */
export const UI_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "media-src 'self' blob:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const MISSING_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>hark: web page not built</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; padding: 0 1rem; line-height: 1.5">
<h1>The web page is not built</h1>
<p>hark serves its page from <code>dist/ui</code>, which is missing. Build it once with</p>
<pre>npm run build:ui</pre>
<p>(<code>make run</code> and <code>npm run build</code> do it too), then reload. The API works without it: see <a href="/docs">/docs</a>.</p>
</body></html>
`;

/** A Host header safe to echo into a CSP source: a name or IP literal and a port, nothing else. */
const PLAIN_HOST = /^(?:[a-z0-9.-]+|\[[0-9a-f:.]+\])(?::\d{1,5})?$/i;

/**
 * UI_CSP plus the page's own WebSocket origin (the live microphone): CSP Level 3
 * lets 'self' match ws:/wss: of the same host, but older browsers (Safari before
 * 15.4) need it spelled out. Only this host, never any ws: URL.
 */
function pageCsp(host: string | undefined): string {
  if (host === undefined || !PLAIN_HOST.test(host)) return UI_CSP;
  return UI_CSP.replace("connect-src 'self'", `connect-src 'self' ws://${host} wss://${host}`);
}

function pageHeaders(reply: FastifyReply): void {
  void reply.header('content-security-policy', pageCsp(reply.request.headers.host));
  void reply.header('x-content-type-options', 'nosniff');
  void reply.header('referrer-policy', 'no-referrer');
  // The HTML names the hashed assets of the current build: always revalidate it.
  void reply.header('cache-control', 'no-cache');
}

/**
 * The web page: `/` answers index.html, `/ui/*` the built assets (one route per
 * file, so an unknown path stays an ordinary 404). The client routes with the URL
 * hash, so no other server path needs an index.html fallback.
 */
export const uiRoutes: FastifyPluginAsync<Pick<AppDeps, 'uiDir'>> = async (app, deps) => {
  const dir = deps.uiDir ?? DEFAULT_UI_DIR;
  // The page and every file of it are public: @fastify/static takes no route config, so it comes from here.
  app.addHook('onRoute', routeDefaults({ scope: 'public' }));
  if (!existsSync(join(dir, 'index.html'))) {
    app.log.warn({ uiDir: dir }, 'web page not built (run `npm run build:ui`); / answers a page saying so');
    app.get('/', { schema: { hide: true }, config: { scope: 'public' } }, async (_request, reply) => reply.status(503).type('text/html; charset=utf-8').send(MISSING_PAGE));
    return;
  }
  await app.register(fastifyStatic, {
    root: dir,
    prefix: '/ui/',
    wildcard: false,
    setHeaders: (reply, path) => {
      if (path.endsWith('.html')) pageHeaders(reply);
      // Vite puts a content hash in every asset name: a new build has new names.
      else if (path.includes('/assets/')) void reply.header('cache-control', 'public, max-age=31536000, immutable');
    },
  });
  app.get('/', { schema: { hide: true }, config: { scope: 'public' } }, async (_request, reply) => reply.sendFile('index.html'));
};
