import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AdmissionSnapshot } from '../../executors/index.js';
import type { AppDeps } from '../types.js';

/** One isolation mode's fill level (the seeds' shape). */
export const capacitySchema = z.object({
  active_jobs: z.number().int(),
  queued_jobs: z.number().int(),
  max_workers: z.number().int(),
  max_queue_size: z.number().int(),
  available_capacity: z.number().int(),
  at_capacity: z.boolean(),
});

/** GET /api/v1/capacity: the default mode's fill level, each mode's, and the live streams. */
export const capacityResponseSchema = capacitySchema.extend({
  modes: z.record(z.string(), capacitySchema),
  streams: z
    .object({
      active: z.number().int().describe('Streams open now, with an engine or before their config.'),
      max: z.number().int().describe('MAX_STREAMS.'),
      engines: z.number().int().describe('Streams that can hold an engine at once: each mode\'s engines less STREAM_RESERVED_ENGINES.'),
    })
    .describe('Live WebSocket streams.'),
});

function view(s: AdmissionSnapshot): z.infer<typeof capacitySchema> {
  return {
    active_jobs: s.active,
    queued_jobs: s.queued,
    max_workers: s.concurrency,
    max_queue_size: s.maxQueue,
    available_capacity: s.available,
    at_capacity: s.atCapacity,
  };
}

export const capacityRoutes: FastifyPluginAsyncZod<AppDeps> = async (app, deps) => {
  app.get(
    '/api/v1/capacity',
    {
      schema: {
        tags: ['capacity'],
        summary: 'How full the server is (the seeds\' shape), for the default isolation mode and each mode',
        response: {
          200: capacityResponseSchema,
        },
      },
      config: { scope: 'any' },
    },
    async () => {
      const modes = Object.fromEntries(deps.service.isolationModes().map((m) => [m, view(deps.service.capacity(m))]));
      return { ...view(deps.service.capacity(deps.service.defaultIsolation)), modes, streams: deps.service.streams() };
    },
  );
};
