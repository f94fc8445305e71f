import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { HARK_FORMATS } from '../../api/index.js';
import { ENGINE_NAMES, VAD_KINDS } from '../../config/index.js';
import { ISOLATION_MODES, transcriptSchema } from '../../engines/index.js';
import { JOB_STATUSES, MAX_SEGMENT_TEXT, PRIORITIES, type Job } from '../../jobs/index.js';
import { AppError } from '../../errors.js';
import { CONTENT_TYPES, renderText, transcriptionResponseSchema } from '../../transcription/index.js';
import { parseFields } from '../fields.js';
import { requestVad, vadFieldDocs, vadFieldOverrides, vadFieldsShape } from '../vad-fields.js';
import { diarizeFieldDocs, diarizeFieldsShape, diarizeRequest } from '../diarize-fields.js';
import { refuseKnownSpeakers } from '../known-speaker-fields.js';
import { renameSpeakers } from '../../diarization/merge.js';
import { errorResponses } from '../openapi.js';
import type { UploadRouteConfig } from '../transcribe-handler.js';
import { canSeeJob } from '../auth.js';
import type { AppDeps } from '../types.js';
import { receiveUpload } from '../upload.js';
import { jobAudioRoutes } from './jobs-audio.js';
import { whisperModelId } from '../../models/index.js';

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export const jobViewSchema = z.object({
  id: z.string(),
  status: z.enum(JOB_STATUSES),
  priority: z.enum(PRIORITIES),
  progress: z.number().min(0).max(1),
  file_name: z.string(),
  file_size: z.number(),
  duration_seconds: z.number().nullable(),
  engine: z.string(),
  model: z.string().nullable().describe('The engine\'s model the job picked (`whisper-base.en`); null: the engine\'s default.'),
  isolation: z.enum(ISOLATION_MODES),
  task: z.enum(['transcribe', 'translate']).describe('What the job gives: a transcript, or English text whatever is spoken (`task=translate`).'),
  attempts: z.number().int(),
  process_id: z.number().int().nullable().describe('Process that ran (or runs) the job: a worker, or the server in-process.'),
  last_heartbeat: z.string().nullable(),
  heartbeat_age_seconds: z.number().nullable(),
  created_at: z.string(),
  started_at: z.string().nullable(),
  finished_at: z.string().nullable(),
  audio_available: z.boolean(),
  error: z.object({ code: z.string(), message: z.string() }).nullable().describe('Why it failed or was cancelled; for a queued job, why its last attempt ended.'),
  callback_url: z.string().nullable(),
  webhook: z.object({ status: z.string(), attempts: z.number(), last_error: z.string().nullable() }).nullable(),
  vad: z
    .object({ kind: z.enum(VAD_KINDS), threshold: z.number(), min_silence_ms: z.number(), speech_pad_ms: z.number(), min_speech_ms: z.number() })
    .nullable()
    .describe('The voice activity detection the job runs with: the server\'s settings when it was submitted, with its own `vad*` fields applied. Null for jobs stored before hark had a VAD (they run with the server\'s settings).'),
  diarize: z
    .object({ num_speakers: z.number().int().nullable(), min_speakers: z.number().int().nullable(), max_speakers: z.number().int().nullable() })
    .nullable()
    .describe('What the job asked of diarization (`diarize=true`, with the counts it gave; null for a count not given): every attempt runs with it. Null: no diarization.'),
  speaker_names: z
    .record(z.string(), z.string())
    .describe('Names given to the result\'s speakers (label -> name, set with PUT /api/v1/jobs/{id}/speakers); every download of the result uses them. `{}`: none.'),
  links: z.record(z.string(), z.string()),
});

function links(id: string): Record<string, string> {
  const base = `/api/v1/jobs/${id}`;
  return { self: base, result: `${base}/result`, logs: `${base}/logs`, stream: `${base}/logs/stream`, cancel: `${base}/cancel` };
}

export function jobView(j: Job, now = Date.now()): z.infer<typeof jobViewSchema> {
  return {
    id: j.id,
    status: j.status,
    priority: j.priority,
    progress: j.progress,
    file_name: j.fileName,
    file_size: j.fileSize,
    duration_seconds: j.durationSeconds,
    engine: j.engine,
    model: j.options.model === undefined ? null : whisperModelId(j.options.model),
    isolation: j.isolation,
    task: j.options.task ?? 'transcribe',
    attempts: j.attempts,
    process_id: j.processId,
    last_heartbeat: iso(j.lastHeartbeat),
    heartbeat_age_seconds: j.status === 'running' && j.lastHeartbeat !== null ? Math.max(0, (now - j.lastHeartbeat) / 1000) : null,
    created_at: new Date(j.createdAt).toISOString(),
    started_at: iso(j.startedAt),
    finished_at: iso(j.finishedAt),
    audio_available: j.audioPath !== null,
    error: j.errorCode === null || j.status === 'completed' ? null : { code: j.errorCode, message: j.errorMessage ?? '' },
    callback_url: j.callbackUrl,
    webhook: j.callbackUrl === null ? null : { status: j.webhookStatus ?? 'pending', attempts: j.webhookAttempts, last_error: j.webhookLastError },
    vad:
      j.vad === null
        ? null
        : { kind: j.vad.kind, threshold: j.vad.threshold, min_silence_ms: j.vad.minSilenceMs, speech_pad_ms: j.vad.speechPadMs, min_speech_ms: j.vad.minSpeechMs },
    diarize:
      j.diarize === null
        ? null
        : { num_speakers: j.diarize.numSpeakers ?? null, min_speakers: j.diarize.minSpeakers ?? null, max_speakers: j.diarize.maxSpeakers ?? null },
    speaker_names: { ...j.speakerNames },
    links: links(j.id),
  };
}

const submitFields = z.object({
  priority: z.enum(PRIORITIES).default('normal'),
  callback_url: z.string().max(2048).optional(),
  language: z.string().max(16).optional(),
  engine: z.string().max(64).optional(),
  isolation: z.enum(ISOLATION_MODES).optional(),
  task: z.enum(['transcribe', 'translate']).default('transcribe'),
  ...vadFieldsShape,
  ...diarizeFieldsShape,
});

const acceptedSchema = z.object({ job_id: z.string(), status: z.enum(JOB_STATUSES), links: z.record(z.string(), z.string()) });

const uploadConfig = (fileField: string): UploadRouteConfig => ({
  upload: {
    fields: {
      file: { type: 'string', description: `The audio (field \`${fileField}\`; \`file\` and \`audio_file\` are both accepted).` },
      priority: { type: 'string', description: 'high, normal (default) or low; a waiting job moves up every PRIORITY_AGING_SECONDS.', enum: PRIORITIES },
      callback_url: { type: 'string', description: 'http(s) URL that gets a signed POST when the job ends.' },
      language: { type: 'string', description: 'Language hint.' },
      engine: { type: 'string', description: 'Engine, one of those loaded (default: ENGINE).', enum: ENGINE_NAMES },
      isolation: { type: 'string', description: "in-process or process (default: DEFAULT_ISOLATION; with auto, the engine's own mode).", enum: ISOLATION_MODES },
      task: {
        type: 'string',
        description: 'transcribe (default) or translate: English text whatever is spoken, as POST /v1/audio/translations (engines that do not translate take only English audio).',
        enum: ['transcribe', 'translate'],
      },
      ...vadFieldDocs,
      ...diarizeFieldDocs,
    },
  },
});

const idParams = z.object({ id: z.string().min(1).max(64) });

export const jobRoutes: FastifyPluginAsyncZod<AppDeps> = async (app, deps) => {
  const jobs = deps.jobs;
  if (jobs === undefined) return;
  // Log streams end when the server closes: app.close() waits for every open response.
  const closing = new AbortController();
  app.addHook('preClose', async () => closing.abort());

  // A key sees only the jobs it submitted (admin: all); another key's job is "not found", so ids do not leak.
  app.addHook('preHandler', async (request) => {
    const id = (request.params as { id?: unknown } | undefined)?.id;
    if (typeof id !== 'string' || request.apiKey === undefined) return;
    const job = await jobs.get(id).catch(() => undefined);
    if (job !== undefined && !canSeeJob(request, job.apiKeyId)) throw new AppError('JOB_NOT_FOUND', `no job ${id}`);
  });

  const submit = async (request: FastifyRequest, reply: FastifyReply) => {
    const key = request.headers['idempotency-key'];
    if (key !== undefined && (typeof key !== 'string' || !/^[\x21-\x7e]{1,255}$/.test(key))) {
      throw new AppError('INVALID_REQUEST', 'Idempotency-Key must be 1-255 visible ASCII characters');
    }
    await jobs.checkCapacity(request.apiKey?.id, key);
    await jobs.checkKeyQuota(request.apiKey?.id);
    const upload = await receiveUpload(request, deps.temp, deps.config.MAX_FILE_SIZE_MB * 1e6);
    let submitted;
    try {
      refuseKnownSpeakers(upload.fields, 'jobs do not take reference clips; name the speakers afterwards with PUT /api/v1/jobs/{id}/speakers');
      const f = parseFields(submitFields, upload.fields);
      submitted = await jobs.submit({
        uploadPath: upload.path,
        fileName: upload.fileName,
        fileSize: upload.size,
        priority: f.priority,
        engine: f.engine,
        isolation: f.isolation,
        options: { language: f.language, ...(f.task === 'translate' ? { task: f.task } : {}) },
        vad: requestVad(deps.config, vadFieldOverrides(f)),
        diarize: diarizeRequest(f),
        idempotencyKey: key,
        callbackUrl: f.callback_url,
        apiKeyId: request.apiKey?.id,
        logger: request.log,
      });
    } finally {
      // Moved into the job's folder on success; gone either way, before the client hears back.
      await deps.temp.remove(upload.path);
    }
    const { job, created } = submitted;
    request.log.info({ jobId: job.id, created }, created ? 'job accepted' : 'job already exists for this Idempotency-Key');
    void reply.header('location', `/api/v1/jobs/${job.id}`);
    return reply.status(created ? 202 : 200).send({ job_id: job.id, status: job.status, links: links(job.id) });
  };

  const submitSchema = {
    tags: ['jobs'],
    consumes: ['multipart/form-data'],
    response: { 200: acceptedSchema, 202: acceptedSchema, ...errorResponses(400, 413, 415, 503) },
  };
  app.post('/api/v1/jobs', { schema: { ...submitSchema, summary: 'Submit a transcription job (202 at once; Idempotency-Key supported)' }, config: { scope: 'jobs', ...uploadConfig('file') } }, submit);
  app.post(
    '/api/v1/transcribe/batch',
    { schema: { ...submitSchema, summary: 'Submit a job (the seeds\' route, field audio_file)' }, config: { scope: 'jobs', ...uploadConfig('audio_file') } },
    submit,
  );

  app.get(
    '/api/v1/jobs',
    {
      schema: {
        tags: ['jobs'],
        summary: 'Jobs, newest first, with cursor pagination; `q` searches file names and transcripts',
        querystring: z.object({
          status: z.enum(JOB_STATUSES).optional(),
          limit: z.coerce.number().int().min(1).max(200).default(50),
          cursor: z.string().max(200).optional(),
          q: z
            .string()
            .max(200)
            .optional()
            .describe('Only jobs whose file name or transcript text contains this (case-insensitive substring; `%` and `_` are plain characters). Blank: no filter.'),
          from: z.iso.datetime({ offset: true }).or(z.iso.date()).optional().describe('Only jobs created at or after this time (ISO 8601; a date alone is its UTC midnight).'),
          to: z.iso.datetime({ offset: true }).or(z.iso.date()).optional().describe('Only jobs created before this time (a date alone: before its UTC midnight, so `to=2026-12-06` ends with the 5th).'),
          order: z.enum(['newest', 'oldest']).default('newest').describe('By creation time; `next_cursor` continues in the same order.'),
        }),
        response: { 200: z.object({ jobs: z.array(jobViewSchema), next_cursor: z.string().nullable() }), ...errorResponses(400) },
      },
      config: { scope: 'jobs' },
    },
    async (request) => {
      const { status, limit, cursor, q, from, to, order } = request.query;
      const own = request.apiKey !== undefined && !request.apiKey.scopes.includes('admin') ? request.apiKey.id : undefined;
      const page = await jobs.list({
        status,
        limit,
        cursor,
        apiKeyId: own,
        search: q?.trim(),
        createdFrom: from === undefined ? undefined : Date.parse(from),
        createdBefore: to === undefined ? undefined : Date.parse(to),
        oldestFirst: order === 'oldest',
      });
      const now = Date.now();
      return { jobs: page.jobs.map((j) => jobView(j, now)), next_cursor: page.nextCursor };
    },
  );

  app.get(
    '/api/v1/jobs/:id',
    { schema: { tags: ['jobs'], summary: 'One job: status, progress, times, pid, attempts, error', params: idParams, response: { 200: jobViewSchema, ...errorResponses(404) } }, config: { scope: 'jobs' } },
    async (request) => jobView(await jobs.get(request.params.id)),
  );

  app.get(
    '/api/v1/jobs/:id/result',
    {
      schema: {
        tags: ['jobs'],
        summary: 'The transcript of a completed job (json, text, srt or vtt): its latest edit, or the original',
        description:
          'Every format gives the latest edit made with PUT /api/v1/jobs/{id}/transcript; `revision=original` gives what the engine made. ' +
          'Speakers carry the names given with PUT /api/v1/jobs/{id}/speakers, in every format (a label without a name keeps its letter); `speaker_names=false` answers the labels as diarized.',
        params: idParams,
        querystring: z.object({
          format: z.enum(HARK_FORMATS).default('json'),
          speaker_names: z.enum(['true', 'false']).default('true').describe('false: the speakers\' labels as diarized, without the names given to them.'),
          revision: z
            .union([z.enum(['latest', 'original']), z.coerce.number().int().min(0)])
            .default('latest')
            .describe('`latest` (default): the last edit, or the original when there is none; `original` (or 0): the engine\'s; a number: that revision.'),
        }),
        response: {
          200: z.union([
            transcriptionResponseSchema.omit({ pid: true, processing_ms: true }).extend({
              revision: z.number().int().describe('0: the engine\'s transcript; 1, 2, ...: the edits (PUT /api/v1/jobs/{id}/transcript).'),
            }),
            z.string(),
          ]),
          ...errorResponses(404, 409),
        },
      },
      config: { scope: 'jobs' },
    },
    async (request, reply) => {
      const { format, speaker_names: named, revision } = request.query;
      const { job, revision: n, result: raw } = await jobs.transcript(request.params.id, revision);
      const result = named === 'true' && Object.keys(job.speakerNames).length > 0 ? renameSpeakers(raw, job.speakerNames) : raw;
      if (format !== 'json') return reply.type(CONTENT_TYPES[format]).send(renderText(format, result));
      return { id: job.id, ...result, engine: job.engine as (typeof ENGINE_NAMES)[number], isolation: job.isolation, revision: n };
    },
  );

  app.put(
    '/api/v1/jobs/:id/transcript',
    {
      schema: {
        tags: ['jobs'],
        summary: 'Edit a completed job\'s transcript: segments\' new text, stored as its next revision (the original kept); every download then uses it',
        description:
          '`base_revision` is the revision the edit was made on (the `revision` of the result that was read); if another edit has replaced it since, ' +
          'the answer is 409 REVISION_CONFLICT and nothing is stored. An edited segment keeps its times and speaker and loses its word times; ' +
          'a segment edited to an empty text is removed.',
        params: idParams,
        body: z.object({
          base_revision: z.number().int().min(0),
          segments: z.array(z.object({ index: z.number().int().min(0), text: z.string().max(MAX_SEGMENT_TEXT * 2) })).min(1).max(10_000),
        }),
        response: {
          200: z.object({ job_id: z.string(), revision: z.number().int(), created_at: z.string(), transcript: transcriptSchema }),
          ...errorResponses(400, 404, 409),
        },
      },
      config: { scope: 'jobs' },
    },
    async (request) => {
      const { base_revision: base, segments } = request.body;
      const edit = await jobs.editTranscript(request.params.id, base, segments, request.apiKey?.id);
      return { job_id: request.params.id, revision: edit.revision, created_at: new Date(edit.createdAt).toISOString(), transcript: edit.result };
    },
  );

  app.get(
    '/api/v1/jobs/:id/revisions',
    {
      schema: {
        tags: ['jobs'],
        summary: 'The edits of a job\'s transcript, oldest first (revision 0, the original, is the job\'s own result)',
        params: idParams,
        response: { 200: z.object({ job_id: z.string(), revisions: z.array(z.object({ revision: z.number().int(), created_at: z.string() })) }), ...errorResponses(404) },
      },
      config: { scope: 'jobs' },
    },
    async (request) => ({
      job_id: request.params.id,
      revisions: (await jobs.transcriptRevisions(request.params.id)).map((r) => ({ revision: r.revision, created_at: new Date(r.createdAt).toISOString() })),
    }),
  );

  app.put(
    '/api/v1/jobs/:id/speakers',
    {
      schema: {
        tags: ['jobs'],
        summary: 'Name a completed job\'s speakers: `{"names": {"A": "Ann"}}` replaces the names given before (`{}` clears them); every download of its result uses them',
        params: idParams,
        body: z.object({ names: z.record(z.string(), z.string()) }),
        response: { 200: jobViewSchema, ...errorResponses(400, 404, 409) },
      },
      config: { scope: 'jobs' },
    },
    async (request) => jobView(await jobs.setSpeakerNames(request.params.id, request.body.names)),
  );

  app.patch(
    '/api/v1/jobs/:id',
    {
      schema: {
        tags: ['jobs'],
        summary: 'Rename a job: `{"file_name": "Board meeting 3 March"}` (what lists, search and downloads show)',
        params: idParams,
        body: z.object({ file_name: z.string().max(1000) }),
        response: { 200: jobViewSchema, ...errorResponses(400, 404) },
      },
      config: { scope: 'jobs' },
    },
    async (request) => jobView(await jobs.rename(request.params.id, request.body.file_name)),
  );

  const idList = z.array(z.string().max(100)).min(1).max(200).describe('Job ids, at most 200.');

  app.post(
    '/api/v1/jobs/delete',
    {
      schema: {
        tags: ['jobs'],
        summary: 'Delete several finished jobs at once; those that cannot go are listed with their code, the others still go',
        body: z.object({ ids: idList }),
        response: {
          200: z.object({ deleted: z.array(z.string()), kept: z.array(z.object({ id: z.string(), code: z.string(), message: z.string() })) }),
          ...errorResponses(400),
        },
      },
      config: { scope: 'jobs' },
    },
    async (request) => jobs.removeMany(request.body.ids, (job) => canSeeJob(request, job.apiKeyId)),
  );

  app.post(
    '/api/v1/jobs/export',
    {
      schema: {
        tags: ['jobs'],
        summary: 'The transcripts of several completed jobs as one ZIP archive, one file per job in `format` (latest edit, speakers named)',
        description: 'Refused whole (nothing is sent) when a job is unknown (404) or not completed (409 JOB_NOT_COMPLETED, `details.job_ids`).',
        body: z.object({ ids: idList, format: z.enum(HARK_FORMATS).default('text') }),
        produces: ['application/zip'],
        response: { 200: z.any().describe('application/zip'), ...errorResponses(400, 404, 409) },
      },
      config: { scope: 'jobs' },
    },
    async (request, reply) => {
      const zip = await jobs.exportTranscripts(request.body.ids, request.body.format, (job) => canSeeJob(request, job.apiKeyId));
      return reply
        .type('application/zip')
        .header('content-disposition', `attachment; filename="hark-transcripts-${request.body.format}.zip"`)
        .send(zip);
    },
  );

  app.post(
    '/api/v1/jobs/:id/cancel',
    {
      schema: {
        tags: ['jobs'],
        summary: 'Cancel a queued or running job (kills its worker\'s process tree); 409 if it already ended',
        params: idParams,
        response: { 200: jobViewSchema, ...errorResponses(404, 409) },
      },
      config: { scope: 'jobs' },
    },
    async (request) => jobView(await jobs.cancel(request.params.id)),
  );

  app.post(
    '/api/v1/jobs/:id/retry',
    {
      schema: {
        tags: ['jobs'],
        summary:
          'Run a finished job again as a new job with the same settings (202, the new job); 409 JOB_NOT_FINISHED while it runs, 410 JOB_AUDIO_GONE when its audio was not kept (KEEP_JOB_AUDIO=false)',
        params: idParams,
        response: { 202: acceptedSchema, ...errorResponses(404, 409, 410, 429, 503) },
      },
      config: { scope: 'jobs' },
    },
    async (request, reply) => {
      await jobs.checkCapacity(request.apiKey?.id);
      await jobs.checkKeyQuota(request.apiKey?.id);
      const copyPath = deps.temp.file('.retry');
      let job;
      try {
        job = await jobs.retry(request.params.id, { copyPath, apiKeyId: request.apiKey?.id, logger: request.log, fallbackVad: requestVad(deps.config, {}) });
      } finally {
        // Moved into the new job's folder on success; gone either way.
        await deps.temp.remove(copyPath);
      }
      request.log.info({ jobId: job.id, retryOf: request.params.id }, 'job accepted (a new run)');
      void reply.header('location', `/api/v1/jobs/${job.id}`);
      return reply.status(202).send({ job_id: job.id, status: job.status, links: links(job.id) });
    },
  );

  app.delete(
    '/api/v1/jobs/:id',
    { schema: { tags: ['jobs'], summary: 'Delete a finished job and its files', params: idParams, response: { 204: z.null(), ...errorResponses(404, 409) } }, config: { scope: 'jobs' } },
    async (request, reply) => {
      await jobs.remove(request.params.id);
      return reply.status(204).send(null);
    },
  );

  app.get(
    '/api/v1/jobs/:id/logs',
    {
      schema: {
        tags: ['jobs'],
        summary: 'The job\'s log lines (the last `tail` ones), from the job store: the same on every instance',
        params: idParams,
        querystring: z.object({ tail: z.coerce.number().int().min(1).max(10_000).optional() }),
        response: {
          200: z.object({
            job_id: z.string(),
            status: z.enum(JOB_STATUSES),
            lines: z.array(z.string()),
            last_seq: z.number().int().describe('Number of the last line (0: none yet); the SSE stream\'s event ids are these numbers.'),
          }),
          ...errorResponses(404),
        },
      },
      config: { scope: 'jobs' },
    },
    async (request) => {
      const job = await jobs.get(request.params.id);
      const lines = await jobs.logLines(job.id, { tail: request.query.tail });
      return { job_id: job.id, status: job.status, lines: lines.map((l) => l.text), last_seq: lines[lines.length - 1]?.seq ?? 0 };
    },
  );

  app.get(
    '/api/v1/jobs/:id/logs/stream',
    {
      schema: {
        tags: ['jobs'],
        summary:
          'Live log (Server-Sent Events: `log` events whose `id` is the line\'s number, then one `end` event when the job ends). A reconnect with `Last-Event-ID` resumes after that line.',
        params: idParams,
        response: errorResponses(404),
      },
      config: { scope: 'jobs' },
    },
    async (request, reply) => {
      const job = await jobs.get(request.params.id);
      // Only an id of the form this stream sends (a decimal line number) resumes; anything else ("0x10", "1e3") replays all.
      const header = request.headers['last-event-id'];
      const lastEventId = typeof header === 'string' ? header.trim() : '';
      const afterSeq = /^\d{1,15}$/.test(lastEventId) ? Number(lastEventId) : 0;
      // Refused (429) while the answer is still an ordinary one; given back when the stream ends, however it ends.
      const release = jobs.takeFollowerPlace(request.apiKey?.id);
      reply.raw.once('close', release);
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
        'x-request-id': request.id,
      });
      res.write('retry: 2000\n\n');
      const stop = new AbortController();
      const abort = () => stop.abort();
      res.on('close', abort);
      closing.signal.addEventListener('abort', abort, { once: true });
      const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), 1000);
      const onError = (err: unknown) => request.log.warn({ err, jobId: job.id }, 'could not read the job log; retrying');
      try {
        for await (const event of jobs.followLog(job.id, { afterSeq, signal: stop.signal, onError })) {
          if (event.type === 'line') res.write(`id: ${event.seq}\nevent: log\ndata: ${event.text}\n\n`);
          else res.write(`event: end\ndata: ${JSON.stringify({ status: event.status })}\n\n`);
        }
      } finally {
        release();
        clearInterval(keepAlive);
        closing.signal.removeEventListener('abort', abort);
        res.end();
      }
    },
  );

  // In its own file; registered here so the ownership check above covers it.
  await app.register(jobAudioRoutes, deps);
};
