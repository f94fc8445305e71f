import { describe, expect, it } from 'vitest';
import type { Priority } from '../../../src/jobs/model.js';
import { claimer, newJob, storePerTest, transcript, type OpenStore } from './fixtures.js';

/** JobRunStore: claims (priority, aging, one claimer), the run's records and outcome, orphan recovery. */
export function describeJobRunStore(name: string, open: OpenStore): void {
  describe(`JobRunStore contract: ${name}`, () => {
    const store = storePerTest(open);
    const claim = claimer(store);

    it('claims by priority, FIFO within a priority, and ages waiting jobs up', async () => {
      const t0 = 1_700_000_000_000;
      const add = (id: string, priority: Priority, at: number) => store().jobs.create(newJob({ id, priority, createdAt: t0 + at }));
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
      const { jobs } = store();
      const t0 = 1_700_000_000_000;
      await jobs.create(newJob({ id: 'low-old', priority: 'low', createdAt: t0 }));
      await jobs.create(newJob({ id: 'normal-new', priority: 'normal', createdAt: t0 + 25_000 }));
      expect((await claim(t0 + 30_000, 10_000))?.id).toBe('low-old');
    });

    it('gives each job to one claimer, counts attempts and guards results with the run token', async () => {
      const { jobs, runs } = store();
      await jobs.create(newJob({ id: 'j' }));
      const a = await claim();
      expect(a).toMatchObject({ id: 'j', status: 'running', attempts: 1, ownerInstanceId: 'i1' });
      expect(await claim()).toBeUndefined();
      const run = { id: 'j', runToken: a!.runToken! };
      expect(await runs.complete({ id: 'j', runToken: 'stale' }, transcript, Date.now())).toBe(false);
      expect(await runs.complete(run, transcript, Date.now())).toBe(true);
      expect(await runs.complete(run, transcript, Date.now())).toBe(false); // never written twice
      expect((await jobs.get('j'))?.result).toEqual(transcript);
    });

    it('follows the state machine: no move out of a terminal state', async () => {
      const { jobs, runs } = store();
      await jobs.create(newJob({ id: 'j' }));
      const j = (await claim())!;
      const run = { id: 'j', runToken: j.runToken! };
      expect(await runs.fail(run, { code: 'INVALID_AUDIO', message: 'bad' }, Date.now())).toBe(true);
      expect((await jobs.cancel('j', Date.now()))?.status).toBe('failed');
      expect(await runs.requeue(run, { code: 'WORKER_CRASHED', message: 'x' })).toBe(false);
    });

    it('recovers an orphan once: requeued while attempts remain, then failed ORPHANED', async () => {
      const { jobs, runs } = store();
      await jobs.create(newJob({ id: 'o' }));
      let j = (await claim())!;
      expect(await runs.recoverOrphan(j, 2, Date.now())).toBe('requeued');
      expect(await runs.recoverOrphan(j, 2, Date.now())).toBe('gone'); // a second scanner finds nothing
      j = (await claim())!;
      expect(j.attempts).toBe(2);
      expect(await runs.recoverOrphan(j, 2, Date.now())).toBe('failed');
      expect(await jobs.get('o')).toMatchObject({ status: 'failed', errorCode: 'ORPHANED' });
    });

    it('records process, heartbeat and progress for the running run only', async () => {
      const { jobs, runs, instances } = store();
      await instances.registerInstance({ id: 'i1', hostname: 'h', pid: 1, processStartedAt: 5, startedAt: 1, lastHeartbeat: 1 });
      await jobs.create(newJob({ id: 'j' }));
      const j = (await claim(1000))!;
      const run = { id: 'j', runToken: j.runToken! };
      await runs.setProcess(run, 4242, 777);
      await runs.setProgress(run, 0.5, 12.5);
      await runs.heartbeat('i1', ['j'], 9999);
      expect(await jobs.get('j')).toMatchObject({ processId: 4242, processStartedAt: 777, progress: 0.5, durationSeconds: 12.5, lastHeartbeat: 9999 });
      expect((await instances.listInstances())[0]).toMatchObject({ id: 'i1', lastHeartbeat: 9999 });
    });
  });
}
