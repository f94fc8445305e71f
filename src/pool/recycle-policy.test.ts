import { describe, expect, it } from 'vitest';
import { countExit, emptyTotals, recycleDue, respawnDelayMs } from './recycle-policy.js';

describe('recycle policy', () => {
  it('counts each end by its reason; only recycles and shutdown are planned', () => {
    const t = emptyTotals();
    expect(['crash', 'timeout', 'cancel', 'startup-failed'].map((r) => countExit(t, r as never))).toEqual([false, false, false, false]);
    expect(['tasks', 'rss', 'shutdown'].map((r) => countExit(t, r as never))).toEqual([true, true, true]);
    // tasks/rss recycles are counted when decided (afterTask), not again when the process exits.
    expect(t).toEqual({ spawned: 0, crashed: 1, timedOut: 1, startupFailures: 1, recycled: { crash: 1, timeout: 1, cancel: 1, tasks: 0, rss: 0 } });
  });

  it('is due past the memory cap first, then at the task count', () => {
    const config = { MAX_TASKS_PER_WORKER: 3, WORKER_MAX_RSS_MB: 100 };
    const MB = 1024 * 1024;
    expect(recycleDue({ rssBytes: 100 * MB, tasksDone: 2 }, config)).toBeUndefined();
    expect(recycleDue({ rssBytes: 100 * MB + 1, tasksDone: 3 }, config)).toBe('rss');
    expect(recycleDue({ rssBytes: undefined, tasksDone: 3 }, config)).toBe('tasks');
    expect(recycleDue({ rssBytes: undefined, tasksDone: 2 }, config)).toBeUndefined();
  });

  it('respawns at once after a planned end, then doubles from 250 ms up to the cap', () => {
    expect([0, 1, 2, 3, 4, 5, 20].map((f) => respawnDelayMs(f, 2000))).toEqual([0, 250, 500, 1000, 2000, 2000, 2000]);
  });
});
