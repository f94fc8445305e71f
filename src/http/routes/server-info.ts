import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { engineCapabilities, ISOLATION_MODES } from '../../engines/index.js';
import type { AppDeps } from '../types.js';

export const systemInfoSchema = z.object({
  engine: z.string().describe('Engine used when a request names none (ENGINE).'),
  engines: z
    .array(z.object({ name: z.string(), languages: z.array(z.string()).describe('Codes a request may name as `language` (ISO 639-1; Azure\'s are locales).') }))
    .describe('The engines this server runs (ENGINES) and the languages each reads; /v1/models lists them with their models.'),
  default_isolation: z.enum(ISOLATION_MODES).describe('Mode used when a request does not choose (DEFAULT_ISOLATION, resolved).'),
  isolation_modes: z.array(z.enum(ISOLATION_MODES)).describe('Modes this server runs; `process` only when ENABLE_PROCESS_ISOLATED=true.'),
  process_isolation_enabled: z.boolean(),
  worker_count: z.number().int().describe('Worker processes in the pool (0 when process isolation is off).'),
  in_process_concurrency: z.number().int(),
  max_file_size_bytes: z.number().describe('Largest upload accepted (MAX_FILE_SIZE_MB).'),
  max_audio_seconds: z.number(),
  keep_job_audio: z.boolean().describe('Whether a finished job keeps its audio (KEEP_JOB_AUDIO), so /api/v1/jobs/{id}/audio can play it.'),
  jobs_enabled: z.boolean(),
  role: z.enum(['all', 'api', 'worker']).describe('ROLE of the instance that answered (api: stores jobs, workers run them).'),
  uptime_seconds: z.number(),
});

export const memorySampleSchema = z.object({
  t: z.number().describe('Epoch milliseconds.'),
  server_rss_bytes: z.number().describe('Resident memory of the server process.'),
  workers: z.array(z.object({ slot: z.number().int(), pid: z.number().int(), rss_bytes: z.number().nullable() })),
});

export const memoryHistorySchema = z.object({
  interval_seconds: z.number(),
  capacity: z.number().int().describe('Samples kept (the oldest are dropped first).'),
  samples: z.array(memorySampleSchema).describe('Oldest first.'),
});

export type SystemInfo = z.infer<typeof systemInfoSchema>;
export type MemoryHistoryView = z.infer<typeof memoryHistorySchema>;

/**
 * What the web page needs beyond the job and capacity routes: the server's settings
 * that shape the upload form, and the memory history for the chart.
 */
export const serverInfoRoutes: FastifyPluginAsyncZod<AppDeps> = async (app, deps) => {
  app.get(
    '/api/v1/system',
    { schema: { tags: ['system'], summary: 'The settings a client needs: modes, limits, whether job audio is kept', response: { 200: systemInfoSchema } }, config: { scope: 'any' } },
    async () => {
      const modes = deps.service.isolationModes();
      return {
        engine: deps.config.ENGINE,
        engines: deps.config.ENGINES.map((name) => ({ name, languages: [...engineCapabilities(name).languages] })),
        default_isolation: deps.service.defaultIsolation,
        isolation_modes: modes,
        process_isolation_enabled: deps.pool !== undefined,
        worker_count: deps.pool?.size ?? 0,
        in_process_concurrency: deps.config.IN_PROCESS_CONCURRENCY,
        max_file_size_bytes: deps.config.MAX_FILE_SIZE_MB * 1e6,
        max_audio_seconds: deps.config.MAX_AUDIO_SECONDS,
        keep_job_audio: deps.config.KEEP_JOB_AUDIO,
        jobs_enabled: deps.jobs !== undefined,
        role: deps.config.ROLE,
        uptime_seconds: Math.round(process.uptime()),
      };
    },
  );

  app.get(
    '/api/v1/system/memory',
    {
      schema: {
        tags: ['system'],
        summary: 'Server and per-worker resident memory over the last minutes (a sample every 2 s, kept in memory)',
        response: { 200: memoryHistorySchema },
      },
      config: { scope: 'any' },
    },
    async () => {
      const m = deps.memory;
      return { interval_seconds: (m?.intervalMs ?? 2000) / 1000, capacity: m?.capacity ?? 0, samples: m?.samples() ?? [] };
    },
  );
};
