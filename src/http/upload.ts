import { stat } from 'node:fs/promises';
import type { FastifyContextConfig, FastifyRequest } from 'fastify';
import { pipeToFile, type ScratchDir } from '../os/index.js';
import { AppError } from '../errors.js';
import { uploadReceived } from './upload-limits.js';

/** Multipart field names that carry the audio: `file` (OpenAI, hark) and `audio_file` (the seeds). */
export const FILE_FIELDS = ['file', 'audio_file'] as const;

export interface Upload {
  /** hark's own temp path; the caller removes it. */
  path: string;
  /** The client's file name: a label only, never used as a path. */
  fileName: string;
  size: number;
  /** Text fields; a repeated name (e.g. `timestamp_granularities[]`) collects an array. */
  fields: Record<string, string | string[]>;
}

/** Strips path parts and control characters from a client's file name (for logs and answers). */
export function safeFileName(name: string | undefined): string {
  const base = (name ?? '').split(/[\\/]/).pop() ?? '';
  // eslint-disable-next-line no-control-regex
  const clean = base.replace(/[\u0000-\u001f\u007f]/g, '').slice(0, 255);
  return clean === '' || clean === '.' || clean === '..' ? 'upload' : clean;
}

/** RFC 2046: a boundary is 1 to 70 characters. Past ~250 the parser cannot even start. */
const MAX_BOUNDARY_LENGTH = 70;

const LIMITS = { files: 1, fields: 32, fieldSize: 64 * 1024, parts: 40 } as const;

/**
 * Buffer of one part (busboy's `fileHwm`), above the 64 KB a socket read hands
 * over. At busboy's 16 KB default, a part it skips (no Content-Disposition)
 * that arrives in one read with the closing boundary pauses the parser for
 * good (@fastify/busboy 3.2.6): the request hangs until REQUEST_TIMEOUT_SECONDS.
 */
const PART_BUFFER_BYTES = 256 * 1024;

/** The boundary of a multipart Content-Type, or a clear refusal before the parser sees it. */
function checkBoundary(contentType: string | undefined): void {
  const m = /;\s*boundary=(?:"([^"]*)"|([^;\s]*))/i.exec(contentType ?? '');
  const boundary = m?.[1] ?? m?.[2] ?? '';
  if (boundary === '') {
    throw new AppError('INVALID_REQUEST', 'the multipart/form-data Content-Type has no boundary parameter');
  }
  if (boundary.length > MAX_BOUNDARY_LENGTH) {
    throw new AppError('INVALID_REQUEST', `the multipart boundary is ${boundary.length} characters long; at most ${MAX_BOUNDARY_LENGTH} are allowed (RFC 2046)`);
  }
}

/**
 * The parser's and the request stream's failures as hark's errors. A plain
 * `Error` without a code is the multipart parser (busboy) rejecting the body;
 * system errors (disk full, a broken temp dir) and programming errors stay
 * what they are and become a 500.
 */
function uploadError(err: unknown, request: FastifyRequest, maxBytes: number): unknown {
  if (err instanceof AppError) return err;
  const code = (err as { code?: unknown }).code;
  if (code === 'FST_MP_PREMATURE_CLOSE' || (request.raw.destroyed && !request.raw.complete)) {
    return new AppError('REQUEST_ABORTED', 'the client closed the connection during the upload', { cause: err });
  }
  switch (code) {
    case 'FST_FILES_LIMIT':
      return new AppError('TOO_MANY_FILES', 'send exactly one audio file per request', { cause: err });
    case 'FST_REQ_FILE_TOO_LARGE':
      return tooLarge(maxBytes, err);
    case 'FST_FIELDS_LIMIT':
      return new AppError('INVALID_REQUEST', `too many form fields; at most ${LIMITS.fields} are read`, { cause: err });
    case 'FST_PARTS_LIMIT':
      return new AppError('INVALID_REQUEST', `too many form parts; at most ${LIMITS.parts} are read`, { cause: err });
    default:
      break;
  }
  if (err instanceof Error && err.constructor === Error && code === undefined) {
    return new AppError('INVALID_REQUEST', `the multipart/form-data body is malformed (${err.message})`, { cause: err });
  }
  return err;
}

function tooLarge(maxBytes: number, cause?: unknown): AppError {
  return new AppError('FILE_TOO_LARGE', `the file is larger than ${maxBytes / 1e6} MB (MAX_FILE_SIZE_MB)`, {
    cause,
    details: { max_file_size_bytes: maxBytes },
  });
}

type LongFields = NonNullable<NonNullable<FastifyContextConfig['upload']>['longFields']>;

/**
 * Refuses a text field over its limit as soon as it is read: 64 KB, or what the
 * route allows a long field (`upload.longFields`, under its name with or
 * without `[]`), which may also come only so many times.
 */
function checkField(name: string, value: string, truncated: boolean, fields: Upload['fields'], longFields: LongFields): void {
  const base = name.endsWith('[]') ? name.slice(0, -2) : name;
  const long = longFields[name] ?? longFields[base] ?? longFields[`${base}[]`];
  const maxBytes = long?.maxBytes ?? LIMITS.fieldSize;
  if (truncated || Buffer.byteLength(value) > maxBytes) {
    throw new AppError('INVALID_REQUEST', `form field "${name.slice(0, 64)}" is longer than ${maxBytes / 1024} KB`);
  }
  if (long === undefined) return;
  const count = [base, `${base}[]`].reduce((n, k) => n + [fields[k] ?? []].flat().length, 0);
  if (count > long.maxCount) throw new AppError('INVALID_REQUEST', `form field "${base}[]" was sent more than ${long.maxCount} times`);
}

/**
 * Streams the one audio file of a multipart request to a temp file, enforcing
 * the size limit while streaming (multipart's `fileSize` limit), and collects
 * text fields. On any failure the partial file is removed before the error
 * leaves; on success the caller owns `path`. Either way the request stops
 * counting among its key's and address's uploads in flight.
 */
export async function receiveUpload(
  request: FastifyRequest,
  temp: ScratchDir,
  maxBytes: number,
  /** Called with the fields so far when the file part starts, before a byte of it is stored; may throw to refuse. */
  beforeFile?: (fields: Upload['fields']) => void,
): Promise<Upload> {
  try {
    return await receive(request, temp, maxBytes, beforeFile);
  } finally {
    uploadReceived(request);
  }
}

async function receive(request: FastifyRequest, temp: ScratchDir, maxBytes: number, beforeFile: ((fields: Upload['fields']) => void) | undefined): Promise<Upload> {
  if (!request.isMultipart()) {
    throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'send the audio as multipart/form-data with a "file" field');
  }
  checkBoundary(request.headers['content-type']);
  const longFields = request.routeOptions.config.upload?.longFields ?? {};
  const fieldSize = Math.max(LIMITS.fieldSize, ...Object.values(longFields).map((l) => l.maxBytes));
  const fields: Record<string, string | string[]> = {};
  let upload: Omit<Upload, 'fields'> | undefined;
  let pending: string | undefined;
  try {
    for await (const part of request.parts({ limits: { ...LIMITS, fieldSize, fileSize: maxBytes }, fileHwm: PART_BUFFER_BYTES })) {
      // A part whose Content-Disposition names no field (busboy gives no name) belongs to nothing.
      if (typeof part.fieldname !== 'string' || part.fieldname === '') {
        if (part.type === 'file') part.file.resume();
        throw new AppError('INVALID_REQUEST', 'a form part has no name: every part needs Content-Disposition: form-data; name="..."');
      }
      if (part.type === 'field') {
        const value = typeof part.value === 'string' ? part.value : String(part.value);
        const prev = fields[part.fieldname];
        fields[part.fieldname] = prev === undefined ? value : [...(Array.isArray(prev) ? prev : [prev]), value];
        checkField(part.fieldname, value, part.fieldnameTruncated || part.valueTruncated, fields, longFields);
        continue;
      }
      if (!(FILE_FIELDS as readonly string[]).includes(part.fieldname)) {
        part.file.resume();
        throw new AppError('INVALID_REQUEST', `unexpected file field "${part.fieldname}"; send the audio as "file" (or "audio_file")`);
      }
      try {
        beforeFile?.(fields);
      } catch (err) {
        part.file.resume();
        throw err;
      }
      pending = temp.file('.upload');
      // Past the limit the parser drops the rest of the part but keeps reading it, to its
      // closing boundary, which a chunked body may never send: stop at once instead.
      const file = part.file;
      file.once('limit', () => file.destroy(tooLarge(maxBytes)));
      await pipeToFile(file, pending, { flags: 'wx' });
      if (file.truncated) throw tooLarge(maxBytes);
      const { size } = await stat(pending);
      upload = { path: pending, fileName: safeFileName(part.filename), size };
      pending = undefined;
      if (size === 0) throw new AppError('EMPTY_FILE', 'the uploaded file is empty');
    }
  } catch (err) {
    // A failed cleanup (the temp dir itself broken) must not hide why the upload failed.
    await temp.remove(pending, upload?.path).catch((cleanupErr: unknown) => request.log.warn({ err: cleanupErr }, 'could not remove a partial upload'));
    throw uploadError(err, request, maxBytes);
  }
  if (upload === undefined) {
    const asText = FILE_FIELDS.find((f) => fields[f] !== undefined);
    throw new AppError(
      'MISSING_FILE',
      asText === undefined
        ? 'no audio file in the request; send it in the "file" field'
        : `"${asText}" was sent as a text field, not a file; send the audio as a file part (with a filename), e.g. curl -F ${asText}=@audio.wav`,
    );
  }
  return { ...upload, fields };
}
