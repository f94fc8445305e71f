import { randomUUID } from 'node:crypto';
import fastifyMultipart from '@fastify/multipart';
import fastifyWebsocket from '@fastify/websocket';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { Logger } from '../logger.js';
import { AppError } from '../errors.js';
import { installAccess, requireRouteScopes, routeDefaults } from './auth.js';
import { frameworkErrors, installErrorHandler, sendError } from './error-handler.js';
import { httpServerOptions, installHttpSecurity } from './security.js';
import { registerOpenApi } from './openapi.js';
import { installRequestGuards } from './request-guard.js';
import { socketErrorHandler } from './stream-socket.js';
import { installStorageGuard } from './storage-guard.js';
import { installUploadLimits } from './upload-limits.js';
import { capacityRoutes } from './routes/capacity.js';
import { debugRoutes } from './routes/debug.js';
import { jobRoutes } from './routes/jobs.js';
import { metricsRoutes } from '../metrics/index.js';
import { healthRoutes } from './routes/health.js';
import { diarizationRoutes } from './routes/diarization.js';
import { openaiRoutes } from './routes/openai.js';
import { modelRoutes } from './routes/models.js';
import { translationRoutes } from './routes/translations.js';
import { sessionRoutes } from './routes/session.js';
import { streamRoutes } from './routes/stream.js';
import { realtimeRoutes } from './routes/realtime.js';
import { serverInfoRoutes } from './routes/server-info.js';
import { transcriptionRoutes } from './routes/transcriptions.js';
import { uiRoutes } from './routes/ui.js';
import type { AppDeps } from './types.js';
import { VERSION } from '../version.js';

export { VERSION };

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

/** Route patterns by method, to tell an unknown path (404) from a wrong method (405). */
function routeTable(app: FastifyInstance): (url: string) => string[] {
  const routes: { pattern: RegExp; method: string }[] = [];
  app.addHook('onRoute', (r) => {
    const pattern = new RegExp(`^${r.url.replace(/:[^/]+/g, '[^/]+').replace(/\*/g, '.*')}/?$`);
    for (const m of [r.method].flat()) if (m !== 'HEAD') routes.push({ pattern, method: m });
  });
  return (url) => [...new Set(routes.filter((r) => r.pattern.test(url.split('?')[0] ?? url)).map((r) => r.method))];
}

/** The HTTP application: plugins, error handling and routes. Listening is the caller's. */
export async function buildApp(deps: AppDeps, logger: Logger): Promise<FastifyInstance> {
  const trustProxy = deps.config.TRUST_PROXY;
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    // Always the server's own: a client-chosen id could pose as another request's in the log.
    genReqId: () => randomUUID(),
    // The client's X-Request-Id (when it is a plain token) is kept beside it, on every line of the request.
    childLoggerFactory: (parent, bindings, options, raw) => {
      const given = raw.headers['x-request-id'];
      const client = typeof given === 'string' && /^[\w.:@/+=-]{1,128}$/.test(given) ? { clientRequestId: given } : {};
      return parent.child({ ...bindings, ...client }, options);
    },
    logController: new LogController({ requestIdLogLabel: 'requestId' }),
    // Whose X-Forwarded-For/-Proto/-Host to believe: the client address (rate limits, caps) and https (Secure cookie).
    // (Fastify takes a hop count at run time, but its types only as a function.)
    trustProxy: typeof trustProxy === 'number' ? (_address: string, hop: number) => hop < trustProxy : trustProxy,
    // Upload bodies are streamed by the multipart parser; JSON bodies are small.
    bodyLimit: 1024 * 1024,
    routerOptions: { maxParamLength: 200 },
    // The router's own refusals (bad percent-encoding, an over-long path part) in hark's shape.
    frameworkErrors,
    // The whole request (upload included) must arrive in this time: a trickling body is cut (slow loris).
    // Answers may take longer (a long synchronous transcription): Node times the request only.
    requestTimeout: deps.config.REQUEST_TIMEOUT_SECONDS * 1000,
    connectionTimeout: 0,
    http: httpServerOptions(deps.config),
  });
  // Before any plugin adds a route: a route that declares no scope stops the start.
  requireRouteScopes(app);
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.addHook('onSend', async (request, reply) => {
    void reply.header('x-request-id', request.id);
    // While the server drains, an answer ends its connection: the client's idle keep-alive
    // socket would otherwise keep the server open (and a SIGTERM waiting) for the whole grace period.
    if (deps.readiness.state === 'stopping') void reply.header('connection', 'close');
  });
  installErrorHandler(app);
  // @fastify/cors (root context: its hooks serve every route) answers every OPTIONS request in its own
  // hook, before the key check; its `OPTIONS *` route, which takes no config, only lets the router accept them.
  app.addHook('onRoute', routeDefaults({ scope: 'public' }, (route) => route.method === 'OPTIONS' && route.url === '*'));
  // First of the hooks, so every answer (404, 413, 401 included) has the security headers.
  await installHttpSecurity(app, deps.config);
  const methodsFor = routeTable(app);
  app.setNotFoundHandler((request, reply) => {
    const allowed = methodsFor(request.url);
    if (allowed.length > 0) {
      void reply.header('allow', allowed.join(', '));
      return sendError(reply, new AppError('METHOD_NOT_ALLOWED', `${request.method} is not allowed on ${request.url.split('?')[0]}; use ${allowed.join(' or ')}`));
    }
    return sendError(reply, new AppError('NOT_FOUND', `no route for ${request.method} ${request.url.split('?')[0]}`));
  });

  await app.register(fastifyMultipart, {
    // Limits are set per request in receiveUpload; these are the outer bounds.
    limits: { fileSize: deps.config.MAX_FILE_SIZE_MB * 1e6, files: 1, fields: 32, parts: 40, headerPairs: 100 },
  });
  // Frames over STREAM_MAX_BUFFER_SIZE are refused by the session with a message; ws's own limit is the backstop.
  await app.register(fastifyWebsocket, { options: { maxPayload: deps.config.STREAM_MAX_BUFFER_SIZE * 4 + 65_536 }, errorHandler: socketErrorHandler });

  // A body whose declared length is over the limit is refused before a byte of it is read.
  const maxUpload = deps.config.MAX_FILE_SIZE_MB * 1e6 + 64 * 1024;
  app.addHook('onRequest', async (request, reply) => {
    const length = Number(request.headers['content-length']);
    if (request.method === 'POST' && Number.isFinite(length) && length > maxUpload) {
      void reply.header('connection', 'close');
      throw new AppError('FILE_TOO_LARGE', `the request body (${length} bytes) is larger than ${deps.config.MAX_FILE_SIZE_MB} MB (MAX_FILE_SIZE_MB)`, {
        details: { max_file_size_bytes: deps.config.MAX_FILE_SIZE_MB * 1e6 },
      });
    }
  });

  // Host, Origin and Sec-Fetch-Site, before any key is looked at.
  installRequestGuards(app, deps.config, isLoopback(deps.config.HOST));
  await installAccess(app, deps.config, deps.keys, isLoopback(deps.config.HOST));
  // After the rate limit, which attaches to routes added after it: the document is counted like any request.
  if (deps.config.ENABLE_DOCS) await registerOpenApi(app, VERSION, deps.config.AUTH_MODE === 'api_key');
  installStorageGuard(app, deps.config.DATA_DIR);
  installUploadLimits(app, deps.config);
  if (deps.metrics !== undefined) metricsRoutes(app, deps.metrics);
  await app.register(healthRoutes, deps);
  // ROLE=worker serves what operators and probes need, and nothing that takes audio.
  const serving = deps.config.ROLE !== 'worker';
  if (serving) await app.register(transcriptionRoutes, deps);
  if (serving) await app.register(openaiRoutes, deps);
  if (serving) await app.register(modelRoutes, deps);
  if (serving) await app.register(translationRoutes, deps);
  if (serving) await app.register(diarizationRoutes, deps);
  if (serving) await app.register(streamRoutes(deps.metrics?.streams), deps);
  if (serving) await app.register(realtimeRoutes(deps.metrics?.streams), deps);
  await app.register(capacityRoutes, deps);
  if (serving) await app.register(jobRoutes, deps);
  if (deps.config.ENABLE_DEBUG_ENDPOINTS ?? isLoopback(deps.config.HOST)) await app.register(debugRoutes, deps);
  if (serving) await app.register(serverInfoRoutes, deps);
  if (serving) await app.register(sessionRoutes, deps);
  if (serving) await app.register(uiRoutes, deps);
  return app;
}
