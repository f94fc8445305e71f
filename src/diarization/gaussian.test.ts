import { describe, expect, it } from 'vitest';
import { deltaBic, GaussStats } from './gaussian.js';
import type { Features } from './mfcc.js';

/** Seeded Gaussian frames of `dims` with the given per-dimension mean and spread. */
function frames(count: number, dims: number, mean: number, spread: number, seed: number): Features {
  let s = seed;
  const rnd = (): number => {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    return (s + 1) / 0x80000001;
  };
  const data = Float32Array.from({ length: count * dims }, () => mean + spread * Math.sqrt(-2 * Math.log(rnd())) * Math.cos(2 * Math.PI * rnd()));
  return { frames: count, dims, data };
}

describe('ΔBIC', () => {
  it('says one model for two samples of one distribution and two for different ones', () => {
    const a = GaussStats.of(frames(300, 12, 0, 1, 1), 0, 300);
    const same = GaussStats.of(frames(300, 12, 0, 1, 2), 0, 300);
    const shifted = GaussStats.of(frames(300, 12, 1, 1, 3), 0, 300);
    const wider = GaussStats.of(frames(300, 12, 0, 2, 4), 0, 300);
    expect(deltaBic(a, same, 1, 0.01)).toBeLessThan(0);
    expect(deltaBic(a, shifted, 1, 0.01)).toBeGreaterThan(0);
    expect(deltaBic(a, wider, 1, 0.01)).toBeGreaterThan(0);
  });

  it('adds statistics exactly: two halves merged equal the whole', () => {
    const f = frames(200, 5, 1, 1, 5);
    const merged = GaussStats.of(f, 0, 120).plus(GaussStats.of(f, 120, 200));
    expect(merged.logDet(0)).toBeCloseTo(GaussStats.of(f, 0, 200).logDet(0), 9);
  });
});
