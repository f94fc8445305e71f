import { describe, expect, it } from 'vitest';
import { storePerTest, type OpenStore } from './fixtures.js';

/** ApiKeyStore (migrations 004 and 007): keys by hash, never the key. */
export function describeApiKeyStore(name: string, open: OpenStore): void {
  describe(`ApiKeyStore contract: ${name}`, () => {
    const store = storePerTest(open);

    it('creates, finds by hash, lists and revokes keys', async () => {
      const { keys } = store();
      const a = await keys.createApiKey({ id: 'k1', name: 'alice', keyHash: 'h1', scopes: ['transcribe', 'jobs'], createdAt: 1000 });
      await keys.createApiKey({ id: 'k2', name: 'ops', keyHash: 'h2', scopes: ['admin'], createdAt: 2000 });
      expect(a).toEqual({ id: 'k1', name: 'alice', keyHash: 'h1', scopes: ['transcribe', 'jobs'], createdAt: 1000, revokedAt: null, sessionsValidAfter: null });
      expect((await keys.findApiKeyByHash('h2'))?.scopes).toEqual(['admin']);
      expect(await keys.findApiKeyByHash('nope')).toBeUndefined();
      expect((await keys.listApiKeys()).map((k) => k.name)).toEqual(['alice', 'ops']);
      expect(await keys.revokeApiKey('k1', 5000)).toBe(true);
      expect(await keys.revokeApiKey('k1', 6000)).toBe(false);
      expect(await keys.revokeApiKey('missing', 6000)).toBe(false);
      expect((await keys.findApiKeyByHash('h1'))?.revokedAt).toBe(5000);
    });

    it('finds a key by id, revoked or not', async () => {
      const { keys } = store();
      await keys.createApiKey({ id: 'k1', name: 'alice', keyHash: 'h1', scopes: ['jobs'], createdAt: 1000 });
      expect((await keys.findApiKeyById('k1'))?.name).toBe('alice');
      await keys.revokeApiKey('k1', 2000);
      expect((await keys.findApiKeyById('k1'))?.revokedAt).toBe(2000);
      expect(await keys.findApiKeyById('nope')).toBeUndefined();
    });

    it('ends the sessions of one key at a time, and never moves that time back', async () => {
      const { keys } = store();
      await keys.createApiKey({ id: 'k1', name: 'a', keyHash: 'h1', scopes: ['jobs'], createdAt: 1 });
      await keys.createApiKey({ id: 'k2', name: 'b', keyHash: 'h2', scopes: ['jobs'], createdAt: 2 });
      // Times in ms past 2^31, as real ones are (bigint on PostgreSQL).
      await keys.endSessions('k1', 1_733_000_000_500);
      expect((await keys.findApiKeyById('k1'))?.sessionsValidAfter).toBe(1_733_000_000_500);
      expect((await keys.findApiKeyByHash('h1'))?.sessionsValidAfter).toBe(1_733_000_000_500);
      expect((await keys.findApiKeyById('k2'))?.sessionsValidAfter).toBeNull();
      await keys.endSessions('k1', 1_733_000_000_100);
      expect((await keys.findApiKeyById('k1'))?.sessionsValidAfter).toBe(1_733_000_000_500);
      await keys.endSessions('k1', 1_733_000_009_000);
      expect((await keys.findApiKeyById('k1'))?.sessionsValidAfter).toBe(1_733_000_009_000);
      await keys.endSessions('missing', 5);
    });

    it('refuses a second key with the same hash', async () => {
      const { keys } = store();
      await keys.createApiKey({ id: 'k1', name: 'a', keyHash: 'same', scopes: ['jobs'], createdAt: 1 });
      await expect(keys.createApiKey({ id: 'k2', name: 'b', keyHash: 'same', scopes: ['jobs'], createdAt: 2 })).rejects.toThrow();
    });
  });
}
