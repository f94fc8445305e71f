import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { HARK_FORMATS } from '../../api/index.js';
import { ISOLATION_MODES, type Isolation } from '../../engines/index.js';
import { CONTENT_TYPES, renderText, transcriptionResponseSchema, type TranscriptionResponse } from '../../transcription/index.js';
import { parseFields } from '../fields.js';
import { diarizeFieldDocs, diarizeFieldsShape, diarizeRequest } from '../diarize-fields.js';
import { knownSpeakerFieldDocs, knownSpeakerFieldsShape, knownSpeakerLongFields, knownSpeakersRequest, refuseIndexedKnownSpeakers } from '../known-speaker-fields.js';
import { requestVad, vadFieldDocs, vadFieldOverrides, vadFieldsShape } from '../vad-fields.js';
import { earlyEngine, transcribeUpload, type UploadRouteConfig } from '../transcribe-handler.js';
import type { AppDeps } from '../types.js';
import { errorResponses } from '../openapi.js';

const fieldsSchema = z.object({
  // Checked against the loaded engines by resolveModel (400 MODEL_NOT_FOUND listing them).
  engine: z.string().max(64).optional(),
  language: z.string().max(16).optional(),
  response_format: z.enum(HARK_FORMATS).default('json'),
  ...vadFieldsShape,
  ...diarizeFieldsShape,
  ...knownSpeakerFieldsShape,
});

/** `?engine=`: the engine named before the body, so that admission and an unknown engine are decided before the upload. */
const engineQuery = z
  .string()
  .max(64)
  .optional()
  .describe('Engine to use, named before the body (also the X-Hark-Engine header): refusals come before the upload. The form field `engine` works too.');

const uploadConfig: UploadRouteConfig = {
  upload: {
    fields: {
      file: { type: 'string', description: 'The audio (wav, flac, mp3, ogg/opus, m4a/aac, webm...). `audio_file` is accepted too.' },
      engine: { type: 'string', description: 'Engine or model to use: an engine loaded (ENGINES), or a whisper model id such as `whisper-base.en` (GET /v1/models lists them). Default: ENGINE.' },
      language: { type: 'string', description: 'Language hint (ISO 639-1).' },
      response_format: { type: 'string', description: 'json (default), text, srt or vtt.', enum: HARK_FORMATS },
      ...vadFieldDocs,
      ...diarizeFieldDocs,
      ...knownSpeakerFieldDocs('diarize=true'),
    },
    longFields: knownSpeakerLongFields,
  },
};

export const transcriptionRoutes: FastifyPluginAsyncZod<AppDeps> = async (app, deps) => {
  const schema = {
    querystring: z.object({ engine: engineQuery }),
    tags: ['transcriptions'],
    consumes: ['multipart/form-data'],
    response: { 200: transcriptionResponseSchema, ...errorResponses(400, 413, 415, 429, 499, 500, 502, 503, 504) },
  };

  /**
   * `fixed`: the route's own mode; otherwise `?isolation=` or DEFAULT_ISOLATION.
   * The mode and the engine come from the URL (or the X-Hark-Engine header), not
   * only the form, because admission is decided before the body is read.
   */
  const handler = (fixed: Isolation | undefined) => async (request: FastifyRequest, reply: FastifyReply) => {
    const query = request.query as { isolation?: Isolation };
    const want = { engine: earlyEngine(request, 'engine'), isolation: fixed ?? query.isolation };
    const { parsed, result } = await transcribeUpload(deps, request, reply, want, 'engine', async (upload) => {
      refuseIndexedKnownSpeakers(upload.fields);
      const f = parseFields(fieldsSchema, upload.fields);
      const diarize = diarizeRequest(f);
      const options = { language: f.language, vad: requestVad(deps.config, vadFieldOverrides(f)), diarize, knownSpeakers: await knownSpeakersRequest(f, diarize !== undefined, deps.temp) };
      return { format: f.response_format, engine: f.engine, options };
    });
    const answer: TranscriptionResponse = {
      id: request.id,
      ...result.transcript,
      engine: result.engine,
      ...(result.model === undefined ? {} : { model: result.model }),
      isolation: result.isolation,
      pid: result.pid,
      processing_ms: result.processingMs,
    };
    if (parsed.format === 'json') return answer;
    return reply.type(CONTENT_TYPES[parsed.format]).send(renderText(parsed.format, answer));
  };

  app.post(
    '/transcriptions',
    {
      schema: {
        ...schema,
        querystring: z.object({ isolation: z.enum(ISOLATION_MODES).optional(), engine: engineQuery }),
        summary: 'Transcribe an uploaded file and wait for the transcript (isolation: ?isolation= or DEFAULT_ISOLATION)',
      },
      config: { scope: 'transcribe', ...uploadConfig },
    },
    handler(undefined),
  );
  app.post(
    '/transcriptions/sync',
    { schema: { ...schema, summary: 'Transcribe in-process: the engine runs inside the server (fastest)' }, config: { scope: 'transcribe', ...uploadConfig } },
    handler('in-process'),
  );
  app.post(
    '/transcriptions/process-isolated',
    {
      schema: { ...schema, summary: 'Transcribe in a supervised worker process (the server\'s memory stays flat); 503 PROCESS_ISOLATION_DISABLED when the pool is off' },
      config: { scope: 'transcribe', ...uploadConfig },
    },
    handler('process'),
  );
};
