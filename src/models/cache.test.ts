import { afterEach, describe, expect, it, vi } from 'vitest';
import { AppError } from '../errors.js';
import { ModelCache, type ModelEvent } from './cache.js';

/** A loadable whose loads and unloads are counted; `value` names the model. */
function model(name: string, log: string[]) {
  return {
    load: async () => {
      log.push(`load ${name}`);
      return name;
    },
    unload: async (value: string) => void log.push(`unload ${value}`),
  };
}

const MB = 1e6;

describe('ModelCache', () => {
  afterEach(() => vi.useRealTimers());

  it('keeps a model loaded for the same owner: a second use does not load it again', async () => {
    const log: string[] = [];
    const cache = new ModelCache({ limitBytes: 0, idleTtlMs: 0 });
    const owner = {};
    for (let i = 0; i < 3; i++) (await cache.acquire(owner, '/a', { id: 'a', fileBytes: MB }, model('a', log))).release();
    expect(log).toEqual(['load a']);
    expect(cache.holds(owner, '/a')).toBe(true);
    // Another owner (another decode slot) gets a copy of its own.
    (await cache.acquire({}, '/a', { id: 'a', fileBytes: MB }, model('a', log))).release();
    expect(log).toEqual(['load a', 'load a']);
  });

  it('unloads the least recently used idle model to make room under the limit', async () => {
    const log: string[] = [];
    const events: ModelEvent[] = [];
    const cache = new ModelCache({ limitBytes: 2.5 * MB, idleTtlMs: 0, onEvent: (e) => events.push(e) });
    const owner = {};
    const use = async (id: string) => (await cache.acquire(owner, `/${id}`, { id, fileBytes: MB }, model(id, log))).release();
    await use('a');
    await new Promise((r) => setTimeout(r, 5));
    await use('b');
    await new Promise((r) => setTimeout(r, 5));
    await use('a'); // a is now the most recent
    await use('c'); // 3 MB would pass 2.5: b (least recent) goes
    expect(log).toEqual(['load a', 'load b', 'unload b', 'load c']);
    expect(cache.snapshot().map((m) => m.id).sort()).toEqual(['a', 'c']);
    expect(events.filter((e) => e.type === 'unloaded')).toEqual([{ type: 'unloaded', id: 'b', bytes: MB, reason: 'memory' }]);
  });

  it('never unloads a model in use: one that cannot fit beside it is refused with MODEL_MEMORY_LIMIT', async () => {
    const log: string[] = [];
    const cache = new ModelCache({ limitBytes: 1.5 * MB, idleTtlMs: 0 });
    const busy = await cache.acquire({}, '/a', { id: 'a', fileBytes: MB }, model('a', log));
    const refused = await cache.acquire({}, '/b', { id: 'b', fileBytes: MB }, model('b', log)).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(AppError);
    expect((refused as AppError).code).toBe('MODEL_MEMORY_LIMIT');
    expect((refused as AppError).message).toMatch(/MODEL_MEMORY_LIMIT_MB/);
    busy.release();
    // Once it is idle, it makes room.
    (await cache.acquire({}, '/b', { id: 'b', fileBytes: MB }, model('b', log))).release();
    expect(log).toEqual(['load a', 'unload a', 'load b']);
  });

  it('refuses a model larger than the whole limit', async () => {
    const cache = new ModelCache({ limitBytes: MB, idleTtlMs: 0 });
    await expect(cache.acquire({}, '/big', { id: 'big', fileBytes: 2 * MB }, model('big', []))).rejects.toMatchObject({ code: 'MODEL_MEMORY_LIMIT' });
  });

  it('unloads a model unused for the idle TTL, and not one used again before it', async () => {
    vi.useFakeTimers();
    const log: string[] = [];
    const cache = new ModelCache({ limitBytes: 0, idleTtlMs: 1000 });
    const owner = {};
    (await cache.acquire(owner, '/a', { id: 'a', fileBytes: MB }, model('a', log))).release();
    await vi.advanceTimersByTimeAsync(600);
    (await cache.acquire(owner, '/a', { id: 'a', fileBytes: MB }, model('a', log))).release();
    await vi.advanceTimersByTimeAsync(600);
    expect(log).toEqual(['load a']);
    await vi.advanceTimersByTimeAsync(500);
    expect(log).toEqual(['load a', 'unload a']);
    expect(cache.snapshot()).toEqual([]);
  });

  it('evicts a deleted model: idle copies at once, a busy one when its decode ends', async () => {
    const log: string[] = [];
    const cache = new ModelCache({ limitBytes: 0, idleTtlMs: 0 });
    (await cache.acquire({}, '/a', { id: 'a', fileBytes: MB }, model('a', log))).release();
    const busy = await cache.acquire({}, '/a', { id: 'a', fileBytes: MB }, model('a', log));
    await cache.evict('a');
    expect(log).toEqual(['load a', 'load a', 'unload a']);
    expect(cache.snapshot()).toHaveLength(1);
    busy.release();
    await new Promise((r) => setImmediate(r));
    expect(log).toEqual(['load a', 'load a', 'unload a', 'unload a']);
    expect(cache.snapshot()).toEqual([]);
  });

  it('counts what the first decode allocates as the model\'s memory, and says so (resized)', async () => {
    let rss = 100 * MB;
    const events: ModelEvent[] = [];
    const cache = new ModelCache({ limitBytes: 0, idleTtlMs: 0, rss: () => rss, onEvent: (e) => events.push(e) });
    const lease = await cache.acquire({}, '/a', { id: 'a', fileBytes: MB }, {
      load: async () => {
        rss += 10 * MB; // the weights and the context
        return 'a';
      },
      unload: async () => undefined,
    });
    expect(cache.snapshot()[0]?.bytes).toBe(10 * MB);
    rss += 40 * MB; // compute buffers, allocated by the first decode and kept
    lease.release();
    expect(cache.snapshot()[0]?.bytes).toBe(50 * MB);
    expect(events.map((e) => e.type)).toEqual(['loaded', 'resized']);
  });
});
