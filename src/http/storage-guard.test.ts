import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { installErrorHandler } from './error-handler.js';
import type { DiskSpace } from '../os/index.js';
import { installStorageGuard } from './storage-guard.js';

/** A file system as statfs states it: `blocks` of 4 KB, `available` of them free to hark's user. */
const fsOf = (blocks: number, available: number): DiskSpace => ({ size: blocks * 4096, available: available * 4096 });

/** An app with one upload route behind the guard, its file system stated by `readFs`. */
async function appWith(readSpace: (path: string) => Promise<DiskSpace>) {
  const app = Fastify();
  installErrorHandler(app);
  installStorageGuard(app, '/data', readSpace);
  app.post('/upload', { config: { upload: { fields: {} } } }, async () => ({ ok: true }));
  app.post('/other', async () => ({ ok: true }));
  await app.ready();
  return app;
}

const post = (app: Awaited<ReturnType<typeof appWith>>, url: string, bytes: number) =>
  app.inject({ method: 'POST', url, headers: { 'content-type': 'text/plain' }, payload: 'x'.repeat(bytes) });

describe('installStorageGuard', () => {
  it('refuses an upload that declares more than the room left, with 507 and Retry-After; one that fits passes', async () => {
    const app = await appWith(async () => fsOf(1000, 100)); // 409.6 kB left
    const refused = await post(app, '/upload', 500_000);
    expect(refused.statusCode).toBe(507);
    expect(refused.headers['retry-after']).toBe('60');
    expect(refused.json()).toMatchObject({ error: { code: 'INSUFFICIENT_STORAGE', message: expect.stringMatching(/^the upload is 0\.5 MB and the server has 0\.4 MB of disk space left/) } });
    expect((await post(app, '/upload', 400_000)).statusCode).toBe(200);
    // Only routes that take an upload are looked at.
    expect((await post(app, '/other', 500_000)).statusCode).toBe(200);
    await app.close();
  });

  it('lets the upload through when the file system states no size, or cannot be read: the write reports a full disk then', async () => {
    const noSize = await appWith(async () => fsOf(0, 0));
    expect((await post(noSize, '/upload', 500_000)).statusCode).toBe(200);
    await noSize.close();
    const unreadable = await appWith(async () => Promise.reject(Object.assign(new Error('EACCES'), { code: 'EACCES' })));
    expect((await post(unreadable, '/upload', 500_000)).statusCode).toBe(200);
    await unreadable.close();
  });
});
