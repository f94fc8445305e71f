import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { JobStore } from '../../src/store/index.js';
import { newJob } from './job-store-suite.js';

/**
 * The API key part of the JobStore contract (migration 004), run against SQLite and
 * PostgreSQL like the job suite.
 */
export function describeApiKeyStore(name: string, open: () => Promise<JobStore>): void {
  describe(`JobStore API keys: ${name}`, () => {
    let store: JobStore;
    beforeEach(async () => {
      store = await open();
      await store.migrate();
    });
    afterEach(async () => store.close());

    it('creates, finds by hash, lists and revokes keys', async () => {
      const a = await store.createApiKey({ id: 'k1', name: 'alice', keyHash: 'h1', scopes: ['transcribe', 'jobs'], createdAt: 1000 });
      await store.createApiKey({ id: 'k2', name: 'ops', keyHash: 'h2', scopes: ['admin'], createdAt: 2000 });
      expect(a).toEqual({ id: 'k1', name: 'alice', keyHash: 'h1', scopes: ['transcribe', 'jobs'], createdAt: 1000, revokedAt: null });
      expect((await store.findApiKeyByHash('h2'))?.scopes).toEqual(['admin']);
      expect(await store.findApiKeyByHash('nope')).toBeUndefined();
      expect((await store.listApiKeys()).map((k) => k.name)).toEqual(['alice', 'ops']);
      expect(await store.revokeApiKey('k1', 5000)).toBe(true);
      expect(await store.revokeApiKey('k1', 6000)).toBe(false);
      expect(await store.revokeApiKey('missing', 6000)).toBe(false);
      expect((await store.findApiKeyByHash('h1'))?.revokedAt).toBe(5000);
    });

    it('finds a key by id, revoked or not', async () => {
      await store.createApiKey({ id: 'k1', name: 'alice', keyHash: 'h1', scopes: ['jobs'], createdAt: 1000 });
      expect((await store.findApiKeyById('k1'))?.name).toBe('alice');
      await store.revokeApiKey('k1', 2000);
      expect((await store.findApiKeyById('k1'))?.revokedAt).toBe(2000);
      expect(await store.findApiKeyById('nope')).toBeUndefined();
    });

    it('adds audio seconds per key and UTC day, concurrent adds included', async () => {
      expect(await store.keyUsage('k1', '2026-11-23')).toBe(0);
      await store.addKeyUsage('k1', '2026-11-23', 10.5);
      await Promise.all([1, 2, 3, 4].map((s) => store.addKeyUsage('k1', '2026-11-23', s)));
      await store.addKeyUsage('k1', '2026-11-24', 7);
      await store.addKeyUsage('k2', '2026-11-23', 100);
      expect(await store.keyUsage('k1', '2026-11-23')).toBeCloseTo(20.5);
      expect(await store.keyUsage('k1', '2026-11-24')).toBe(7);
      expect(await store.keyUsage('k2', '2026-11-23')).toBe(100);
    });

    it('refuses a second key with the same hash', async () => {
      await store.createApiKey({ id: 'k1', name: 'a', keyHash: 'same', scopes: ['jobs'], createdAt: 1 });
      await expect(store.createApiKey({ id: 'k2', name: 'b', keyHash: 'same', scopes: ['jobs'], createdAt: 2 })).rejects.toThrow();
    });

    it('records the key on a job, lists by key and counts active jobs per key', async () => {
      await store.create(newJob({ id: 'mine-1', createdAt: 1, apiKeyId: 'k1' }));
      await store.create(newJob({ id: 'mine-2', createdAt: 2, apiKeyId: 'k1' }));
      await store.create(newJob({ id: 'theirs', createdAt: 3, apiKeyId: 'k2' }));
      await store.create(newJob({ id: 'anon', createdAt: 4 }));
      expect((await store.get('mine-1'))?.apiKeyId).toBe('k1');
      expect((await store.get('anon'))?.apiKeyId).toBeNull();
      expect((await store.list({ limit: 10, apiKeyId: 'k1' })).map((j) => j.id)).toEqual(['mine-2', 'mine-1']);
      expect(await store.list({ limit: 10 })).toHaveLength(4);
      expect(await store.countActiveByApiKey('k1')).toBe(2);
      await store.cancel('mine-1', 10);
      expect(await store.countActiveByApiKey('k1')).toBe(1);
      expect(await store.countActiveByApiKey('k3')).toBe(0);
    });
  });
}
