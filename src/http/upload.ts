import { createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import type { FastifyRequest } from 'fastify';
import type { TempDir } from '../audio/index.js';
import { AppError } from '../errors.js';

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

/**
 * Streams the one audio file of a multipart request to a temp file, enforcing
 * the size limit while streaming (multipart's `fileSize` limit), and collects
 * text fields. On any failure the partial file is removed before the error
 * leaves; on success the caller owns `path`.
 */
export async function receiveUpload(request: FastifyRequest, temp: TempDir, maxBytes: number): Promise<Upload> {
  if (!request.isMultipart()) {
    throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'send the audio as multipart/form-data with a "file" field');
  }
  const fields: Record<string, string | string[]> = {};
  let upload: Omit<Upload, 'fields'> | undefined;
  let pending: string | undefined;
  try {
    for await (const part of request.parts({ limits: { fileSize: maxBytes, files: 1, fields: 32, fieldSize: 64 * 1024, parts: 40 } })) {
      if (part.type === 'field') {
        const value = typeof part.value === 'string' ? part.value : String(part.value);
        const prev = fields[part.fieldname];
        fields[part.fieldname] = prev === undefined ? value : [...(Array.isArray(prev) ? prev : [prev]), value];
        continue;
      }
      if (!(FILE_FIELDS as readonly string[]).includes(part.fieldname)) {
        part.file.resume();
        throw new AppError('INVALID_REQUEST', `unexpected file field "${part.fieldname}"; send the audio as "file" (or "audio_file")`);
      }
      pending = temp.file('.upload');
      await pipeline(part.file, createWriteStream(pending, { flags: 'wx' }));
      if (part.file.truncated) {
        throw new AppError('FILE_TOO_LARGE', `the file is larger than ${maxBytes / 1e6} MB (MAX_FILE_SIZE_MB)`, {
          details: { max_file_size_bytes: maxBytes },
        });
      }
      const { size } = await stat(pending);
      upload = { path: pending, fileName: safeFileName(part.filename), size };
      pending = undefined;
      if (size === 0) throw new AppError('EMPTY_FILE', 'the uploaded file is empty');
    }
  } catch (err) {
    await temp.remove(pending, upload?.path);
    if (err instanceof AppError) throw err;
    const code = (err as { code?: string }).code;
    if (code === 'FST_FILES_LIMIT') throw new AppError('TOO_MANY_FILES', 'send exactly one audio file per request', { cause: err });
    throw err;
  }
  if (upload === undefined) throw new AppError('MISSING_FILE', 'no audio file in the request; send it in the "file" field');
  return { ...upload, fields };
}
