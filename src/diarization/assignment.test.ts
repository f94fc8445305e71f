import { describe, expect, it } from 'vitest';
import { maxAssignment } from './assignment.js';

describe('maxAssignment', () => {
  /** The best total over every one-to-one assignment, by exhaustive search. */
  function bruteForce(w: number[][], row = 0, taken = new Set<number>()): number {
    if (row === w.length) return 0;
    let best = bruteForce(w, row + 1, taken); // this row unassigned
    w[row]!.forEach((x, col) => {
      if (taken.has(col)) return;
      taken.add(col);
      best = Math.max(best, x + bruteForce(w, row + 1, taken));
      taken.delete(col);
    });
    return best;
  }

  it('finds the maximum total on random square and rectangular matrices, as exhaustive search does', () => {
    let seed = 21;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    for (let trial = 0; trial < 300; trial++) {
      const w = Array.from({ length: 1 + rnd(6) }, () => Array.from({ length: 1 + (trial % 6) }, () => rnd(3) * rnd(500)));
      const got = maxAssignment(w);
      const cols = got.filter((c) => c >= 0);
      expect(new Set(cols).size).toBe(cols.length);
      expect(cols.length).toBe(Math.min(w.length, w[0]!.length));
      expect(got.reduce((sum, c, r) => sum + (c >= 0 ? w[r]![c]! : 0), 0)).toBe(bruteForce(w));
    }
  });
});
