import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { NewJob, Priority } from '../../src/jobs/model.js';
import type { JobStore } from '../../src/store/index.js';

const transcript = { text: 'hi', language: 'en', duration_seconds: 1, confidence: 0.9, segments: [], words: [] };

export function newJob(over: Partial<NewJob> = {}): NewJob {
  const id = over.id ?? randomUUID();
  return {
    id,
    priority: 'normal',
    createdAt: Date.now(),
    fileName: 'a.wav',
    fileSize: 10,
    durationSeconds: 1,
    audioPath: `/tmp/${id}.wav`,
    options: {},
    engine: 'pocketsphinx',
    isolation: 'process',
    idempotencyKey: null,
    callbackUrl: null,
    ...over,
  };
}

/**
 * The JobStore contract: every implementation (SQLite, PostgreSQL) runs this
 * same suite against a real database.
 */
export function describeJobStore(name: string, open: () => Promise<JobStore>): void {
  describe(`JobStore contract: ${name}`, () => {
    let store: JobStore;
    beforeEach(async () => {
      store = await open();
      await store.migrate();
    });
    afterEach(async () => store.close());

    const claim = (now = Date.now(), agingMs = 300_000) => store.claimNext({ instanceId: 'i1', now, agingMs });

    it('creates, reads and lists newest first with a cursor', async () => {
      const t0 = 1_700_000_000_000;
      for (let i = 0; i < 5; i++) await store.create(newJob({ id: `job-${i}`, createdAt: t0 + i }));
      expect((await store.get('job-2'))?.status).toBe('queued');
      const page1 = await store.list({ limit: 2 });
      expect(page1.map((j) => j.id)).toEqual(['job-4', 'job-3']);
      const last = page1[1]!;
      const page2 = await store.list({ limit: 2, cursor: { createdAt: last.createdAt, id: last.id } });
      expect(page2.map((j) => j.id)).toEqual(['job-2', 'job-1']);
      expect((await store.countByStatus()).queued).toBe(5);
    });

    it('tells which of many ids are jobs, in one call', async () => {
      await store.create(newJob({ id: 'a' }));
      await store.create(newJob({ id: 'b' }));
      const ids = ['a', 'nope', 'b', ...Array.from({ length: 1200 }, (_, i) => `absent-${i}`)];
      expect([...(await store.existingJobIds(ids))].sort()).toEqual(['a', 'b']);
      expect(await store.existingJobIds([])).toEqual(new Set());
    });

    it('claims by priority, FIFO within a priority, and ages waiting jobs up', async () => {
      const t0 = 1_700_000_000_000;
      const add = (id: string, priority: Priority, at: number) => store.create(newJob({ id, priority, createdAt: t0 + at }));
      await add('low-old', 'low', 0);
      await add('normal-1', 'normal', 1000);
      await add('high-1', 'high', 2000);
      await add('normal-2', 'normal', 3000);
      const order: string[] = [];
      // Aging period 10 s: the low job (rank 2) waited only 1-3 s more than the others, so it goes last.
      for (let j = await claim(t0 + 5000, 10_000); j; j = await claim(t0 + 5000, 10_000)) order.push(j.id);
      expect(order).toEqual(['high-1', 'normal-1', 'normal-2', 'low-old']);
    });

    it('lets an old low-priority job overtake newer ones after the aging period', async () => {
      const t0 = 1_700_000_000_000;
      await store.create(newJob({ id: 'low-old', priority: 'low', createdAt: t0 }));
      await store.create(newJob({ id: 'normal-new', priority: 'normal', createdAt: t0 + 25_000 }));
      expect((await claim(t0 + 30_000, 10_000))?.id).toBe('low-old');
    });

    it('gives each job to one claimer, counts attempts and guards results with the run token', async () => {
      await store.create(newJob({ id: 'j' }));
      const a = await claim();
      expect(a).toMatchObject({ id: 'j', status: 'running', attempts: 1, ownerInstanceId: 'i1' });
      expect(await claim()).toBeUndefined();
      const run = { id: 'j', runToken: a!.runToken! };
      expect(await store.complete({ id: 'j', runToken: 'stale' }, transcript, Date.now())).toBe(false);
      expect(await store.complete(run, transcript, Date.now())).toBe(true);
      expect(await store.complete(run, transcript, Date.now())).toBe(false); // never written twice
      expect((await store.get('j'))?.result).toEqual(transcript);
    });

    it('follows the state machine: no move out of a terminal state', async () => {
      await store.create(newJob({ id: 'j' }));
      const j = (await claim())!;
      const run = { id: 'j', runToken: j.runToken! };
      expect(await store.fail(run, { code: 'INVALID_AUDIO', message: 'bad' }, Date.now())).toBe(true);
      expect((await store.cancel('j', Date.now()))?.status).toBe('failed');
      expect(await store.requeue(run, { code: 'WORKER_CRASHED', message: 'x' })).toBe(false);
    });

    it('cancels queued and running jobs', async () => {
      await store.create(newJob({ id: 'q' }));
      expect((await store.cancel('q', Date.now()))?.status).toBe('cancelled');
      await store.create(newJob({ id: 'r' }));
      const r = (await claim())!;
      expect((await store.cancel('r', Date.now()))?.status).toBe('cancelled');
      expect(await store.complete({ id: 'r', runToken: r.runToken! }, transcript, Date.now())).toBe(false);
      expect(await store.cancel('missing', Date.now())).toBeUndefined();
    });

    it('recovers an orphan once: requeued while attempts remain, then failed ORPHANED', async () => {
      await store.create(newJob({ id: 'o' }));
      let j = (await claim())!;
      expect(await store.recoverOrphan(j, 2, Date.now())).toBe('requeued');
      expect(await store.recoverOrphan(j, 2, Date.now())).toBe('gone'); // a second scanner finds nothing
      j = (await claim())!;
      expect(j.attempts).toBe(2);
      expect(await store.recoverOrphan(j, 2, Date.now())).toBe('failed');
      expect(await store.get('o')).toMatchObject({ status: 'failed', errorCode: 'ORPHANED' });
    });

    it('records process, heartbeat and progress for the running run only', async () => {
      await store.registerInstance({ id: 'i1', hostname: 'h', pid: 1, processStartedAt: 5, startedAt: 1, lastHeartbeat: 1 });
      await store.create(newJob({ id: 'j' }));
      const j = (await claim(1000))!;
      const run = { id: 'j', runToken: j.runToken! };
      await store.setProcess(run, 4242, 777);
      await store.setProgress(run, 0.5, 12.5);
      await store.heartbeat('i1', ['j'], 9999);
      expect(await store.get('j')).toMatchObject({ processId: 4242, processStartedAt: 777, progress: 0.5, durationSeconds: 12.5, lastHeartbeat: 9999 });
      expect((await store.listInstances())[0]).toMatchObject({ id: 'i1', lastHeartbeat: 9999 });
    });

    it('returns one job per idempotency key', async () => {
      await store.create(newJob({ id: 'a', idempotencyKey: 'k1' }));
      expect((await store.findByIdempotencyKey('k1'))?.id).toBe('a');
      await expect(store.create(newJob({ id: 'b', idempotencyKey: 'k1' }))).rejects.toThrow();
    });

    it('keeps a job\'s log lines in order by seq, per job, and reads after a seq or the last n', async () => {
      await store.create(newJob({ id: 'a' }));
      await store.create(newJob({ id: 'b' }));
      await store.appendLogLines('a', [
        { time: 1000, line: 'accepted' },
        { time: 1001, line: 'started' },
      ]);
      await store.appendLogLines('b', [{ time: 1002, line: 'other job' }]);
      await store.appendLogLines('a', [{ time: 1003, line: 'it\'s "done"; DROP TABLE x' }]);
      expect(await store.logLines('a')).toEqual([
        { seq: 1, time: 1000, line: 'accepted' },
        { seq: 2, time: 1001, line: 'started' },
        { seq: 3, time: 1003, line: 'it\'s "done"; DROP TABLE x' },
      ]);
      expect(await store.logLines('b')).toEqual([{ seq: 1, time: 1002, line: 'other job' }]);
      expect((await store.logLines('a', { afterSeq: 1 })).map((l) => l.seq)).toEqual([2, 3]);
      expect((await store.logLines('a', { tail: 2 })).map((l) => l.line)).toEqual(['started', 'it\'s "done"; DROP TABLE x']);
      expect((await store.logLines('a', { afterSeq: 0, limit: 1 })).map((l) => l.seq)).toEqual([1]);
      expect(await store.logLines('missing')).toEqual([]);
    });

    it('numbers log lines without gaps or duplicates when writers append to one job at once', async () => {
      await store.create(newJob({ id: 'busy' }));
      await Promise.all(
        Array.from({ length: 8 }, (_, w) => store.appendLogLines('busy', Array.from({ length: 30 }, (_, i) => ({ time: i, line: `w${w} l${i}` })))),
      );
      const lines = await store.logLines('busy');
      expect(lines.map((l) => l.seq)).toEqual(Array.from({ length: 240 }, (_, i) => i + 1));
      // Each batch stays whole and in order.
      for (let w = 0; w < 8; w++) {
        const mine = lines.filter((l) => l.line.startsWith(`w${w} `));
        expect(mine.map((l) => l.line)).toEqual(Array.from({ length: 30 }, (_, i) => `w${w} l${i}`));
        expect(mine[29]!.seq - mine[0]!.seq).toBe(29);
      }
    });

    it('deletes a job\'s log lines with the job', async () => {
      await store.create(newJob({ id: 'd' }));
      await store.create(newJob({ id: 'keep' }));
      await store.appendLogLines('d', [{ time: 1, line: 'x' }]);
      await store.appendLogLines('keep', [{ time: 1, line: 'y' }]);
      expect(await store.delete('d')).toBe(true);
      expect(await store.logLines('d')).toEqual([]);
      expect(await store.logLines('keep')).toHaveLength(1);
    });

    it('finds finished jobs for retention and pending webhooks', async () => {
      await store.create(newJob({ id: 'w', callbackUrl: 'http://127.0.0.1:1/hook' }));
      const j = (await claim())!;
      await store.complete({ id: 'w', runToken: j.runToken! }, transcript, 1000);
      expect((await store.pendingWebhooks()).map((x) => x.id)).toEqual(['w']);
      await store.setWebhook('w', 'delivered', 1, null);
      expect(await store.pendingWebhooks()).toEqual([]);
      expect((await store.finishedBefore(2000, 10)).map((x) => x.id)).toEqual(['w']);
      expect(await store.delete('w')).toBe(true);
      expect(await store.get('w')).toBeUndefined();
    });
  });
}
