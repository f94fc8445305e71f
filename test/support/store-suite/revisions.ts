import { describe, expect, it } from 'vitest';
import { newJob, storePerTest, transcript, type OpenStore } from './fixtures.js';

/** JobRevisionStore: edits numbered from 1 per job, the second of two edits of one revision refused, gone with the job. */
export function describeJobRevisionStore(name: string, open: OpenStore): void {
  describe(`JobRevisionStore contract: ${name}`, () => {
    const store = storePerTest(open);
    const edited = (text: string) => ({ ...transcript, text });

    it('numbers edits from 1, reads the latest, any one, and lists them without their results', async () => {
      const { jobs, revisions } = store();
      await jobs.create(newJob({ id: 'a' }));
      await jobs.create(newJob({ id: 'b' }));
      expect(await revisions.latest('a')).toBeUndefined();
      expect(await revisions.add('a', 0, { createdAt: 1000, apiKeyId: null, result: edited('one') })).toBe(true);
      expect(await revisions.add('a', 1, { createdAt: 2000, apiKeyId: 'k1', result: edited('two') })).toBe(true);
      expect(await revisions.add('b', 0, { createdAt: 3000, apiKeyId: null, result: edited('other') })).toBe(true);
      expect(await revisions.latest('a')).toEqual({ revision: 2, createdAt: 2000, apiKeyId: 'k1', result: edited('two') });
      expect((await revisions.get('a', 1))?.result.text).toBe('one');
      expect(await revisions.get('a', 3)).toBeUndefined();
      expect(await revisions.list('a')).toEqual([
        { revision: 1, createdAt: 1000, apiKeyId: null },
        { revision: 2, createdAt: 2000, apiKeyId: 'k1' },
      ]);
    });

    it('refuses an edit of a revision that is not the latest, even when two arrive at once', async () => {
      const { jobs, revisions } = store();
      await jobs.create(newJob({ id: 'a' }));
      const results = await Promise.all(['x', 'y', 'z'].map((t) => revisions.add('a', 0, { createdAt: 1, apiKeyId: null, result: edited(t) })));
      expect(results.filter(Boolean)).toHaveLength(1);
      expect(await revisions.add('a', 0, { createdAt: 2, apiKeyId: null, result: edited('late') })).toBe(false);
      expect(await revisions.add('a', 5, { createdAt: 2, apiKeyId: null, result: edited('ahead') })).toBe(false);
      expect((await revisions.list('a')).map((r) => r.revision)).toEqual([1]);
    });

    it('deletes a job\'s revisions with the job', async () => {
      const { jobs, revisions } = store();
      await jobs.create(newJob({ id: 'a' }));
      await revisions.add('a', 0, { createdAt: 1, apiKeyId: null, result: edited('one') });
      expect(await jobs.delete('a')).toBe(true);
      expect(await revisions.list('a')).toEqual([]);
    });
  });
}
