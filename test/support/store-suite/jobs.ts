import { describe, expect, it } from 'vitest';
import { claimer, newJob, storePerTest, transcript, type OpenStore } from './fixtures.js';

/** JobStore: jobs as records (create, read, list, count, cancel, retention, delete). */
export function describeJobStore(name: string, open: OpenStore): void {
  describe(`JobStore contract: ${name}`, () => {
    const store = storePerTest(open);
    const claim = claimer(store);

    it('creates, reads and lists newest first with a cursor', async () => {
      const { jobs } = store();
      const t0 = 1_700_000_000_000;
      for (let i = 0; i < 5; i++) await jobs.create(newJob({ id: `job-${i}`, createdAt: t0 + i }));
      expect((await jobs.get('job-2'))?.status).toBe('queued');
      const page1 = await jobs.list({ limit: 2 });
      expect(page1.map((j) => j.id)).toEqual(['job-4', 'job-3']);
      const last = page1[1]!;
      const page2 = await jobs.list({ limit: 2, cursor: { createdAt: last.createdAt, id: last.id } });
      expect(page2.map((j) => j.id)).toEqual(['job-2', 'job-1']);
      expect((await jobs.countByStatus()).queued).toBe(5);
    });

    it('lists oldest first with a cursor, within a creation-time window, and renames', async () => {
      const { jobs } = store();
      const t0 = 1_700_000_000_000;
      // Two jobs in the same millisecond: the id breaks the tie, in either order.
      for (const [id, dt] of [['a', 0], ['b', 10], ['c', 10], ['d', 20], ['e', 30]] as const) await jobs.create(newJob({ id, createdAt: t0 + dt }));
      const page1 = await jobs.list({ limit: 2, oldestFirst: true });
      expect(page1.map((j) => j.id)).toEqual(['a', 'b']);
      const page2 = await jobs.list({ limit: 2, oldestFirst: true, cursor: { createdAt: page1[1]!.createdAt, id: 'b' } });
      expect(page2.map((j) => j.id)).toEqual(['c', 'd']);
      expect((await jobs.list({ limit: 10, createdFrom: t0 + 10, createdBefore: t0 + 30 })).map((j) => j.id)).toEqual(['d', 'c', 'b']);
      expect(await jobs.rename('c', 'Board meeting 3 March')).toBe(true);
      expect((await jobs.get('c'))?.fileName).toBe('Board meeting 3 March');
      expect(await jobs.rename('missing', 'x')).toBe(false);
    });

    it('counts queued jobs per isolation mode, and no other status', async () => {
      const { jobs } = store();
      expect(await jobs.countQueuedByIsolation()).toEqual({});
      for (const id of ['p1', 'p2', 'p3']) await jobs.create(newJob({ id, isolation: 'process' }));
      for (const id of ['i1', 'i2']) await jobs.create(newJob({ id, isolation: 'in-process' }));
      await jobs.cancel('p3', Date.now());
      expect(await jobs.countQueuedByIsolation()).toEqual({ process: 2, 'in-process': 2 });
      // A claimed job runs: it no longer waits in the store.
      expect((await store().runs.claimNext({ instanceId: 'i1', now: Date.now(), agingMs: 300_000, isolation: 'in-process' }))?.id).toBe('i1');
      expect(await jobs.countQueuedByIsolation()).toEqual({ process: 2, 'in-process': 1 });
    });

    it('tells which of many ids are jobs, in one call', async () => {
      const { jobs } = store();
      await jobs.create(newJob({ id: 'a' }));
      await jobs.create(newJob({ id: 'b' }));
      const ids = ['a', 'nope', 'b', ...Array.from({ length: 1200 }, (_, i) => `absent-${i}`)];
      expect([...(await jobs.existingJobIds(ids))].sort()).toEqual(['a', 'b']);
      expect(await jobs.existingJobIds([])).toEqual(new Set());
    });

    it('returns one job per idempotency key and API key', async () => {
      const { jobs } = store();
      await jobs.create(newJob({ id: 'a', idempotencyKey: 'k1' }));
      expect((await jobs.findByIdempotencyKey(null, 'k1'))?.id).toBe('a');
      await expect(jobs.create(newJob({ id: 'b', idempotencyKey: 'k1' }))).rejects.toThrow();
      // The same Idempotency-Key from API keys is a job per key: none finds another's.
      await jobs.create(newJob({ id: 'alice', idempotencyKey: 'k1', apiKeyId: 'key-alice' }));
      await jobs.create(newJob({ id: 'bob', idempotencyKey: 'k1', apiKeyId: 'key-bob' }));
      await expect(jobs.create(newJob({ id: 'alice-2', idempotencyKey: 'k1', apiKeyId: 'key-alice' }))).rejects.toThrow();
      expect((await jobs.findByIdempotencyKey('key-alice', 'k1'))?.id).toBe('alice');
      expect((await jobs.findByIdempotencyKey('key-bob', 'k1'))?.id).toBe('bob');
      expect(await jobs.findByIdempotencyKey('key-carol', 'k1')).toBeUndefined();
      // A key that ends like another's scoped value finds nothing either.
      expect(await jobs.findByIdempotencyKey(null, 'key-alice:k1')).toBeUndefined();
      // The job shows the client's key as it was sent.
      expect((await jobs.get('bob'))?.idempotencyKey).toBe('k1');
    });

    it('cancels queued and running jobs', async () => {
      const { jobs, runs } = store();
      await jobs.create(newJob({ id: 'q' }));
      expect((await jobs.cancel('q', Date.now()))?.status).toBe('cancelled');
      await jobs.create(newJob({ id: 'r' }));
      const r = (await claim())!;
      expect((await jobs.cancel('r', Date.now()))?.status).toBe('cancelled');
      expect(await runs.complete({ id: 'r', runToken: r.runToken! }, transcript, Date.now())).toBe(false);
      expect(await jobs.cancel('missing', Date.now())).toBeUndefined();
    });

    it('records the key on a job, lists by key and counts active jobs per key', async () => {
      const { jobs } = store();
      await jobs.create(newJob({ id: 'mine-1', createdAt: 1, apiKeyId: 'k1' }));
      await jobs.create(newJob({ id: 'mine-2', createdAt: 2, apiKeyId: 'k1' }));
      await jobs.create(newJob({ id: 'theirs', createdAt: 3, apiKeyId: 'k2' }));
      await jobs.create(newJob({ id: 'anon', createdAt: 4 }));
      expect((await jobs.get('mine-1'))?.apiKeyId).toBe('k1');
      expect((await jobs.get('anon'))?.apiKeyId).toBeNull();
      expect((await jobs.list({ limit: 10, apiKeyId: 'k1' })).map((j) => j.id)).toEqual(['mine-2', 'mine-1']);
      expect(await jobs.list({ limit: 10 })).toHaveLength(4);
      expect(await jobs.countActiveByApiKey('k1')).toBe(2);
      await jobs.cancel('mine-1', 10);
      expect(await jobs.countActiveByApiKey('k1')).toBe(1);
      expect(await jobs.countActiveByApiKey('k3')).toBe(0);
    });

    it('searches file names and transcript text, in any case, with LIKE wildcards taken literally', async () => {
      const { jobs, runs } = store();
      const said = 'The Budget for next year was approved';
      await jobs.create(newJob({ id: 'spoken', createdAt: 1, fileName: 'call.wav' }));
      const run = (await claim())!;
      await runs.complete({ id: 'spoken', runToken: run.runToken! }, { ...transcript, text: said }, 2);
      await jobs.create(newJob({ id: 'review', createdAt: 2, fileName: 'Quarterly Review.wav' }));
      await jobs.create(newJob({ id: 'percent', createdAt: 3, fileName: 'growth 100%_final.mp3' }));
      await jobs.create(newJob({ id: 'plain', createdAt: 4, fileName: 'growth 1000 final.mp3', apiKeyId: 'k1' }));
      const ids = async (search: string, more: { apiKeyId?: string; status?: 'queued' | 'completed' } = {}) => (await jobs.list({ limit: 10, search, ...more })).map((j) => j.id);
      expect(await ids('quarterly')).toEqual(['review']);
      expect(await ids('REVIEW.WAV')).toEqual(['review']);
      // The transcript's text, not its JSON: "text" and "segments" are keys of every stored result.
      expect(await ids('budget FOR')).toEqual(['spoken']);
      expect(await ids('segments')).toEqual([]);
      expect(await ids('"text"')).toEqual([]);
      // % and _ match only themselves.
      expect(await ids('100%_')).toEqual(['percent']);
      expect(await ids('100_')).toEqual([]);
      expect(await ids('%')).toEqual(['percent']);
      expect(await ids('\\')).toEqual([]);
      expect(await ids('growth')).toEqual(['plain', 'percent']);
      // With the other filters and the cursor.
      expect(await ids('growth', { apiKeyId: 'k1' })).toEqual(['plain']);
      expect(await ids('a', { status: 'completed' })).toEqual(['spoken']);
      const first = (await jobs.list({ limit: 1, search: 'growth' }))[0]!;
      expect((await jobs.list({ limit: 10, search: 'growth', cursor: { createdAt: first.createdAt, id: first.id } })).map((j) => j.id)).toEqual(['percent']);
      // Empty: no filter.
      expect(await ids('')).toHaveLength(4);
    });

    it("keeps a job's VAD settings, and none for a job stored without them", async () => {
      const { jobs } = store();
      const vad = { kind: 'energy' as const, threshold: 0.35, minSilenceMs: 700, speechPadMs: 250, minSpeechMs: 100 };
      await jobs.create(newJob({ id: 'tuned', vad }));
      await jobs.create(newJob({ id: 'plain' }));
      expect((await jobs.get('tuned'))?.vad).toEqual(vad);
      expect((await jobs.get('plain'))?.vad).toBeNull();
      expect((await jobs.list({ limit: 10 })).find((j) => j.id === 'tuned')?.vad).toEqual(vad);
    });

    it("keeps a job's diarization request through every claim, and none for a job that asked for none", async () => {
      const { jobs, runs } = store();
      await jobs.create(newJob({ id: 'plain', createdAt: 1 }));
      await jobs.create(newJob({ id: 'bounded', createdAt: 2, diarize: { minSpeakers: 2, maxSpeakers: 4 } }));
      await jobs.create(newJob({ id: 'estimated', createdAt: 3, diarize: {} }));
      expect((await jobs.get('bounded'))?.diarize).toEqual({ minSpeakers: 2, maxSpeakers: 4 });
      expect((await jobs.get('estimated'))?.diarize).toEqual({});
      expect((await jobs.get('plain'))?.diarize).toBeNull();
      expect((await jobs.list({ limit: 10 })).map((j) => [j.id, j.diarize])).toEqual([
        ['estimated', {}],
        ['bounded', { minSpeakers: 2, maxSpeakers: 4 }],
        ['plain', null],
      ]);
      // What the runner reads: the claimed job, and again after its first attempt is requeued.
      await jobs.cancel('plain', 5);
      await jobs.cancel('estimated', 5);
      const first = (await claim())!;
      expect(first).toMatchObject({ id: 'bounded', diarize: { minSpeakers: 2, maxSpeakers: 4 } });
      expect(await runs.requeue({ id: 'bounded', runToken: first.runToken! }, { code: 'WORKER_CRASHED', message: 'x' })).toBe(true);
      expect(await claim()).toMatchObject({ id: 'bounded', attempts: 2, diarize: { minSpeakers: 2, maxSpeakers: 4 } });
    });

    it("keeps the names given to a completed job's speakers, replaced whole, and names no other job", async () => {
      const { jobs, runs } = store();
      await jobs.create(newJob({ id: 'done', diarize: {} }));
      await jobs.create(newJob({ id: 'waiting', createdAt: Date.now() + 1000 }));
      const run = (await claim())!;
      expect(run.id).toBe('done');
      expect(run.speakerNames).toEqual({});
      // Not completed yet: nothing is stored.
      expect(await jobs.setSpeakerNames('done', { A: 'Ann' })).toBe(false);
      expect(await runs.complete({ id: 'done', runToken: run.runToken! }, transcript, Date.now())).toBe(true);
      expect(await jobs.setSpeakerNames('done', { A: 'Ann', B: 'Bob Ó Briain' })).toBe(true);
      expect((await jobs.get('done'))?.speakerNames).toEqual({ A: 'Ann', B: 'Bob Ó Briain' });
      expect(await jobs.setSpeakerNames('done', { B: 'Bea' })).toBe(true);
      expect((await jobs.list({ limit: 10 })).find((j) => j.id === 'done')?.speakerNames).toEqual({ B: 'Bea' });
      expect(await jobs.setSpeakerNames('done', {})).toBe(true);
      expect((await jobs.get('done'))?.speakerNames).toEqual({});
      expect(await jobs.setSpeakerNames('waiting', { A: 'Ann' })).toBe(false);
      expect((await jobs.get('waiting'))?.speakerNames).toEqual({});
      expect(await jobs.setSpeakerNames('missing', { A: 'Ann' })).toBe(false);
    });

    it('finds finished jobs for retention and deletes them', async () => {
      const { jobs, runs } = store();
      await jobs.create(newJob({ id: 'w', callbackUrl: 'http://127.0.0.1:1/hook' }));
      const j = (await claim())!;
      await runs.complete({ id: 'w', runToken: j.runToken! }, transcript, 1000);
      expect((await jobs.finishedBefore(2000, 10)).map((x) => x.id)).toEqual(['w']);
      expect(await jobs.delete('w')).toBe(true);
      expect(await jobs.get('w')).toBeUndefined();
    });
  });
}
