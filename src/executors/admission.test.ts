import { describe, expect, it } from 'vitest';
import { AppError } from '../errors.js';
import { Admission } from './admission.js';

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('Admission', () => {
  it('runs up to concurrency at once, queues FIFO up to maxQueue, then refuses with AT_CAPACITY and a retry time', async () => {
    const a = new Admission({ concurrency: 1, maxQueue: 2 });
    const order: number[] = [];
    const gates = [deferred(), deferred(), deferred()];
    const runs = [0, 1, 2].map((i) =>
      a.admit().run(async () => {
        order.push(i);
        await gates[i]!.promise;
      }),
    );
    expect(a.snapshot()).toMatchObject({ active: 1, queued: 2, available: 0, atCapacity: true });
    const refused = (() => {
      try {
        a.admit();
      } catch (e) {
        return e;
      }
    })();
    expect(refused).toBeInstanceOf(AppError);
    expect((refused as AppError).code).toBe('AT_CAPACITY');
    expect((refused as AppError).details?.['retry_after_seconds']).toBeGreaterThanOrEqual(1);
    for (const g of gates) g.resolve();
    await Promise.all(runs);
    expect(order).toEqual([0, 1, 2]);
    expect(a.snapshot()).toMatchObject({ active: 0, queued: 0, available: 3, atCapacity: false });
  });

  it('counts an admitted ticket until it runs or is released', () => {
    const a = new Admission({ concurrency: 1, maxQueue: 0 });
    const t = a.admit();
    expect(() => a.admit()).toThrow(AppError);
    t.release();
    t.release(); // twice is harmless
    expect(a.snapshot().available).toBe(1);
  });

  it('check() refuses as admit() would when full, without taking a place', () => {
    const a = new Admission({ concurrency: 1, maxQueue: 1 });
    a.check();
    a.check();
    expect(a.snapshot()).toMatchObject({ active: 0, queued: 0, available: 2 });
    const tickets = [a.admit(), a.admit()];
    expect(() => a.check()).toThrow(expect.objectContaining({ code: 'AT_CAPACITY', details: { retry_after_seconds: expect.any(Number) } }));
    tickets[0]!.release();
    a.check();
  });

  it('removes a waiting ticket whose client went away', async () => {
    const a = new Admission({ concurrency: 1, maxQueue: 1 });
    const gate = deferred();
    const first = a.admit().run(() => gate.promise);
    const ac = new AbortController();
    let ran = false;
    const second = a.admit().run(async () => {
      ran = true;
    }, ac.signal);
    ac.abort();
    await expect(second).rejects.toMatchObject({ code: 'REQUEST_ABORTED' });
    expect(a.snapshot()).toMatchObject({ active: 1, queued: 0 });
    gate.resolve();
    await first;
    expect(ran).toBe(false);
    expect(a.snapshot()).toMatchObject({ active: 0, queued: 0 });
  });

  it('frees the slot when a task fails', async () => {
    const a = new Admission({ concurrency: 1, maxQueue: 0 });
    await expect(a.admit().run(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(a.snapshot()).toMatchObject({ active: 0, available: 1 });
  });

  it('leaves a live stream\'s time out of the Retry-After estimate', async () => {
    const a = new Admission({ concurrency: 1, maxQueue: 0 });
    const task = deferred();
    const run = a.admit().run(() => task.promise);
    const retryAfter = () => (() => {
      try {
        a.admit();
      } catch (e) {
        return (e as AppError).details?.['retry_after_seconds'];
      }
    })();
    // No task has finished yet: the 5 s default.
    expect(retryAfter()).toBe(5);
    task.resolve();
    await run;
    // One quick task: about a second.
    const quick = a.admit().run(async () => {});
    await quick;
    const stream = a.lease();
    await new Promise((r) => setTimeout(r, 3200));
    stream.release();
    const busy = a.admit().run(() => new Promise<void>((r) => setTimeout(r, 50)));
    // Counted, the 3.2 s stream would make the average 1.07 s and the estimate 2 s; it stays at 1 s.
    expect(retryAfter()).toBe(1);
    await busy;
  });

  it('leases a free slot at once, refuses when none is free, and hands a released slot to the ticket waiting', async () => {
    const a = new Admission({ concurrency: 1, maxQueue: 1 });
    const lease = a.lease();
    expect(a.snapshot()).toMatchObject({ active: 1, queued: 0 });
    // No waiting for a lease: the only slot is taken.
    expect(() => a.lease()).toThrow(AppError);
    let ran = false;
    const queued = a.admit().run(async () => {
      ran = true;
    });
    await new Promise((r) => setTimeout(r, 20));
    expect(ran).toBe(false);
    // A waiting ticket makes a lease wait too: refused.
    expect(() => a.lease()).toThrow(AppError);
    lease.release();
    lease.release(); // twice is harmless
    await queued;
    expect(ran).toBe(true);
    expect(a.snapshot()).toMatchObject({ active: 0, queued: 0, available: 2 });
  });

  it('keeps `reserved` slots free of leases (STREAM_RESERVED_ENGINES): file work still runs at once', async () => {
    const a = new Admission({ concurrency: 3, maxQueue: 0 });
    const one = a.lease({ reserved: 1 });
    const two = a.lease({ reserved: 1 });
    expect(() => a.lease({ reserved: 1 })).toThrow(/STREAM_RESERVED_ENGINES/);
    // The slot kept is the files': a task runs in it without waiting.
    let ran = false;
    await a.admit().run(async () => {
      ran = true;
    });
    expect(ran).toBe(true);
    // A file admitted (its upload arriving) counts as using a slot: one stream gone does not make room.
    one.release();
    const upload = a.admit();
    expect(() => a.lease({ reserved: 1 })).toThrow(AppError);
    upload.release();
    a.lease({ reserved: 1 }).release();
    two.release();
    expect(a.snapshot()).toMatchObject({ active: 0, queued: 0 });
  });
});
