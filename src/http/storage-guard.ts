import type { FastifyInstance } from 'fastify';
import { insufficientStorage } from '../errors.js';
import { diskSpace, fits, megabytes, type DiskSpace } from '../os/index.js';

/**
 * An upload whose declared length (Content-Length) is more than the file
 * system holding DATA_DIR has left is refused with 507 INSUFFICIENT_STORAGE
 * before a byte of its body is read, not after the client has sent all of it.
 * Uploads that fit one by one but not together still meet ENOSPC while they
 * are stored, and get the same answer then.
 *
 * A preParsing hook on the routes that take an upload: after the key check
 * (a client without a key costs no statfs), before the upload caps take a place.
 */
export function installStorageGuard(app: FastifyInstance, dataDir: string, readSpace: (path: string) => Promise<DiskSpace> = diskSpace): void {
  app.addHook('preParsing', async (request) => {
    if (request.routeOptions.config.upload === undefined) return;
    const length = Number(request.headers['content-length']);
    if (!Number.isFinite(length) || length <= 0) return;
    // A DATA_DIR that cannot be read is the write's own error to report.
    const space = await readSpace(dataDir).catch(() => undefined);
    if (space !== undefined && !fits(space, length)) throw insufficientStorage(`the upload is ${megabytes(length)} and the server has ${megabytes(space.available)} of disk space left`);
  });
}
