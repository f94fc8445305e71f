import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Isolation, TranscribeHooks } from '../engines/index.js';
import type { TranscribeFileRequest, TranscriptionResponse } from '../transcription/index.js';
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

/**
 * The shared steps of every upload route: a place in line first (so a full
 * server answers 503 before reading the body), then the upload, then the
 * route's own field parsing, then the transcription. The upload is removed on
 * every path.
 *
 * `chosen` is the mode the URL asked for. Without one, the line is that of the
 * default engine's mode; when the form names an engine whose mode differs
 * (a remote engine runs in-process, a native one in the pool), the place moves
 * to that mode's line once the fields are read.
 *
 * `hooks` are the route's own (e.g. segments for a streamed answer); the
 * client-gone abort signal is always this function's.
 */
export async function transcribeUpload<T>(
  deps: AppDeps,
  request: FastifyRequest,
  reply: FastifyReply,
  chosen: Isolation | undefined,
  parse: (upload: Upload) => T & Pick<TranscribeFileRequest, 'engine' | 'options'>,
  hooks: Omit<TranscribeHooks, 'signal'> = {},
): Promise<{ parsed: T; result: TranscriptionResponse; upload: Upload }> {
  const keyId = request.apiKey?.id;
  // A key whose hours for today are spent is refused before its upload is read.
  await deps.usage?.check(keyId);
  let isolation = chosen ?? deps.service.defaultIsolation;
  let ticket = deps.service.admit(isolation);
  let upload: Upload | undefined;
  try {
    const signal = clientGone(reply);
    upload = await receiveUpload(request, deps.temp, deps.config.MAX_FILE_SIZE_MB * 1e6);
    const parsed = parse(upload);
    const wanted = chosen ?? deps.service.isolationFor(parsed.engine);
    if (wanted !== isolation) {
      ticket.release();
      isolation = wanted;
      ticket = deps.service.admit(isolation);
    }
    deps.service.requireEngine(parsed.engine, isolation);
    request.log.info({ fileName: upload.fileName, bytes: upload.size, engine: parsed.engine, isolation }, 'transcription accepted');
    const result = await deps.service.transcribeFile(ticket, isolation, {
      id: request.id,
      inputPath: upload.path,
      engine: parsed.engine,
      options: parsed.options,
      logger: request.log,
      hooks: { ...hooks, signal },
      quota: deps.usage?.meter(keyId),
    });
    request.log.info(
      { durationSeconds: result.duration_seconds, processingMs: result.processing_ms, words: result.words.length },
      'transcription done',
    );
    return { parsed, result, upload };
  } finally {
    ticket.release();
    await deps.temp.remove(upload?.path);
  }
}

/** Fastify route config flag: the route takes a multipart upload (for the OpenAPI document). */
export interface UploadRouteConfig {
  upload?: { fields: Record<string, { type: string; description: string; enum?: readonly string[] }> };
  /** The 200 may also be Server-Sent Events (stream=true): what they are, for the OpenAPI document. */
  events?: string;
}

declare module 'fastify' {
  // Declaration merging adds hark's route config keys to Fastify's.
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  interface FastifyContextConfig extends UploadRouteConfig {}
}
