import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AppDeps } from '../types.js';

const poolSummarySchema = z.object({ enabled: z.boolean(), size: z.number(), ready_workers: z.number(), degraded: z.boolean() });

const engineSchema = z.object({
  name: z.string(),
  status: z.enum(['ready', 'failed', 'loading']).describe('failed: it loaded in no mode (see error); requests naming it get 503 ENGINE_NOT_READY'),
  default: z.boolean().describe('The engine of requests that name none (ENGINE).'),
  isolation_modes: z.array(z.string()).describe('Modes where it is loaded.'),
  default_isolation: z.string().describe('Mode of requests naming this engine and no mode.'),
  version: z.string().optional(),
  model: z.string().optional(),
  loadMs: z.number().optional(),
  warnings: z.array(z.string()).optional(),
  capabilities: z.object({ languages: z.array(z.string()), word_timestamps: z.boolean(), streaming: z.boolean(), native: z.boolean() }),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
});

export const healthRoutes: FastifyPluginAsyncZod<AppDeps> = async (app, deps) => {
  app.get(
    '/healthz',
    {
      schema: {
        tags: ['health'],
        summary: 'Liveness: the process answers',
        response: { 200: z.object({ status: z.literal('ok'), uptime_seconds: z.number() }) },
      },
      // Probes need no key and are never rate limited.
      config: { scope: 'public', rateLimit: false },
    },
    async () => ({ status: 'ok' as const, uptime_seconds: Math.round(process.uptime()) }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        tags: ['health'],
        summary: 'Readiness: 200 once engines are loaded and warm, 503 before (or while shutting down)',
        description:
          'With AUTH_MODE=api_key, a request without a key with the admin scope gets the status only (status, role, and on 503 an error code with a generic message): ' +
          'engine errors name model files and paths, which a public probe has no need of.',
        response: {
          200: z.object({
            status: z.enum(['ready', 'degraded']),
            role: z.enum(['all', 'api', 'worker']).describe('ROLE: what this instance does (api: claims no job; worker: runs jobs, no uploads).'),
            engines: z.array(engineSchema).optional().describe('Absent for a public probe when keys are on.'),
            isolation_modes: z.array(z.string()).optional(),
            default_isolation: z.string().optional(),
            pool: poolSummarySchema.optional(),
            models: z
              .array(z.object({ id: z.string(), isolation: z.string(), pid: z.number().int(), slot: z.number().int().optional(), bytes: z.number(), in_use: z.boolean() }))
              .optional()
              .describe('Models loaded now, one entry per process holding one (the server in-process, each worker).'),
          }),
          503: z.object({
            status: z.enum(['starting', 'failed', 'stopping']),
            role: z.enum(['all', 'api', 'worker']),
            error: z.object({ code: z.string(), message: z.string() }),
            engines: z.array(engineSchema).optional(),
            pool: poolSummarySchema.optional(),
          }),
        },
      },
      config: { scope: 'public', rateLimit: false, keyOptional: true },
    },
    async (request, reply) => {
      // Without keys everyone is trusted alike (the request guard keeps rebinding pages out).
      if (deps.config.AUTH_MODE === 'api_key' && request.apiKey?.scopes.includes('admin') !== true) {
        const view = publicReadiness(deps);
        return view.status === 200 ? reply.status(200).send(view.body) : reply.status(503).send(view.body);
      }
      const r = deps.readiness;
      const role = deps.config.ROLE;
      const p = deps.pool?.snapshot();
      const pool = { enabled: p !== undefined, size: p?.size ?? 0, ready_workers: p?.readyWorkers ?? 0, degraded: p?.degraded ?? false };
      const engines = deps.service.engineStatus().map((e) => ({
        name: e.name,
        status: r.state === 'starting' ? ('loading' as const) : e.ready_in.length > 0 ? ('ready' as const) : ('failed' as const),
        default: e.name === deps.config.ENGINE,
        isolation_modes: e.ready_in,
        default_isolation: deps.service.isolationFor(e.name),
        ...(e.info === undefined ? {} : { version: e.info.version, model: e.info.model, loadMs: e.info.loadMs, warnings: e.info.warnings }),
        capabilities: {
          languages: [...e.capabilities.languages],
          word_timestamps: e.capabilities.wordTimestamps,
          streaming: e.capabilities.streaming,
          native: e.capabilities.native,
        },
        ...(e.error === undefined ? {} : { error: e.error }),
      }));
      const defaultEngine = engines.find((e) => e.default);
      if (r.state === 'ready' && defaultEngine?.status === 'failed') {
        return reply.status(503).send({
          status: 'failed',
          role,
          error: { code: 'ENGINE_NOT_READY', message: `the default engine ${defaultEngine.name} failed to load: ${defaultEngine.error?.message ?? 'unknown'}` },
          engines,
          pool,
        });
      }
      if (r.state === 'ready' && (p === undefined || p.readyWorkers > 0)) {
        return {
          status: pool.degraded || engines.some((e) => e.status === 'failed') ? ('degraded' as const) : ('ready' as const),
          role,
          engines,
          isolation_modes: r.isolationModes,
          default_isolation: deps.service.defaultIsolation,
          pool,
          models: deps.service.models().map((m) => ({ id: m.id, isolation: m.isolation, pid: m.pid, ...(m.slot === undefined ? {} : { slot: m.slot }), bytes: m.bytes, in_use: m.inUse })),
        };
      }
      if (r.state === 'ready') {
        return reply.status(503).send({
          status: 'failed',
          role,
          error: { code: 'WORKER_UNAVAILABLE', message: 'no worker process is ready (see /debug/pool; workers that fail to start are retried with backoff)' },
          pool,
        });
      }
      const message =
        r.state === 'starting' ? 'engines are loading' : r.state === 'stopping' ? 'the server is shutting down' : `engine failed to load: ${r.error ?? 'unknown'}`;
      return reply.status(503).send({
        status: r.state,
        role,
        error: { code: r.state === 'stopping' ? 'SHUTTING_DOWN' : 'ENGINE_NOT_READY', message },
      });
    },
  );
};

/** What /readyz tells a public probe when keys are on: its state, never an engine's message (paths, model files). */
type Role = AppDeps['config']['ROLE'];
type PublicReadiness =
  | { status: 200; body: { status: 'ready' | 'degraded'; role: Role } }
  | { status: 503; body: { status: 'starting' | 'failed' | 'stopping'; role: Role; error: { code: string; message: string } } };

function publicReadiness(deps: AppDeps): PublicReadiness {
  const r = deps.readiness;
  const role = deps.config.ROLE;
  const engines = deps.service.engineStatus();
  const p = deps.pool?.snapshot();
  const defaultFailed = r.state === 'ready' && engines.some((e) => e.name === deps.config.ENGINE && e.ready_in.length === 0);
  if (defaultFailed) return { status: 503, body: { status: 'failed', role, error: { code: 'ENGINE_NOT_READY', message: 'the default engine failed to load' } } };
  if (r.state === 'ready' && p !== undefined && p.readyWorkers === 0) {
    return { status: 503, body: { status: 'failed', role, error: { code: 'WORKER_UNAVAILABLE', message: 'no worker process is ready' } } };
  }
  if (r.state === 'ready') {
    const degraded = (p?.degraded ?? false) || engines.some((e) => e.ready_in.length === 0);
    return { status: 200, body: { status: degraded ? 'degraded' : 'ready', role } };
  }
  const code = r.state === 'stopping' ? 'SHUTTING_DOWN' : 'ENGINE_NOT_READY';
  const message = r.state === 'starting' ? 'engines are loading' : r.state === 'stopping' ? 'the server is shutting down' : 'an engine failed to load';
  return { status: 503, body: { status: r.state, role, error: { code, message } } };
}
