import type { FastifyReply, FastifyRequest } from 'fastify';
import type { TranscribeHooks, TranscribeOptions } from '../engines/index.js';
import type { FileTranscription, Plan, PlanRequest } from '../transcription/index.js';
import type { AppDeps } from './types.js';
import { receiveUpload, type Upload } from './upload.js';

/** An AbortSignal that fires when the client goes away before its answer is sent. */
export function clientGone(reply: FastifyReply): AbortSignal {
  const ac = new AbortController();
  reply.raw.on('close', () => {
    if (!reply.raw.writableFinished) ac.abort();
  });
  return ac.signal;
}

/** Header that names the engine before the body, on every upload route (beside `?engine=` / `?model=`). */
const ENGINE_HEADER = 'x-hark-engine';

/**
 * The engine a request names before its body: the query parameter the route
 * takes (`engine` on hark's routes, `model` on OpenAI's), or the X-Hark-Engine header.
 */
export function earlyEngine(request: FastifyRequest, queryName: 'engine' | 'model'): string | undefined {
  const fromQuery = (request.query as Record<string, unknown> | undefined)?.[queryName];
  if (typeof fromQuery === 'string' && fromQuery !== '') return fromQuery;
  const header = request.headers[ENGINE_HEADER];
  return typeof header === 'string' && header !== '' ? header : undefined;
}

/** What a route makes of the form's text fields: its own answer settings, and the engine and options. */
export type ParsedForm<T> = T & { engine?: string | undefined; options: TranscribeOptions };

/**
 * The shared steps of every upload route, with one plan per request: engine
 * and mode decided before the body is read (a full line, an unknown or unready
 * engine and a mode that is off are refused before a byte of the upload is
 * stored), then the upload, then the route's own field parsing, then the place
 * in line, then the transcription. The place is taken only once the upload is
 * in, so that slow uploads hold none (issue 18); a line that filled meanwhile
 * answers AT_CAPACITY then. A form field that names the engine before the file
 * settles the plan before the file is stored; one after it, once the upload
 * is in. The plan and the upload are released on every path.
 *
 * `want` is what the URL and headers asked; `engineField` is the form field
 * that names the engine (`engine` or `model`). `hooks` are the route's own
 * (e.g. segments for a streamed answer); the client-gone signal is this function's.
 */
export async function transcribeUpload<T>(
  deps: AppDeps,
  request: FastifyRequest,
  reply: FastifyReply,
  want: PlanRequest,
  engineField: 'engine' | 'model',
  parse: (upload: Upload) => ParsedForm<T> | Promise<ParsedForm<T>>,
  hooks: Omit<TranscribeHooks, 'signal'> = {},
): Promise<{ parsed: ParsedForm<T>; result: FileTranscription; upload: Upload }> {
  const keyId = request.apiKey?.id;
  // A key whose hours for today are spent is refused before its upload is read.
  await deps.usage?.check(keyId);
  let plan: Plan = deps.service.preflight(want);
  let upload: Upload | undefined;
  let parsed: ParsedForm<T> | undefined;
  try {
    const signal = clientGone(reply);
    upload = await receiveUpload(request, deps.temp, deps.config.MAX_FILE_SIZE_MB * 1e6, (fields) => {
      const named = fields[engineField];
      plan = deps.service.settle(plan, typeof named === 'string' ? named : undefined);
    });
    parsed = await parse(upload);
    plan = deps.service.admit(deps.service.settle(plan, parsed.engine));
    request.log.info({ fileName: upload.fileName, bytes: upload.size, engine: plan.engine, isolation: plan.isolation }, 'transcription accepted');
    const result = await deps.service.transcribeFile(plan, {
      id: request.id,
      inputPath: upload.path,
      options: parsed.options,
      logger: request.log,
      hooks: { ...hooks, signal },
      usage: deps.usage?.meter(keyId),
    });
    request.log.info(
      { durationSeconds: result.transcript.duration_seconds, processingMs: result.processingMs, words: result.transcript.words.length },
      'transcription done',
    );
    return { parsed, result, upload };
  } finally {
    plan.release();
    // Known speakers' reference clips (decoded by `parse`) go with the upload.
    await deps.temp.remove(upload?.path, ...(parsed?.options.knownSpeakers ?? []).map((k) => k.audio.path));
  }
}

/** Fastify route config flag: the route takes a multipart upload (for the OpenAPI document). */
export interface UploadRouteConfig {
  upload?: {
    fields: Record<string, { type: string; description: string; enum?: readonly string[] }>;
    /**
     * Text fields that may be longer than the 64 KB every other field may be (a
     * reference clip as a data URL), and how many values of each a request may
     * send: the parser holds fields in memory, so both are bounded while it reads.
     */
    longFields?: Readonly<Record<string, { maxBytes: number; maxCount: number }>>;
  };
  /** The 200 may also be Server-Sent Events (stream=true): what they are, for the OpenAPI document. */
  events?: string;
}

declare module 'fastify' {
  // Declaration merging adds hark's route config keys to Fastify's.
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  interface FastifyContextConfig extends UploadRouteConfig {}
}
