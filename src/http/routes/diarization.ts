import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError } from '../../errors.js';
import { toRttm } from '../../transcription/formats.js';
import { diarizeFieldDocs, diarizeFieldsShape, diarizeRequest } from '../diarize-fields.js';
import { parseFields } from '../fields.js';
import { errorResponses } from '../openapi.js';
import { transcribeUpload, type UploadRouteConfig } from '../transcribe-handler.js';
import type { AppDeps } from '../types.js';
import { requestVad, vadFieldDocs, vadFieldOverrides, vadFieldsShape } from '../vad-fields.js';

/** The diarizers this server has: hark's own, which needs no model file. */
const DIARIZERS = ['local'] as const;

const fieldsSchema = z.object({
  model: z.string().max(128).optional(),
  response_format: z.enum(['json', 'rttm']).default('json'),
  ...vadFieldsShape,
  ...diarizeFieldsShape,
});

/** LocalAI's shape for `/v1/audio/diarization` (json), with hark's speaker letters. */
const diarizationResponseSchema = z.object({
  task: z.literal('diarize'),
  duration: z.number().describe('Seconds of audio.'),
  num_speakers: z.number().int().describe('How many speakers were found.'),
  segments: z.array(z.object({ id: z.number().int(), speaker: z.string(), start: z.number(), end: z.number() })).describe('Speaker turns, in order, one speaker at a time.'),
});

const uploadConfig: UploadRouteConfig = {
  upload: {
    fields: {
      file: { type: 'string', description: 'The audio (any format the transcription routes take).' },
      model: { type: 'string', description: 'The diarizer: `local` (default), hark\'s own.', enum: DIARIZERS },
      response_format: { type: 'string', description: 'json (default) or rttm (NIST RTTM, one SPEAKER line per turn).', enum: ['json', 'rttm'] },
      ...vadFieldDocs,
      num_speakers: diarizeFieldDocs.num_speakers,
      min_speakers: diarizeFieldDocs.min_speakers,
      max_speakers: diarizeFieldDocs.max_speakers,
    },
  },
};

/**
 * Who spoke when, without a transcript (`POST /v1/audio/diarization`, as
 * LocalAI and speaches name it): the same upload, admission and isolation as a
 * transcription, with the engine stage skipped (src/transcription/pipeline.ts).
 */
export const diarizationRoutes: FastifyPluginAsyncZod<AppDeps> = async (app, deps) => {
  app.post(
    '/v1/audio/diarization',
    {
      schema: {
        tags: ['diarization'],
        summary: 'Speaker turns of an uploaded file (json or RTTM), no transcription',
        consumes: ['multipart/form-data'],
        response: { 200: diarizationResponseSchema, ...errorResponses(400, 413, 415, 429, 499, 500, 502, 503, 504) },
      },
      config: { scope: 'transcribe', ...uploadConfig },
    },
    async (request: FastifyRequest, reply: FastifyReply) => {
      const { parsed, result, upload } = await transcribeUpload(deps, request, reply, { engine: undefined, isolation: undefined }, 'engine', (u) => {
        const f = parseFields(fieldsSchema, u.fields);
        if (f.model !== undefined && f.model !== '' && !(DIARIZERS as readonly string[]).includes(f.model)) {
          throw new AppError('MODEL_NOT_FOUND', `no diarizer "${f.model}"; this server has ${DIARIZERS.join(', ')}`);
        }
        const diarize = diarizeRequest({ ...f, diarize: 'true' });
        return { format: f.response_format, options: { vad: requestVad(deps.config, vadFieldOverrides(f)), diarize, task: 'diarize' as const } };
      });
      const t = result.transcript;
      if (parsed.format === 'rttm') {
        const fileId = (upload.fileName ?? 'audio').replace(/\.[^.]*$/, '') || 'audio';
        return reply.type('text/plain; charset=utf-8').send(toRttm(fileId, t));
      }
      return {
        task: 'diarize' as const,
        duration: t.duration_seconds,
        num_speakers: t.speakers ?? 0,
        segments: t.segments.map((s, id) => ({ id, speaker: s.speaker ?? 'A', start: s.start, end: s.end })),
      };
    },
  );
};
