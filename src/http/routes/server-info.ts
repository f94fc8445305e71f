import { stat } from 'node:fs/promises';
import { basename, dirname, extname } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ISOLATION_MODES } from '../../engines/index.js';
import { AppError } from '../../errors.js';
import { errorResponses } from '../openapi.js';
import { canSeeJob } from '../auth.js';
import type { AppDeps } from '../types.js';

export const systemInfoSchema = z.object({
  engine: z.string().describe('Engine used when a request names none (ENGINE).'),
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

/** What a browser's <audio> can be told about a stored upload, from the name the client gave it. */
const AUDIO_TYPES: Record<string, string> = {
  '.wav': 'audio/wav',
  '.wave': 'audio/wav',
  '.mp3': 'audio/mpeg',
  '.flac': 'audio/flac',
  '.ogg': 'audio/ogg',
  '.oga': 'audio/ogg',
  '.opus': 'audio/ogg',
  '.m4a': 'audio/mp4',
  '.mp4': 'audio/mp4',
  '.aac': 'audio/aac',
  '.webm': 'audio/webm',
};

const idParams = z.object({ id: z.string().min(1).max(64) });

/**
 * What the web page needs beyond the job and capacity routes: the server's settings
 * that shape the upload form, the memory history for the chart, and a job's audio.
 */
export const serverInfoRoutes: FastifyPluginAsyncZod<AppDeps> = async (app, deps) => {
  // Only for reply.sendFile (Range requests, so the page's player can seek); serves no route itself.
  await app.register(fastifyStatic, { serve: false });

  app.get(
    '/api/v1/system',
    { schema: { tags: ['system'], summary: 'The settings a client needs: modes, limits, whether job audio is kept', response: { 200: systemInfoSchema } } },
    async () => {
      const modes = deps.service.isolationModes();
      return {
        engine: deps.config.ENGINE,
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
    },
    async () => {
      const m = deps.memory;
      return { interval_seconds: (m?.intervalMs ?? 2000) / 1000, capacity: m?.capacity ?? 0, samples: m?.samples() ?? [] };
    },
  );

  const jobs = deps.jobs;
  if (jobs === undefined) return;
  app.get(
    '/api/v1/jobs/:id/audio',
    {
      schema: {
        tags: ['jobs'],
        summary: 'The job\'s uploaded audio, as uploaded (Range requests supported); 404 once it is deleted (KEEP_JOB_AUDIO=false deletes it when the job ends)',
        params: idParams,
        response: errorResponses(404),
      },
    },
    async (request, reply) => {
      const job = await jobs.get(request.params.id);
      if (!canSeeJob(request, job.apiKeyId)) throw new AppError('JOB_NOT_FOUND', `no job ${job.id}`);
      const gone = () => new AppError('JOB_NOT_FOUND', `the audio of job ${job.id} was deleted (KEEP_JOB_AUDIO=false)`);
      if (job.audioPath === null) throw gone();
      // The job may end (and its audio go) between the read above and the stream below.
      if (!(await stat(job.audioPath).then((s) => s.isFile(), () => false))) throw gone();
      void reply.type(AUDIO_TYPES[extname(job.fileName).toLowerCase()] ?? 'application/octet-stream');
      return reply.sendFile(basename(job.audioPath), dirname(job.audioPath), { contentType: false, cacheControl: false });
    },
  );
};
