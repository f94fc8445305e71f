import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Isolation } from '../../engines/index.js';
import type { AdmissionSnapshot } from '../../executors/index.js';
import type { AppDeps } from '../types.js';

/**
 * One isolation mode's fill level: the seeds' fields (its admission line) and, beside them, the
 * jobs that wait in the job store, which that line never sees until a runner claims one.
 */
export const capacitySchema = z.object({
  active_jobs: z.number().int().describe('Transcriptions running on this mode\'s engines now (sync requests, jobs and live streams).'),
  queued_jobs: z
    .number()
    .int()
    .describe('Requests in this mode\'s admission line: uploads that are in and wait for an engine (mostly sync requests). Jobs waiting in the job store are not counted here: see store_queued_jobs.'),
  max_workers: z.number().int().describe('Engines this mode runs at once (WORKER_COUNT, IN_PROCESS_CONCURRENCY).'),
  max_queue_size: z.number().int().describe('MAX_QUEUE_SIZE: places in this mode\'s admission line; also how many jobs may wait in the store, all modes together.'),
  available_capacity: z.number().int().describe('Places left in this mode: max_workers + max_queue_size - active_jobs - queued_jobs.'),
  at_capacity: z.boolean().describe('No place left in this mode\'s line: a sync request gets 503 AT_CAPACITY.'),
  store_queued_jobs: z
    .number()
    .int()
    .describe('Jobs (POST /api/v1/jobs) for this mode that wait in the job store, status queued, until a runner claims one for a free engine. Not part of queued_jobs; counted by every instance that shares the store.'),
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

function view(s: AdmissionSnapshot, storeQueued: number): z.infer<typeof capacitySchema> {
  return {
    active_jobs: s.active,
    queued_jobs: s.queued,
    max_workers: s.concurrency,
    max_queue_size: s.maxQueue,
    available_capacity: s.available,
    at_capacity: s.atCapacity,
    store_queued_jobs: storeQueued,
  };
}

export const capacityRoutes: FastifyPluginAsyncZod<AppDeps> = async (app, deps) => {
  app.get(
    '/api/v1/capacity',
    {
      schema: {
        tags: ['capacity'],
        summary: 'How full the server is (the seeds\' shape), for the default isolation mode and each mode: the admission line and the jobs waiting in the store',
        response: {
          200: capacityResponseSchema,
        },
      },
      config: { scope: 'any' },
    },
    async () => {
      const stored = (await deps.jobs?.queuedByIsolation()) ?? {};
      const at = (m: Isolation) => view(deps.service.capacity(m), stored[m] ?? 0);
      const modes = Object.fromEntries(deps.service.isolationModes().map((m) => [m, at(m)]));
      return { ...at(deps.service.defaultIsolation), modes, streams: deps.service.streams() };
    },
  );
};
