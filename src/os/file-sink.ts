import { createWriteStream, type WriteStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/**
 * Resolves once a file write stream has closed, however it ended. Only then
 * is removing its file final: a stream opens its file in the background, and
 * a failure (a broken source, an abort) can settle before that open has run,
 * so an `rm` at once would find nothing and the open would then create the
 * file, left behind for good.
 */
export function fileClosed(out: WriteStream): Promise<void> {
  if (out.closed) return Promise.resolve();
  return new Promise((resolve) => out.once('close', () => resolve()));
}

/**
 * Pipes `source` into a new file at `path`. When it fails, it rejects only
 * after the file is closed, so the caller's cleanup removes the file for good.
 */
export async function pipeToFile(source: Readable, path: string, options: { flags?: string; signal?: AbortSignal } = {}): Promise<void> {
  const out = createWriteStream(path, { flags: options.flags ?? 'w' });
  try {
    await pipeline(source, out, { signal: options.signal });
  } catch (err) {
    await fileClosed(out);
    throw err;
  }
}
