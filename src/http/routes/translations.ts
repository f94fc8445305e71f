import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ISOLATION_MODES, resolveModel } from '../../engines/index.js';
import { CONTENT_TYPES, renderText } from '../../transcription/index.js';
import { parseFields } from '../fields.js';
import { refuseUnknownParams, refuseUnsupportedParams, TRANSLATION_PARAMS } from '../openai-params.js';
import { errorResponses } from '../openapi.js';
import { earlyEngine, transcribeUpload, type UploadRouteConfig } from '../transcribe-handler.js';
import type { AppDeps } from '../types.js';
import { requestVad } from '../vad-fields.js';
import { openaiJsonSchema, openaiVerboseSchema, verboseJson } from './openai.js';

/** The formats OpenAI's translations answer in (no diarized_json). */
const TRANSLATION_FORMATS = ['json', 'text', 'srt', 'vtt', 'verbose_json'] as const;

/** OpenAI's `/v1/audio/translations` form fields, and hark's `language` (what is spoken). */
const fieldsSchema = z.object({
  model: z.string().max(128).optional(),
  prompt: z.string().max(4096).optional(),
  response_format: z.enum(TRANSLATION_FORMATS).default('json'),
  temperature: z.coerce.number().min(0).max(1).optional(),
  language: z.string().max(16).optional(),
});

const uploadConfig: UploadRouteConfig = {
  upload: {
    fields: {
      file: { type: 'string', description: 'The audio file, in any language.' },
      model: { type: 'string', description: 'Engine name, or `whisper-1` for the default engine (see GET /v1/models).' },
      prompt: { type: 'string', description: 'English text to guide the style: whisper and upstream; pocketsphinx and azure refuse it (400 UNSUPPORTED_PARAMETER).' },
      response_format: { type: 'string', description: 'json (default), text, srt, vtt or verbose_json (segments; no words, as OpenAI).', enum: TRANSLATION_FORMATS },
      temperature: { type: 'number', description: '0 only: hark decodes at temperature 0 (another value: 400 UNSUPPORTED_PARAMETER).' },
      language: {
        type: 'string',
        description:
          'hark extension: ISO 639-1 language spoken in the audio. Engines that do not translate (pocketsphinx, azure) answer English audio with its ' +
          'transcript and refuse another language with 400 TRANSLATION_UNSUPPORTED; unset, the audio is taken as English for them. upstream refuses it ' +
          '(400 UNSUPPORTED_PARAMETER): its translations endpoint takes no language.',
      },
    },
  },
};

/**
 * OpenAI's `POST /v1/audio/translations`: English text from speech in any
 * language. Engines that translate (whisper's translate task, an upstream's
 * own translations endpoint) translate; the others transcribe English audio,
 * which is its translation, and refuse a translation from another language
 * (src/engines/translation.ts). The same plan, queue and isolation as a transcription.
 */
export const translationRoutes: FastifyPluginAsyncZod<AppDeps> = async (app, deps) => {
  app.post(
    '/v1/audio/translations',
    {
      schema: {
        tags: ['openai'],
        summary: 'OpenAI-compatible translation into English',
        consumes: ['multipart/form-data'],
        querystring: z.object({
          isolation: z.enum(ISOLATION_MODES).optional().describe("hark extension: in-process or process (default: DEFAULT_ISOLATION, with auto the engine's own mode)"),
          model: z.string().max(128).optional().describe('hark extension: the model named before the body (also the X-Hark-Engine header).'),
        }),
        response: { 200: z.union([openaiVerboseSchema, openaiJsonSchema.pick({ text: true }), z.string()]), ...errorResponses(400, 413, 415, 429, 500, 502, 503, 504) },
      },
      config: { scope: 'transcribe', ...uploadConfig },
    },
    async (request, reply) => {
      const want = { engine: earlyEngine(request, 'model'), isolation: request.query.isolation };
      const { parsed, result } = await transcribeUpload(deps, request, reply, want, 'model', (upload) => {
        refuseUnknownParams(TRANSLATION_PARAMS, upload.fields);
        const f = parseFields(fieldsSchema, upload.fields);
        refuseUnsupportedParams(TRANSLATION_PARAMS, resolveModel(want.engine ?? f.model, deps.config), upload.fields);
        return { ...f, engine: f.model, options: { language: f.language, prompt: f.prompt, task: 'translate' as const, vad: requestVad(deps.config, {}) } };
      });
      const t = result.transcript;
      switch (parsed.response_format) {
        case 'json':
          // OpenAI's Translation is `{ text }` alone.
          return { text: t.text };
        case 'verbose_json':
          return verboseJson(t, ['segment'], parsed.temperature ?? 0, 'translate');
        default:
          return reply.type(CONTENT_TYPES[parsed.response_format]).send(renderText(parsed.response_format, t));
      }
    },
  );
};
