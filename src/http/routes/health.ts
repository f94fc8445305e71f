import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AppDeps } from '../types.js';

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
          200: z.object({ status: z.literal('ready'), engines: z.array(engineInfoSchema), isolation_modes: z.array(z.string()) }),
          503: z.object({
            status: z.enum(['starting', 'failed', 'stopping']),
            error: z.object({ code: z.string(), message: z.string() }),
          }),
        },
      },
    },
    async (_req, reply) => {
      const r = deps.readiness;
      if (r.state === 'ready') return { status: 'ready' as const, engines: r.engines, isolation_modes: r.isolationModes };
      const message =
        r.state === 'starting' ? 'engines are loading' : r.state === 'stopping' ? 'the server is shutting down' : `engine failed to load: ${r.error ?? 'unknown'}`;
      return reply.status(503).send({
        status: r.state,
        error: { code: r.state === 'stopping' ? 'SHUTTING_DOWN' : 'ENGINE_NOT_READY', message },
      });
    },
  );
};
