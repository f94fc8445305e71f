import { describe, expect, it } from 'vitest';
import { AppError } from '../errors.js';
import { Lease } from '../executors/index.js';
import { Plan } from './plan.js';
import { StreamPlaces } from './stream-places.js';

/** Places whose engine slots are counted here (`held`), never refused. */
function places(maxStreams: number, perOwner: number) {
  const held = { now: 0 };
  const p = new StreamPlaces({ maxStreams, perOwner }, (request) => {
    held.now++;
    return new Plan({ engine: 'pocketsphinx' }, 'in-process', request, true, new Lease(() => held.now--));
  });
  return { p, held };
}

function code(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    return err instanceof AppError ? err.code : 'not an AppError';
  }
}

describe('StreamPlaces', () => {
  const alice = { kind: 'key', id: 'k1' } as const;
  const bob = { kind: 'key', id: 'k2' } as const;

  it('caps streams per owner (RATE_LIMITED naming KEY_MAX_STREAMS) and in all (AT_CAPACITY), checked again when a place is taken', () => {
    const { p } = places(3, 2);
    // Two upgrades of one key both pass the check before either takes its place: the second take is refused.
    p.require(alice);
    p.require(alice);
    const a1 = p.take(alice);
    const a2 = p.take(alice);
    expect(code(() => p.take(alice))).toBe('RATE_LIMITED');
    expect(() => p.require(alice)).toThrow(/KEY_MAX_STREAMS=2/);
    const b1 = p.take(bob);
    expect(code(() => p.take(bob))).toBe('AT_CAPACITY');
    // Without an owner only MAX_STREAMS counts.
    expect(code(() => p.take())).toBe('AT_CAPACITY');
    a1.release();
    a1.release(); // twice is harmless
    expect(p.open).toBe(2);
    const a3 = p.take(alice);
    for (const place of [a2, a3, b1]) place.release();
    expect(p.open).toBe(0);
    expect(code(() => p.take(alice).release())).toBeUndefined();
  });

  it('addresses and keys are different owners; 0 is no cap', () => {
    const { p } = places(10, 1);
    const k = p.take({ kind: 'key', id: '127.0.0.1' });
    const a = p.take({ kind: 'address', id: '127.0.0.1' });
    expect(code(() => p.take({ kind: 'address', id: '127.0.0.1' }))).toBe('RATE_LIMITED');
    k.release();
    a.release();
    const open = places(10, 0).p;
    for (let i = 0; i < 5; i++) open.take(alice);
    expect(open.open).toBe(5);
  });

  it('frees the engine slots a place took, and takes none once released', () => {
    const { p, held } = places(2, 0);
    const place = p.take(alice);
    place.plan({});
    expect(held.now).toBe(1);
    place.release();
    expect(held.now).toBe(0);
    expect(code(() => place.plan({}))).toBe('REQUEST_ABORTED');
  });
});
