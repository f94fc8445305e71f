import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ISOLATION_MODES, resolveModel, type Transcript, type Word } from '../../engines/index.js';
import { CONTENT_TYPES, RESPONSE_FORMATS, renderText } from '../../transcription/index.js';
import { AppError } from '../../errors.js';
import { errorBody, toAppError } from '../error-handler.js';
import { ERROR_STATUS } from '../error-status.js';
import { parseFields } from '../fields.js';
import { diarizeFieldDocs, diarizeFieldsShape, diarizeRequest } from '../diarize-fields.js';
import { knownSpeakerFieldDocs, knownSpeakerFieldsShape, knownSpeakerLongFields, knownSpeakersRequest, refuseIndexedKnownSpeakers } from '../known-speaker-fields.js';
import { chunkingStrategy, requestVad } from '../vad-fields.js';
import { needsFormat, refuseUnknownParams, refuseUnsupportedParams, TRANSCRIPTION_PARAMS } from '../openai-params.js';
import { errorResponses } from '../openapi.js';
import { SseBody } from '../sse.js';
import { earlyEngine, transcribeUpload, type UploadRouteConfig } from '../transcribe-handler.js';
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
  include: z
    .union([z.enum(['logprobs']), z.array(z.enum(['logprobs']))])
    .transform((v) => (Array.isArray(v) ? v : [v]))
    .optional(),
  // hark extension: hints for diarized_json's speaker count (OpenAI has none).
  num_speakers: diarizeFieldsShape.num_speakers,
  min_speakers: diarizeFieldsShape.min_speakers,
  max_speakers: diarizeFieldsShape.max_speakers,
  ...knownSpeakerFieldsShape,
});

/** OpenAI's `Transcription.Logprob` (and the stream events'): hark's tokens are words, each after the first with its leading space, so that they join into `text`. */
const logprobSchema = z.object({ token: z.string(), logprob: z.number().optional(), bytes: z.array(z.number()) });

export const openaiJsonSchema = z.object({
  text: z.string(),
  usage: z.object({ type: z.literal('duration'), seconds: z.number() }),
  logprobs: z.array(logprobSchema).optional(),
});

/** OpenAI's `verbose_json` shape, of a transcription or (`task: "translate"`, no words) a translation. */
export const openaiVerboseSchema = z.object({
  task: z.enum(['transcribe', 'translate']),
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
  speech_seconds: z.number().optional().describe("hark extension: seconds of the audio the VAD took for speech (what was decoded); `duration` with VAD off."),
});

/**
 * OpenAI's `diarized_json` segment, which is also its streamed
 * `transcript.text.segment` event: `TranscriptionDiarizedSegment` and
 * `TranscriptionTextSegmentEvent` in the openai client
 * (resources/audio/transcriptions.d.ts, openai 6.x), the same six fields.
 */
const diarizedSegmentSchema = z.object({
  type: z.literal('transcript.text.segment'),
  // A string, not verbose_json's number; OpenAI's reference example has `seg_001`.
  id: z.string(),
  start: z.number(),
  end: z.number(),
  text: z.string(),
  speaker: z.string(),
});

/**
 * OpenAI's `diarized_json` shape (`TranscriptionDiarized`): `task`,
 * `duration`, `text`, `segments`, and `usage` (OpenAI's is optional, by
 * tokens or by duration; hark's is by duration, as for json).
 */
const openaiDiarizedSchema = z.object({
  task: z.literal('transcribe'),
  duration: z.number(),
  text: z.string(),
  segments: z.array(diarizedSegmentSchema),
  usage: openaiJsonSchema.shape.usage,
});

const LANGUAGE_NAMES: Record<string, string> = { en: 'english' };

/** Formats that may be streamed: the events carry plain text (with diarized_json, also each segment and its speaker), as OpenAI's do. */
const STREAM_FORMATS: readonly string[] = ['json', 'text', 'diarized_json'];

/**
 * Ends a stream that failed after it started: hark's `{ code, message }` as an
 * `error` event (the openai client raises it as an APIError), logged as the
 * error handler would have.
 */
function streamFailed(request: FastifyRequest, sse: SseBody, raw: unknown): void {
  const err = toAppError(raw);
  request.harkErrorCode = err.code;
  if (sse.closed) {
    request.log.info({ code: err.code }, 'transcription stream ended: the client went away');
    return;
  }
  if (ERROR_STATUS[err.code] >= 500) request.log.error({ err: raw }, 'transcription stream failed');
  else request.log.info({ code: err.code, reason: err.message }, 'transcription stream failed');
  sse.send({ type: 'error', ...errorBody(err) });
}

/** OpenAI's `verbose_json` shape, filled from hark's transcript (a translation's language is the output's: english). */
export function verboseJson(t: Transcript, granularities: readonly string[], temperature: number, task: 'transcribe' | 'translate' = 'transcribe'): z.infer<typeof openaiVerboseSchema> {
  return {
    task,
    language: task === 'translate' ? 'english' : (LANGUAGE_NAMES[t.language] ?? t.language),
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
    speech_seconds: t.speech_seconds,
  };
}

/**
 * `include[]=logprobs`: one per word, the log of the engine's word posterior
 * (PocketSphinx's; engines without them refuse the field, src/http/openai-params.ts).
 * A posterior rounded to 0 is floored as verbose_json's avg_logprob is.
 */
function wordLogprobs(words: readonly Word[]): z.infer<typeof logprobSchema>[] {
  return words.map((w, i) => {
    const token = i === 0 ? w.word : ` ${w.word}`;
    return { token, ...(w.confidence === undefined ? {} : { logprob: Math.log(Math.max(1e-6, w.confidence)) }), bytes: [...Buffer.from(token, 'utf8')] };
  });
}

/**
 * The diarized transcript's segments in OpenAI's shape: one per segment of
 * hark's transcript, which attachSpeakers (src/diarization/merge.ts) has
 * already split wherever the speaker changes.
 */
function diarizedSegments(t: Transcript): z.infer<typeof diarizedSegmentSchema>[] {
  return t.segments.map((s, i) => ({
    type: 'transcript.text.segment',
    id: `seg_${i}`,
    start: s.start,
    end: s.end,
    text: s.text,
    // OpenAI's type requires a speaker. A segment has none only when the diarizer found no
    // speech turn at all (speech too short to model): one voice, as far as anything tells, so A.
    speaker: s.speaker ?? 'A',
  }));
}

/** OpenAI's `diarized_json` shape, filled from hark's diarized transcript. */
function diarizedJson(t: Transcript): z.infer<typeof openaiDiarizedSchema> {
  return {
    task: 'transcribe',
    duration: t.duration_seconds,
    // OpenAI documents `text` as the concatenated transcript: the same text as json's.
    text: t.text,
    segments: diarizedSegments(t),
    usage: { type: 'duration', seconds: Math.ceil(t.duration_seconds) },
  };
}

const uploadConfig: UploadRouteConfig = {
  upload: {
    fields: {
      file: { type: 'string', description: 'The audio file.' },
      model: { type: 'string', description: 'Engine name, or `whisper-1` for the default engine (see GET /v1/models).' },
      language: { type: 'string', description: 'ISO 639-1 language of the audio (pocketsphinx: en only).' },
      prompt: { type: 'string', description: 'Text to guide the engine: whisper and upstream; pocketsphinx and azure refuse it (400 UNSUPPORTED_PARAMETER).' },
      response_format: {
        type: 'string',
        description:
          'json, text, srt, vtt, verbose_json or diarized_json (who spoke when: OpenAI\'s `segments` of `transcript.text.segment` with a `speaker`, ' +
          'from hark\'s own diarizer with any model; no chunking_strategy needed).',
        enum: RESPONSE_FORMATS,
      },
      temperature: { type: 'number', description: '0 only: hark decodes at temperature 0 (another value: 400 UNSUPPORTED_PARAMETER).' },
      'timestamp_granularities[]': { type: 'string', description: 'word and/or segment, with response_format=verbose_json only.', enum: ['word', 'segment'] },
      'include[]': {
        type: 'string',
        description: 'logprobs, with response_format=json: one `{token, logprob, bytes}` per word, from the pocketsphinx engine (the others refuse it: 400 UNSUPPORTED_PARAMETER).',
        enum: ['logprobs'],
      },
      chunking_strategy: {
        type: 'string',
        description:
          '`auto` (the server\'s VAD settings), or {"type":"server_vad","threshold","prefix_padding_ms","silence_duration_ms"} as a JSON string or as ' +
          'chunking_strategy[type], chunking_strategy[threshold], ... fields (how the openai client sends it). Default: the server\'s settings.',
      },
      stream: {
        type: 'boolean',
        description:
          'true: answer text/event-stream, one `transcript.text.delta` event per decoded segment, then `transcript.text.done` ' +
          '(or an `error` event); json, text or diarized_json (whose `transcript.text.segment` events, with speakers, come once the ' +
          'transcript is complete, before `transcript.text.done`). Errors before decoding starts are ordinary JSON answers.',
      },
      num_speakers: { ...diarizeFieldDocs.num_speakers, description: 'hark extension: exactly this many speakers, with response_format=diarized_json.' },
      min_speakers: { ...diarizeFieldDocs.min_speakers, description: 'hark extension: at least this many speakers, with response_format=diarized_json.' },
      max_speakers: { ...diarizeFieldDocs.max_speakers, description: 'hark extension: at most this many speakers, with response_format=diarized_json.' },
      ...knownSpeakerFieldDocs('response_format=diarized_json'),
    },
    longFields: knownSpeakerLongFields,
  },
  events:
    'With stream=true, one `data:` line of JSON per event: `{"type":"transcript.text.delta","delta":"<segment text>"}` per decoded segment; ' +
    'with diarized_json, once the transcript is complete, `{"type":"transcript.text.segment","id","start","end","text","speaker"}` per segment; ' +
    'then `{"type":"transcript.text.done","text":"<whole text>"}`. A failure after decoding started is `{"type":"error","error":{"code","message"}}`.',
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
          model: z
            .string()
            .max(128)
            .optional()
            .describe('hark extension: the model named before the body (also the X-Hark-Engine header), so that refusals come before the upload; the form field `model` works too.'),
        }),
        // The serializer keeps the first shape that fits (and drops the keys it lacks): the narrowest first.
        response: { 200: z.union([openaiVerboseSchema, openaiDiarizedSchema, openaiJsonSchema, z.string()]), ...errorResponses(400, 413, 415, 429, 500, 502, 503, 504) },
      },
      config: { scope: 'transcribe', ...uploadConfig },
    },
    async (request, reply) => {
      // stream=true: set once the fields are read; the answer becomes SSE when decoding starts.
      const live: { sse?: SseBody; deltas: number } = { deltas: 0 };
      let decoding = () => {};
      const started = new Promise<void>((resolve) => (decoding = resolve));
      const want = { engine: earlyEngine(request, 'model'), isolation: request.query.isolation };
      const work = transcribeUpload(
        deps,
        request,
        reply,
        want,
        'model',
        async (upload) => {
          refuseIndexedKnownSpeakers(upload.fields);
          refuseUnknownParams(TRANSCRIPTION_PARAMS, upload.fields);
          const f = parseFields(fieldsSchema, upload.fields);
          // The engine the plan will settle on (a form name that disagrees with an early one is refused there).
          refuseUnsupportedParams(TRANSCRIPTION_PARAMS, resolveModel(want.engine ?? f.model, deps.config), upload.fields);
          if (f.include !== undefined && f.response_format !== 'json') throw needsFormat('include[]', ['json'], f.response_format);
          if (f.timestamp_granularities !== undefined && f.response_format !== 'verbose_json') {
            throw needsFormat('timestamp_granularities[]', ['verbose_json'], f.response_format);
          }
          if (f.stream === 'true') {
            if (!STREAM_FORMATS.includes(f.response_format)) {
              throw new AppError('INVALID_REQUEST', `stream=true sends text events; use response_format json, text or diarized_json (not ${f.response_format}), or omit stream`);
            }
            live.sse = new SseBody();
          }
          const chunking = chunkingStrategy(upload.fields, deps.config.VAD);
          // diarized_json is hark's diarize=true: the speaker counts are checked as on hark's routes, and refused without it.
          const diarize = diarizeRequest({ ...f, diarize: f.response_format === 'diarized_json' ? 'true' : 'false' });
          // Last: the reference clips are decoded (into files parse's caller removes) only once all else is in order.
          const knownSpeakers = await knownSpeakersRequest(f, diarize !== undefined, deps.temp);
          return { ...f, engine: f.model, options: { language: f.language, prompt: f.prompt, vad: requestVad(deps.config, chunking ?? {}), diarize, knownSpeakers } };
        },
        {
          onStart: () => {
            if (live.sse !== undefined) decoding();
          },
          // Deltas joined are the transcript's text: segments joined by single spaces.
          onSegment: (s) => live.sse?.send({ type: 'transcript.text.delta', delta: live.deltas++ === 0 ? s.text : ` ${s.text}` }),
        },
      );
      // Until decoding starts a failure is an ordinary JSON error (bad audio, capacity, unknown model).
      await Promise.race([work, started]);
      const sse = live.sse;
      if (sse !== undefined) {
        sse.comment('decoding');
        void work
          .then(
            ({ parsed, result }) => {
              // Segments reach onSegment before the diarizer has run (it runs after the engine,
              // src/transcription/pipeline.ts) and before attachSpeakers splits them at speaker
              // changes, so the segment events come from the final transcript: late, but with the
              // right speakers and boundaries. The deltas above carry no segment_id for the same reason.
              if (parsed.response_format === 'diarized_json') for (const segment of diarizedSegments(result.transcript)) sse.send(segment);
              const logprobs = parsed.include?.includes('logprobs') === true ? { logprobs: wordLogprobs(result.transcript.words) } : {};
              sse.send({ type: 'transcript.text.done', text: result.transcript.text, ...logprobs });
            },
            (err: unknown) => streamFailed(request, sse, err),
          )
          .finally(() => sse.end());
        return sse.reply(reply);
      }
      const { parsed, result } = await work;
      const transcript = result.transcript;
      switch (parsed.response_format) {
        case 'json':
          return {
            text: transcript.text,
            usage: { type: 'duration' as const, seconds: Math.ceil(transcript.duration_seconds) },
            ...(parsed.include?.includes('logprobs') === true ? { logprobs: wordLogprobs(transcript.words) } : {}),
          };
        case 'verbose_json':
          return verboseJson(transcript, parsed.timestamp_granularities ?? ['segment'], parsed.temperature ?? 0);
        case 'diarized_json':
          return diarizedJson(transcript);
        default:
          return reply.type(CONTENT_TYPES[parsed.response_format]).send(renderText(parsed.response_format, transcript));
      }
    },
  );
};
