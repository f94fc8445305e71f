import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AppDeps } from '../types.js';

const poolSummarySchema = z.object({ enabled: z.boolean(), size: z.number(), ready_workers: z.number(), degraded: z.boolean() });

const engineInfoSchema = z.object({ name: z.string(), version: z.string(), model: z.string(), loadMs: z.number() });

export const healthRoutes: FastifyPluginAsyncZod<AppDeps> = async (app, deps) => {
  app.get(
    '/healthz',
    {
      schema: {
        tags: ['health'],
        summary: 'Liveness: the process answers',
        response: { 200: z.object({ status: z.literal('ok'), uptime_seconds: z.number() }) },
      },
    },
    async () => ({ status: 'ok' as const, uptime_seconds: Math.round(process.uptime()) }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        tags: ['health'],
        summary: 'Readiness: 200 once engines are loaded and warm, 503 before (or while shutting down)',
        response: {
          200: z.object({
            status: z.enum(['ready', 'degraded']),
            engines: z.array(engineInfoSchema),
            isolation_modes: z.array(z.string()),
            default_isolation: z.string(),
            pool: poolSummarySchema,
          }),
          503: z.object({
            status: z.enum(['starting', 'failed', 'stopping']),
            error: z.object({ code: z.string(), message: z.string() }),
            pool: poolSummarySchema.optional(),
          }),
        },
      },
    },
    async (_req, reply) => {
      const r = deps.readiness;
      const p = deps.pool?.snapshot();
      const pool = { enabled: p !== undefined, size: p?.size ?? 0, ready_workers: p?.readyWorkers ?? 0, degraded: p?.degraded ?? false };
      if (r.state === 'ready' && (p === undefined || p.readyWorkers > 0)) {
        return {
          status: pool.degraded ? ('degraded' as const) : ('ready' as const),
          engines: r.engines,
          isolation_modes: r.isolationModes,
          default_isolation: deps.service.defaultIsolation,
          pool,
        };
      }
      if (r.state === 'ready') {
        return reply.status(503).send({
          status: 'failed',
          error: { code: 'WORKER_UNAVAILABLE', message: 'no worker process is ready (see /debug/pool; workers that fail to start are retried with backoff)' },
          pool,
        });
      }
      const message =
        r.state === 'starting' ? 'engines are loading' : r.state === 'stopping' ? 'the server is shutting down' : `engine failed to load: ${r.error ?? 'unknown'}`;
      return reply.status(503).send({
        status: r.state,
        error: { code: r.state === 'stopping' ? 'SHUTTING_DOWN' : 'ENGINE_NOT_READY', message },
      });
    },
  );
};
