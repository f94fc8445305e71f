import { describe, expect, it } from 'vitest';
import { cosineAffinity, speechWindows, supervectors } from './embed.js';
import type { Features } from './mfcc.js';

const OPTIONS = { length: 100, hop: 50, minLength: 30 };

describe('speechWindows', () => {
  it('skips a region under the minimum and gives a short region one window', () => {
    expect(speechWindows([{ start: 0, end: 20 }], OPTIONS)).toEqual([]);
    expect(speechWindows([{ start: 10, end: 80 }], OPTIONS)).toEqual([{ start: 10, end: 80 }]);
  });

  it('covers a long region to its end with full windows no more than a hop apart', () => {
    const w = speechWindows([{ start: 0, end: 275 }], OPTIONS);
    expect(w[0]!.start).toBe(0);
    expect(w.at(-1)!.end).toBe(275);
    for (const x of w) expect(x.end - x.start).toBe(100);
    for (let i = 1; i < w.length; i++) expect(w[i]!.start - w[i - 1]!.start).toBeLessThanOrEqual(50);
  });
});

describe('supervectors', () => {
  it('makes windows of one voice closer to each other than to another voice', () => {
    let s = 9;
    const rnd = (): number => {
      s = (s * 1103515245 + 12345) & 0x7fffffff;
      return (s + 1) / 0x80000001;
    };
    const dims = 8;
    const frames = 800;
    // Frames 0..399 one voice, 400..799 another, shifted on every dimension.
    const data = Float32Array.from({ length: frames * dims }, (_, i) => (Math.floor(i / dims) < 400 ? -0.7 : 0.7) + Math.sqrt(-2 * Math.log(rnd())) * Math.cos(2 * Math.PI * rnd()));
    const features: Features = { frames, dims, data };
    const windows = speechWindows([{ start: 0, end: 400 }, { start: 400, end: 800 }], OPTIONS);
    const speech = Array.from({ length: frames }, (_, i) => i);
    const a = cosineAffinity(supervectors(features, speech, windows, { components: 4, relevance: 16 }));
    const n = windows.length;
    const voice = windows.map((w) => (w.start < 400 ? 0 : 1));
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        for (let k = 0; k < n; k++) {
          if (voice[i] === voice[j] && voice[i] !== voice[k]) expect(a[i * n + j]!).toBeGreaterThan(a[i * n + k]!);
        }
      }
    }
  });
});
