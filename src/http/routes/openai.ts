import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ISOLATION_MODES, listModels, resolveModel, type Transcript } from '../../engines/index.js';
import { CONTENT_TYPES, RESPONSE_FORMATS, renderText } from '../../transcription/index.js';
import { AppError } from '../../errors.js';
import { parseFields } from '../fields.js';
import { errorResponses } from '../openapi.js';
import { transcribeUpload, type UploadRouteConfig } from '../transcribe-handler.js';
import type { AppDeps } from '../types.js';

/** OpenAI's `/v1/audio/transcriptions` form fields. */
const fieldsSchema = z.object({
  model: z.string().max(128).optional(),
  language: z.string().max(16).optional(),
  prompt: z.string().max(4096).optional(),
  response_format: z.enum(RESPONSE_FORMATS).default('json'),
  temperature: z.coerce.number().min(0).max(1).optional(),
  timestamp_granularities: z
    .union([z.enum(['word', 'segment']), z.array(z.enum(['word', 'segment']))])
    .transform((v) => (Array.isArray(v) ? v : [v]))
    .optional(),
  stream: z.enum(['true', 'false']).optional(),
});

const openaiJsonSchema = z.object({ text: z.string(), usage: z.object({ type: z.literal('duration'), seconds: z.number() }) });

/** OpenAI's `verbose_json` shape. */
const openaiVerboseSchema = z.object({
  task: z.literal('transcribe'),
  language: z.string(),
  duration: z.number(),
  text: z.string(),
  segments: z
    .array(
      z.object({
        id: z.number(),
        seek: z.number(),
        start: z.number(),
        end: z.number(),
        text: z.string(),
        tokens: z.array(z.number()),
        temperature: z.number(),
        avg_logprob: z.number(),
        compression_ratio: z.number(),
        no_speech_prob: z.number(),
      }),
    )
    .optional(),
  words: z.array(z.object({ word: z.string(), start: z.number(), end: z.number() })).optional(),
  usage: openaiJsonSchema.shape.usage,
});

const LANGUAGE_NAMES: Record<string, string> = { en: 'english' };

const modelSchema = z.object({ id: z.string(), object: z.literal('model'), created: z.number(), owned_by: z.string() });

/** OpenAI's `verbose_json` shape, filled from hark's transcript. */
function verboseJson(t: Transcript, granularities: readonly string[], temperature: number): z.infer<typeof openaiVerboseSchema> {
  return {
    task: 'transcribe',
    language: LANGUAGE_NAMES[t.language] ?? t.language,
    duration: t.duration_seconds,
    text: t.text,
    segments: granularities.includes('segment')
      ? t.segments.map((s, id) => ({
          id,
          seek: 0,
          start: s.start,
          end: s.end,
          text: s.text,
          tokens: [],
          temperature,
          avg_logprob: Math.log(Math.max(1e-6, s.confidence ?? 1)),
          compression_ratio: 1,
          no_speech_prob: 0,
        }))
      : undefined,
    words: granularities.includes('word') ? t.words.map((w) => ({ word: w.word, start: w.start, end: w.end })) : undefined,
    usage: { type: 'duration', seconds: Math.ceil(t.duration_seconds) },
  };
}

const uploadConfig: UploadRouteConfig = {
  upload: {
    fields: {
      file: { type: 'string', description: 'The audio file.' },
      model: { type: 'string', description: 'Engine name, or `whisper-1` for the default engine (see GET /v1/models).' },
      language: { type: 'string', description: 'ISO 639-1 language of the audio.' },
      prompt: { type: 'string', description: 'Accepted for compatibility; engines without prompting ignore it.' },
      response_format: { type: 'string', description: 'json, text, srt, vtt or verbose_json.', enum: RESPONSE_FORMATS },
      temperature: { type: 'number', description: 'Accepted for compatibility (0-1).' },
      'timestamp_granularities[]': { type: 'string', description: 'word and/or segment (verbose_json only).', enum: ['word', 'segment'] },
    },
  },
};

export const openaiRoutes: FastifyPluginAsyncZod<AppDeps> = async (app, deps) => {
  app.post(
    '/v1/audio/transcriptions',
    {
      schema: {
        tags: ['openai'],
        summary: 'OpenAI-compatible transcription',
        consumes: ['multipart/form-data'],
        querystring: z.object({
          isolation: z.enum(ISOLATION_MODES).optional().describe("hark extension: in-process or process (default: DEFAULT_ISOLATION, with auto the engine's own mode)"),
        }),
        response: { 200: z.union([openaiVerboseSchema, openaiJsonSchema, z.string()]), ...errorResponses(400, 413, 415, 500, 502, 503, 504) },
      },
      config: uploadConfig,
    },
    async (request, reply) => {
      const { parsed, result } = await transcribeUpload(deps, request, reply, request.query.isolation, (upload) => {
        const f = parseFields(fieldsSchema, upload.fields);
        if (f.stream === 'true') throw new AppError('INVALID_REQUEST', 'stream=true is not supported yet; omit it to get the whole transcript');
        return { ...f, engine: resolveModel(f.model, deps.config), options: { language: f.language, prompt: f.prompt } };
      });
      switch (parsed.response_format) {
        case 'json':
          return { text: result.text, usage: { type: 'duration' as const, seconds: Math.ceil(result.duration_seconds) } };
        case 'verbose_json':
          return verboseJson(result, parsed.timestamp_granularities ?? ['segment'], parsed.temperature ?? 0);
        default:
          return reply.type(CONTENT_TYPES[parsed.response_format]).send(renderText(parsed.response_format, result));
      }
    },
  );

  const started = Math.floor(Date.now() / 1000);
  const models = () => listModels(deps.config).map((id) => ({ id, object: 'model' as const, created: started, owned_by: 'hark' }));

  app.get(
    '/v1/models',
    { schema: { tags: ['openai'], summary: 'Models (engines and aliases) this server offers', response: { 200: z.object({ object: z.literal('list'), data: z.array(modelSchema) }) } } },
    async () => ({ object: 'list' as const, data: models() }),
  );

  app.get(
    '/v1/models/:model',
    {
      schema: {
        tags: ['openai'],
        summary: 'One model',
        params: z.object({ model: z.string() }),
        response: { 200: modelSchema, ...errorResponses(400) },
      },
    },
    async (request) => {
      resolveModel(request.params.model, deps.config);
      const found = models().find((m) => m.id === request.params.model);
      if (found === undefined) throw new AppError('MODEL_NOT_FOUND', `unknown model "${request.params.model}"`);
      return found;
    },
  );
};
