import { describe, expect, it } from 'vitest';
import { newJob, storePerTest, type OpenStore } from './fixtures.js';

/** JobLogStore: a job's lines, numbered per job, under concurrent writers, gone with the job. */
export function describeJobLogStore(name: string, open: OpenStore): void {
  describe(`JobLogStore contract: ${name}`, () => {
    const store = storePerTest(open);

    it('keeps a job\'s log lines in order by seq, per job, and reads after a seq or the last n', async () => {
      const { jobs, logs } = store();
      await jobs.create(newJob({ id: 'a' }));
      await jobs.create(newJob({ id: 'b' }));
      await logs.appendLogLines('a', [
        { time: 1000, line: 'accepted' },
        { time: 1001, line: 'started' },
      ]);
      await logs.appendLogLines('b', [{ time: 1002, line: 'other job' }]);
      await logs.appendLogLines('a', [{ time: 1003, line: 'it\'s "done"; DROP TABLE x' }]);
      expect(await logs.logLines('a')).toEqual([
        { seq: 1, time: 1000, line: 'accepted' },
        { seq: 2, time: 1001, line: 'started' },
        { seq: 3, time: 1003, line: 'it\'s "done"; DROP TABLE x' },
      ]);
      expect(await logs.logLines('b')).toEqual([{ seq: 1, time: 1002, line: 'other job' }]);
      expect((await logs.logLines('a', { afterSeq: 1 })).map((l) => l.seq)).toEqual([2, 3]);
      expect((await logs.logLines('a', { tail: 2 })).map((l) => l.line)).toEqual(['started', 'it\'s "done"; DROP TABLE x']);
      expect((await logs.logLines('a', { afterSeq: 0, limit: 1 })).map((l) => l.seq)).toEqual([1]);
      expect(await logs.logLines('missing')).toEqual([]);
    });

    it('numbers log lines without gaps or duplicates when writers append to one job at once', async () => {
      const { jobs, logs } = store();
      await jobs.create(newJob({ id: 'busy' }));
      await Promise.all(
        Array.from({ length: 8 }, (_, w) => logs.appendLogLines('busy', Array.from({ length: 30 }, (_, i) => ({ time: i, line: `w${w} l${i}` })))),
      );
      const lines = await logs.logLines('busy');
      expect(lines.map((l) => l.seq)).toEqual(Array.from({ length: 240 }, (_, i) => i + 1));
      // Each batch stays whole and in order.
      for (let w = 0; w < 8; w++) {
        const mine = lines.filter((l) => l.line.startsWith(`w${w} `));
        expect(mine.map((l) => l.line)).toEqual(Array.from({ length: 30 }, (_, i) => `w${w} l${i}`));
        expect(mine[29]!.seq - mine[0]!.seq).toBe(29);
      }
    });

    it('deletes a job\'s log lines with the job', async () => {
      const { jobs, logs } = store();
      await jobs.create(newJob({ id: 'd' }));
      await jobs.create(newJob({ id: 'keep' }));
      await logs.appendLogLines('d', [{ time: 1, line: 'x' }]);
      await logs.appendLogLines('keep', [{ time: 1, line: 'y' }]);
      expect(await jobs.delete('d')).toBe(true);
      expect(await logs.logLines('d')).toEqual([]);
      expect(await logs.logLines('keep')).toHaveLength(1);
    });
  });
}
