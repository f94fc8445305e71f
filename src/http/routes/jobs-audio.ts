import { stat } from 'node:fs/promises';
import { basename, dirname, extname } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError } from '../../errors.js';
import { errorResponses } from '../openapi.js';
import type { AppDeps } from '../types.js';

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
 * A job's uploaded audio, for the web page's player. Registered by `jobRoutes`
 * inside its own scope, so the same ownership check (a key sees only its jobs) applies.
 */
export const jobAudioRoutes: FastifyPluginAsyncZod<AppDeps> = async (app, deps) => {
  const jobs = deps.jobs;
  if (jobs === undefined) return;
  // Only for reply.sendFile (Range requests, so the page's player can seek); serves no route itself.
  await app.register(fastifyStatic, { serve: false });

  app.get(
    '/api/v1/jobs/:id/audio',
    {
      schema: {
        tags: ['jobs'],
        summary: 'The job\'s uploaded audio, as uploaded (Range requests supported); 404 once it is deleted (KEEP_JOB_AUDIO=false deletes it when the job ends)',
        params: idParams,
        response: errorResponses(404),
      },
      config: { scope: 'jobs' },
    },
    async (request, reply) => {
      const job = await jobs.get(request.params.id);
      const gone = () => new AppError('JOB_NOT_FOUND', `the audio of job ${job.id} was deleted (KEEP_JOB_AUDIO=false)`);
      if (job.audioPath === null) throw gone();
      // The job may end (and its audio go) between the read above and the stream below.
      if (!(await stat(job.audioPath).then((s) => s.isFile(), () => false))) throw gone();
      void reply.type(AUDIO_TYPES[extname(job.fileName).toLowerCase()] ?? 'application/octet-stream');
      return reply.sendFile(basename(job.audioPath), dirname(job.audioPath), { contentType: false, cacheControl: false });
    },
  );
};
