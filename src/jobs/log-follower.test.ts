import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { newJob, tempSqliteStore, type TempSqliteStore } from '../../test/support/store-suite/index.js';
import type { SqliteStore } from '../store/index.js';
import { LogFollowers, type FollowEvent, type FollowSource } from './log-follower.js';

/** Fast timings: the behaviour, not the 250 ms cadence, is under test. */
const FAST = { pollMs: 5, settleMs: 5, retryMs: [5] };

describe('LogFollowers over a real SQLite store', () => {
  let temp: TempSqliteStore;
  let store: SqliteStore;
  /** Reads made, and failures still to inject, per kind. */
  let reads: { lines: number; status: number };
  let failNext: { lines: number; status: number };
  let source: FollowSource;

  beforeEach(async () => {
    temp = await tempSqliteStore('hark-follower-');
    store = temp.store;
    reads = { lines: 0, status: 0 };
    failNext = { lines: 0, status: 0 };
    // The store as the job service reads it, with a read that fails when a test asks (a dropped connection, a busy database).
    source = {
      lines: async (id, afterSeq, limit) => {
        reads.lines++;
        if (failNext.lines > 0 && failNext.lines--) throw new Error('SQLITE_BUSY: database is locked');
        return (await store.logs.logLines(id, { afterSeq, limit })).map((l) => ({ seq: l.seq, text: l.line }));
      },
      status: async (id) => {
        reads.status++;
        if (failNext.status > 0 && failNext.status--) throw new Error('Connection terminated unexpectedly');
        return (await store.jobs.get(id))?.status;
      },
    };
  });
  afterEach(() => temp.remove());

  const append = (id: string, ...lines: string[]) => store.logs.appendLogLines(id, lines.map((line) => ({ time: Date.now(), line })));
  const collect = async (events: AsyncIterable<FollowEvent>): Promise<FollowEvent[]> => {
    const out: FollowEvent[] = [];
    for await (const e of events) out.push(e);
    return out;
  };
  const texts = (events: FollowEvent[]) => events.flatMap((e) => (e.type === 'line' ? [e.text] : []));

  it('goes on after a failed status read, and ends with the status the job really has, not "deleted"', async () => {
    await store.jobs.create(newJob({ id: 'j1' }));
    await append('j1', 'accepted', 'decoding');
    failNext.status = 1;
    let failed!: () => void;
    const sawFailure = new Promise<void>((resolve) => (failed = resolve));
    const errors: unknown[] = [];
    const following = collect(
      new LogFollowers(source, FAST).follow('j1', {
        onError: (err) => {
          errors.push(err);
          failed();
        },
      }),
    );
    // (Before the fix, the failed read ended the stream at once as "deleted".)
    await Promise.race([sawFailure, following]);
    // Written after the failure (by this instance or another: the store is the source), then the job ends.
    await append('j1', 'cancel requested');
    await store.jobs.cancel('j1', Date.now());
    const events = await following;
    expect(texts(events)).toEqual(['accepted', 'decoding', 'cancel requested']);
    expect(events.map((e) => e.type === 'line' && e.seq)).toEqual([1, 2, 3, false]);
    expect(events[events.length - 1]).toEqual({ type: 'end', status: 'cancelled' });
    expect(errors).toHaveLength(1);
    expect(String(errors[0])).toMatch(/Connection terminated/);
  });

  it('retries a failed read of the lines: every line arrives once, in order', async () => {
    await store.jobs.create(newJob({ id: 'j2' }));
    await append('j2', 'one', 'two');
    await store.jobs.cancel('j2', Date.now());
    failNext.lines = 2;
    const events = await collect(new LogFollowers(source, FAST).follow('j2'));
    expect(texts(events)).toEqual(['one', 'two']);
    expect(events[events.length - 1]).toEqual({ type: 'end', status: 'cancelled' });
  });

  it('ends with "deleted" when the job is really gone from the store', async () => {
    await store.jobs.create(newJob({ id: 'j3' }));
    await append('j3', 'accepted');
    const followers = new LogFollowers(source, FAST);
    const events: FollowEvent[] = [];
    for await (const e of followers.follow('j3')) {
      events.push(e);
      if (e.type === 'line') expect(await store.jobs.delete('j3')).toBe(true);
    }
    expect(events).toEqual([
      { type: 'line', seq: 1, text: 'accepted' },
      { type: 'end', status: 'deleted' },
    ]);
    expect(followers.followedJobs).toBe(0);
  });

  it('serves every follower of one job from one read, each from its own position (Last-Event-ID)', async () => {
    await store.jobs.create(newJob({ id: 'j4' }));
    await append('j4', 'a', 'b', 'c');
    await store.jobs.cancel('j4', Date.now());
    const followers = new LogFollowers(source, FAST);
    const [all, resumed, third] = await Promise.all([
      collect(followers.follow('j4')),
      collect(followers.follow('j4', { afterSeq: 2 })),
      collect(followers.follow('j4')),
    ]);
    expect(texts(all)).toEqual(['a', 'b', 'c']);
    expect(texts(third)).toEqual(['a', 'b', 'c']);
    expect(resumed).toEqual([
      { type: 'line', seq: 3, text: 'c' },
      { type: 'end', status: 'cancelled' },
    ]);
    // Three followers, one poll: a read of the lines, the status (ended), the last read after it settled.
    expect(reads).toEqual({ lines: 2, status: 1 });
  });

  it('pages through a long log and stops polling once its last follower leaves', async () => {
    await store.jobs.create(newJob({ id: 'j5' }));
    await append('j5', ...Array.from({ length: 25 }, (_, i) => `line ${i + 1}`));
    const followers = new LogFollowers(source, { ...FAST, pageSize: 10 });
    const abort = new AbortController();
    const seen: string[] = [];
    for await (const e of followers.follow('j5', { signal: abort.signal })) {
      if (e.type === 'line') seen.push(e.text);
      if (seen.length === 25) abort.abort();
    }
    expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => `line ${i + 1}`));
    expect(followers.followedJobs).toBe(0);
    const after = { ...reads };
    await new Promise((r) => setTimeout(r, 50));
    expect(reads).toEqual(after);
  });
});
