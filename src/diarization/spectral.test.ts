import { describe, expect, it } from 'vitest';
import type { Features } from './mfcc.js';
import { clusterWindows, eigengapCount, kMeans, nmeSpectral, symmetricEigen, WINDOW_CLUSTERING_DEFAULTS } from './spectral.js';

/** A seeded uniform generator in [0, 1). */
function random(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    return s / 0x80000000;
  };
}

/** An affinity with blocks of the given sizes: about 0.8 inside a block, 0.2 across, with ±0.15 noise, symmetric. */
function blocks(sizes: readonly number[], seed: number): { a: Float64Array; n: number; truth: number[] } {
  const truth = sizes.flatMap((s, b) => new Array<number>(s).fill(b));
  const n = truth.length;
  const rnd = random(seed);
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      const v = i === j ? 1 : (truth[i] === truth[j] ? 0.8 : 0.2) + 0.3 * (rnd() - 0.5);
      a[i * n + j] = v;
      a[j * n + i] = v;
    }
  }
  return { a, n, truth };
}

/** True when two labellings are the same partition (cluster names aside). */
function samePartition(a: readonly number[], b: readonly number[]): boolean {
  const map = new Map<number, number>();
  return a.every((x, i) => (map.has(x) ? map.get(x) === b[i] : (map.set(x, b[i]!), true))) && new Set(a).size === new Set(b).size;
}

describe('symmetricEigen', () => {
  it('finds the eigenpairs of a known matrix', () => {
    const { values, vectors } = symmetricEigen(Float64Array.of(2, 1, 1, 2), 2);
    expect(Array.from(values)).toEqual([expect.closeTo(1, 12), expect.closeTo(3, 12)]);
    // Eigenvector of 3 is (1, 1)/√2, of 1 is (1, -1)/√2, up to sign.
    expect(Math.abs(vectors[0 * 2 + 1]!)).toBeCloseTo(Math.SQRT1_2, 12);
    expect(vectors[0 * 2 + 1]! * vectors[1 * 2 + 1]!).toBeCloseTo(0.5, 12);
    expect(vectors[0 * 2 + 0]! * vectors[1 * 2 + 0]!).toBeCloseTo(-0.5, 12);
  });

  it('sorts a diagonal matrix ascending and keeps its axes', () => {
    const { values, vectors } = symmetricEigen(Float64Array.of(5, 0, 0, 0, -1, 0, 0, 0, 2), 3);
    expect(Array.from(values)).toEqual([-1, 2, 5]);
    expect(Math.abs(vectors[1 * 3 + 0]!)).toBeCloseTo(1, 12);
    expect(Math.abs(vectors[0 * 3 + 2]!)).toBeCloseTo(1, 12);
  });

  it('gives A v = λ v with orthonormal vectors on a random 30 x 30 matrix', () => {
    const n = 30;
    const rnd = random(3);
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = i; j < n; j++) a[i * n + j] = a[j * n + i] = rnd() - 0.5;
    const { values, vectors } = symmetricEigen(a, n);
    for (let k = 0; k < n; k++) {
      for (let i = 0; i < n; i++) {
        let av = 0;
        for (let j = 0; j < n; j++) av += a[i * n + j]! * vectors[j * n + k]!;
        expect(av).toBeCloseTo(values[k]! * vectors[i * n + k]!, 10);
      }
      let dot = 0;
      for (let i = 0; i < n; i++) dot += vectors[i * n + k]! * vectors[i * n + ((k + 1) % n)]!;
      expect(dot).toBeCloseTo(0, 10);
    }
    let trace = 0;
    for (let i = 0; i < n; i++) trace += a[i * n + i]!;
    expect(values.reduce((s, v) => s + v, 0)).toBeCloseTo(trace, 10);
  });
});

describe('kMeans', () => {
  it('separates two well-apart groups of points', () => {
    const points = Float64Array.of(0, 0, 0.1, 0, 0, 0.1, 5, 5, 5.1, 5, 5, 5.1);
    expect(samePartition(kMeans(points, 6, 2, 2), [0, 0, 0, 1, 1, 1])).toBe(true);
  });
});

describe('eigengapCount', () => {
  it('picks the count before the largest jump, within the bounds', () => {
    const values = Float64Array.of(0, 0.5, 0.6, 3, 3.1, 3.5);
    expect(eigengapCount(values, { min: 1, max: 5 }).count).toBe(3);
    expect(eigengapCount(values, { min: 1, max: 2 }).count).toBe(1);
    expect(eigengapCount(values, { min: 4, max: 5 }).count).toBe(5);
  });
});

describe('nmeSpectral', () => {
  const options = WINDOW_CLUSTERING_DEFAULTS.spectral;

  it('finds two blocks and their members', () => {
    const { a, n, truth } = blocks([20, 14], 1);
    const { labels, count } = nmeSpectral(a, n, { min: 1, max: 8 }, options);
    expect(count).toBe(2);
    expect(samePartition(labels, truth)).toBe(true);
  });

  it('finds three blocks of unequal sizes', () => {
    const { a, n, truth } = blocks([25, 12, 8], 2);
    const { labels, count } = nmeSpectral(a, n, { min: 1, max: 8 }, options);
    expect(count).toBe(3);
    expect(samePartition(labels, truth)).toBe(true);
  });

  it('keeps one speaker one', () => {
    const { a, n } = blocks([40], 3);
    expect(nmeSpectral(a, n, { min: 1, max: 8 }, options).count).toBe(1);
  });

  it('honours an exact count and a maximum of one', () => {
    const { a, n } = blocks([15, 15, 15], 4);
    expect(nmeSpectral(a, n, { min: 2, max: 2 }, options).count).toBe(2);
    expect(new Set(nmeSpectral(a, n, { min: 1, max: 1 }, options).labels).size).toBe(1);
  });
});

/** Standardised-looking frames: speaker s draws around mean ±0.8 on alternate dimensions, as two voices differ. */
function voices(order: readonly number[], framesPerTurn: number, dims: number, seed: number): Features {
  const rnd = random(seed);
  const gauss = (): number => Math.sqrt(-2 * Math.log(rnd() + 1e-12)) * Math.cos(2 * Math.PI * rnd());
  const data = new Float32Array(order.length * framesPerTurn * dims);
  order.forEach((s, t) => {
    for (let f = 0; f < framesPerTurn; f++) for (let i = 0; i < dims; i++) data[(t * framesPerTurn + f) * dims + i] = (i % 2 === s ? 0.8 : -0.8) + gauss();
  });
  return { frames: order.length * framesPerTurn, dims, data };
}

describe('clusterWindows', () => {
  it('labels two alternating voices as two clusters, turn by turn', () => {
    const order = [0, 1, 0, 1, 1, 0, 1, 0, 0, 1];
    const features = voices(order, 300, 12, 5);
    const regions = order.map((_, t) => ({ start: t * 300, end: (t + 1) * 300 }));
    const ranges = clusterWindows(features, regions, { min: 1, max: 8 });
    expect(new Set(ranges.map((r) => r.label)).size).toBe(2);
    const turnLabel = order.map((_, t) => ranges.find((r) => r.start >= t * 300 && r.end <= (t + 1) * 300)!.label);
    expect(samePartition(turnLabel, order)).toBe(true);
    for (let i = 1; i < ranges.length; i++) expect(ranges[i]!.start).toBeGreaterThanOrEqual(ranges[i - 1]!.end);
  });

  it('keeps one voice one cluster', () => {
    const features = voices(new Array<number>(10).fill(0), 300, 12, 6);
    const regions = Array.from({ length: 10 }, (_, t) => ({ start: t * 300, end: (t + 1) * 300 }));
    expect(new Set(clusterWindows(features, regions, { min: 1, max: 8 }).map((r) => r.label)).size).toBe(1);
  });

  it('clusters a sample and assigns the rest when there are more windows than the cap', () => {
    const order = [0, 1, 0, 1, 1, 0, 1, 0, 0, 1];
    const features = voices(order, 300, 12, 7);
    const regions = order.map((_, t) => ({ start: t * 300, end: (t + 1) * 300 }));
    const ranges = clusterWindows(features, regions, { min: 1, max: 8 }, { ...WINDOW_CLUSTERING_DEFAULTS, maxWindows: 20 });
    const turnLabel = order.map((_, t) => ranges.find((r) => r.start >= t * 300 && r.end <= (t + 1) * 300)!.label);
    expect(samePartition(turnLabel, order)).toBe(true);
  });
});
