import { describe, expect, it } from 'vitest';
import { cutAtSilences } from './segment.js';

/** Synthetic energies: speech at 60 dB, pauses at 20 dB. */
function energies(pattern: [kind: 's' | 'p', frames: number][]): Float32Array {
  const out: number[] = [];
  for (const [kind, n] of pattern) for (let i = 0; i < n; i++) out.push(kind === 's' ? 60 + (i % 7) : 20 + (i % 3));
  return Float32Array.from(out);
}

const opts = { maxFrames: 3000, minFrames: 500, minSilenceFrames: 15, breakFrames: 50 };

describe('cutAtSilences', () => {
  it('keeps audio no longer than the maximum in one piece', () => {
    expect(cutAtSilences(energies([['s', 2999]]), opts)).toEqual([{ start: 0, end: 2999 }]);
  });

  it('cuts inside the longest pause of each window, never past the maximum, covering every frame', () => {
    const e = energies([['s', 1200], ['p', 20], ['s', 1000], ['p', 80], ['s', 1500], ['p', 40], ['s', 1500]]);
    const ranges = cutAtSilences(e, opts);
    // The first window (500-3000) holds a 20- and an 80-frame pause: the cut falls in the first real break (2220-2300).
    expect(ranges[0]!.end).toBeGreaterThan(2220);
    expect(ranges[0]!.end).toBeLessThan(2300);
    for (const r of ranges) expect(r.end - r.start).toBeLessThanOrEqual(opts.maxFrames);
    expect(ranges[0]!.start).toBe(0);
    expect(ranges[ranges.length - 1]!.end).toBe(e.length);
    for (let i = 1; i < ranges.length; i++) expect(ranges[i]!.start).toBe(ranges[i - 1]!.end);
  });

  it('cuts at the first sentence break rather than a longer pause later in the window', () => {
    const e = energies([['s', 800], ['p', 60], ['s', 1000], ['p', 150], ['s', 5000]]);
    const first = cutAtSilences(e, opts)[0]!;
    expect(first.end).toBeGreaterThan(800);
    expect(first.end).toBeLessThan(860);
  });

  it('cuts speech with no pause at all at the maximum or before', () => {
    const ranges = cutAtSilences(energies([['s', 10_000]]), opts);
    expect(ranges.length).toBeGreaterThanOrEqual(4);
    for (const r of ranges) expect(r.end - r.start).toBeLessThanOrEqual(opts.maxFrames);
  });
});
