import type { CountBounds, FrameRange } from './frames.js';
import { cosineAffinity, speechWindows, supervectors, type UbmOptions, type WindowOptions } from './embed.js';
import type { Features } from './mfcc.js';
import type { LabelledRange } from './resegment.js';

/**
 * Spectral clustering of speech windows with an estimate of the speaker
 * count: the eigen decomposition of a symmetric matrix (Householder
 * tridiagonalisation then implicit QL, as EISPACK's tred2/tql2), k-means on
 * the spectral embedding, and NME-SC's choice of the graph's pruning and of
 * the count (Park et al., "Auto-tuning spectral clustering for speaker
 * diarization using normalized maximum eigengap", 2019).
 */

/** Eigenvalues in ascending order, and eigenvector k as column k of the row-major n x n `vectors`. */
export interface Eigen {
  values: Float64Array;
  vectors: Float64Array;
}


/**
 * Every eigenvalue and eigenvector of the symmetric n x n row-major matrix `a`
 * (left untouched), in O(n³): tred2 reduces it to tridiagonal form, tql2
 * diagonalises that (JAMA's public-domain port of EISPACK). Exact to round-off,
 * unlike power iteration, which the count estimate's small eigengaps need.
 */
export function symmetricEigen(a: Float64Array, n: number): Eigen {
  const v = Float64Array.from(a);
  const d = new Float64Array(n);
  const e = new Float64Array(n);
  if (n === 0) return { values: d, vectors: v };
  tred2(v, d, e, n);
  tql2(v, d, e, n);
  const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => d[x]! - d[y]!);
  const values = Float64Array.from(order, (i) => d[i]!);
  const vectors = new Float64Array(n * n);
  for (let r = 0; r < n; r++) for (let k = 0; k < n; k++) vectors[r * n + k] = v[r * n + order[k]!]!;
  return { values, vectors };
}

/** Householder reduction of the matrix in `v` to tridiagonal form (diagonal `d`, sub-diagonal `e`), the transform left in `v`. */
function tred2(v: Float64Array, d: Float64Array, e: Float64Array, n: number): void {
  for (let j = 0; j < n; j++) d[j] = v[(n - 1) * n + j]!;
  for (let i = n - 1; i > 0; i--) {
    let scale = 0;
    let h = 0;
    for (let k = 0; k < i; k++) scale += Math.abs(d[k]!);
    if (scale === 0) {
      e[i] = d[i - 1]!;
      for (let j = 0; j < i; j++) {
        d[j] = v[(i - 1) * n + j]!;
        v[i * n + j] = 0;
        v[j * n + i] = 0;
      }
    } else {
      for (let k = 0; k < i; k++) {
        d[k]! /= scale;
        h += d[k]! * d[k]!;
      }
      let f = d[i - 1]!;
      let g = f > 0 ? -Math.sqrt(h) : Math.sqrt(h);
      e[i] = scale * g;
      h -= f * g;
      d[i - 1] = f - g;
      e.fill(0, 0, i);
      for (let j = 0; j < i; j++) {
        f = d[j]!;
        v[j * n + i] = f;
        g = e[j]! + v[j * n + j]! * f;
        for (let k = j + 1; k <= i - 1; k++) {
          g += v[k * n + j]! * d[k]!;
          e[k]! += v[k * n + j]! * f;
        }
        e[j] = g;
      }
      f = 0;
      for (let j = 0; j < i; j++) {
        e[j]! /= h;
        f += e[j]! * d[j]!;
      }
      const hh = f / (h + h);
      for (let j = 0; j < i; j++) e[j]! -= hh * d[j]!;
      for (let j = 0; j < i; j++) {
        f = d[j]!;
        g = e[j]!;
        for (let k = j; k <= i - 1; k++) v[k * n + j]! -= f * e[k]! + g * d[k]!;
        d[j] = v[(i - 1) * n + j]!;
        v[i * n + j] = 0;
      }
    }
    d[i] = h;
  }
  for (let i = 0; i < n - 1; i++) {
    v[(n - 1) * n + i] = v[i * n + i]!;
    v[i * n + i] = 1;
    const h = d[i + 1]!;
    if (h !== 0) {
      for (let k = 0; k <= i; k++) d[k] = v[k * n + i + 1]! / h;
      for (let j = 0; j <= i; j++) {
        let g = 0;
        for (let k = 0; k <= i; k++) g += v[k * n + i + 1]! * v[k * n + j]!;
        for (let k = 0; k <= i; k++) v[k * n + j]! -= g * d[k]!;
      }
    }
    for (let k = 0; k <= i; k++) v[k * n + i + 1] = 0;
  }
  for (let j = 0; j < n; j++) {
    d[j] = v[(n - 1) * n + j]!;
    v[(n - 1) * n + j] = 0;
  }
  v[(n - 1) * n + n - 1] = 1;
  e[0] = 0;
}

/** Implicit QL on the tridiagonal (d, e), the rotations applied to `v`: eigenvalues in `d`, vectors in `v`'s columns. */
function tql2(v: Float64Array, d: Float64Array, e: Float64Array, n: number): void {
  for (let i = 1; i < n; i++) e[i - 1] = e[i]!;
  e[n - 1] = 0;
  let f = 0;
  let tst1 = 0;
  const eps = 2 ** -52;
  for (let l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(d[l]!) + Math.abs(e[l]!));
    let m = l;
    while (m < n - 1 && Math.abs(e[m]!) > eps * tst1) m++;
    if (m > l) {
      do {
        let g = d[l]!;
        let p = (d[l + 1]! - g) / (2 * e[l]!);
        let r = Math.hypot(p, 1);
        if (p < 0) r = -r;
        d[l] = e[l]! / (p + r);
        d[l + 1] = e[l]! * (p + r);
        const dl1 = d[l + 1]!;
        let h = g - d[l]!;
        for (let i = l + 2; i < n; i++) d[i]! -= h;
        f += h;
        p = d[m]!;
        let c = 1;
        let c2 = c;
        let c3 = c;
        const el1 = e[l + 1]!;
        let s = 0;
        let s2 = 0;
        for (let i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * e[i]!;
          h = c * p;
          r = Math.hypot(p, e[i]!);
          e[i + 1] = s * r;
          s = e[i]! / r;
          c = p / r;
          p = c * d[i]! - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]!);
          for (let k = 0; k < n; k++) {
            h = v[k * n + i + 1]!;
            v[k * n + i + 1] = s * v[k * n + i]! + c * h;
            v[k * n + i] = c * v[k * n + i]! - s * h;
          }
        }
        p = (-s * s2 * c3 * el1 * e[l]!) / dl1;
        e[l] = s * p;
        d[l] = c * p;
      } while (Math.abs(e[l]!) > eps * tst1);
    }
    d[l] = d[l]! + f;
    e[l] = 0;
  }
}

/**
 * k-means on the rows of the row-major n x d `points`, from a deterministic
 * farthest-first start (the first row, then each time the row farthest from
 * every centre so far), so one input gives one answer. Returns a cluster per row.
 */
export function kMeans(points: Float64Array, n: number, d: number, k: number, iterations = 50): number[] {
  const centres = new Float64Array(k * d);
  const nearest = new Float64Array(n).fill(Infinity);
  let pick = 0;
  for (let c = 0; c < k; c++) {
    centres.set(points.subarray(pick * d, pick * d + d), c * d);
    for (let i = 0; i < n; i++) nearest[i] = Math.min(nearest[i]!, distance(points, i, centres, c, d));
    for (let i = 0; i < n; i++) if (nearest[i]! > nearest[pick]!) pick = i;
  }
  const labels = new Array<number>(n).fill(0);
  for (let it = 0; it < iterations; it++) {
    let moved = false;
    for (let i = 0; i < n; i++) {
      let best = 0;
      for (let c = 1; c < k; c++) if (distance(points, i, centres, c, d) < distance(points, i, centres, best, d)) best = c;
      if (labels[i] !== best || it === 0) moved ||= labels[i] !== best;
      labels[i] = best;
    }
    if (!moved && it > 0) break;
    const counts = new Float64Array(k);
    const sums = new Float64Array(k * d);
    for (let i = 0; i < n; i++) {
      counts[labels[i]!]!++;
      for (let j = 0; j < d; j++) sums[labels[i]! * d + j]! += points[i * d + j]!;
    }
    // A centre that lost every point stays where it was.
    for (let c = 0; c < k; c++) if (counts[c]! > 0) for (let j = 0; j < d; j++) centres[c * d + j] = sums[c * d + j]! / counts[c]!;
  }
  return labels;
}

function distance(points: Float64Array, i: number, centres: Float64Array, c: number, d: number): number {
  let s = 0;
  for (let j = 0; j < d; j++) s += (points[i * d + j]! - centres[c * d + j]!) ** 2;
  return s;
}

/**
 * The affinity pruned as NME-SC does: each row keeps its `p` largest
 * entries as 1 and the rest as 0, then the result is symmetrised as
 * (B + Bᵀ) / 2. The graph links each window to its p nearest neighbours only,
 * so a speaker heard in a few windows still forms a block of its own.
 */
export function pruneAffinity(affinity: Float64Array, n: number, p: number): Float64Array {
  const b = new Float64Array(n * n);
  const order = Array.from({ length: n }, (_, j) => j);
  for (let i = 0; i < n; i++) {
    order.sort((x, y) => affinity[i * n + y]! - affinity[i * n + x]!);
    for (let r = 0; r < Math.min(p, n); r++) b[i * n + order[r]!] = 1;
  }
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) out[i * n + j] = (b[i * n + j]! + b[j * n + i]!) / 2;
  return out;
}

/** The unnormalised graph Laplacian D - A of an affinity, its diagonal (self-loops) ignored. */
export function laplacian(a: Float64Array, n: number): Float64Array {
  const l = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    let degree = 0;
    for (let j = 0; j < n; j++) {
      if (j === i) continue;
      l[i * n + j] = -a[i * n + j]!;
      degree += a[i * n + j]!;
    }
    l[i * n + i] = degree;
  }
  return l;
}

/**
 * The count in [bounds.min, bounds.max] after which the Laplacian's ascending
 * eigenvalues jump the most: k blocks with few links between them give k
 * eigenvalues near 0 and then a gap. Returns the count and that gap.
 */
export function eigengapCount(values: Float64Array, bounds: CountBounds): { count: number; gap: number } {
  const hi = Math.min(bounds.max, values.length - 1);
  let count = Math.min(bounds.min, values.length);
  let gap = -Infinity;
  for (let k = Math.max(1, bounds.min); k <= hi; k++) {
    const g = values[k]! - values[k - 1]!;
    if (g > gap) [count, gap] = [k, g];
  }
  return { count, gap: Math.max(gap, 0) };
}

export interface NmeScOptions {
  /** Largest pruning tried, as a fraction of the windows: p = 2 .. this x n neighbours per window. */
  maxPruneFraction: number;
  /** At most this many values of p are tried, evenly spread. */
  pruneSteps: number;
}

/**
 * NME-SC: for each pruning p, the normalised maximum eigengap g(p) (the largest
 * gap of the Laplacian within the allowed counts, over its largest
 * eigenvalue); the p with the least (p / n) / g(p) wins, the one that splits
 * the graph most cleanly with the fewest links. Its eigengap gives the count,
 * k-means on its first `count` eigenvectors the clusters. One departure from
 * the paper: a p whose graph falls apart (a second eigenvalue of 0) is passed
 * over while a larger one is left, since isolated handfuls of windows then
 * pose as speakers and the count runs to the maximum. Returns a cluster per
 * row of `affinity` (n x n, e.g. cosine similarities).
 */
export function nmeSpectral(affinity: Float64Array, n: number, bounds: CountBounds, o: NmeScOptions): { labels: number[]; count: number } {
  if (n <= Math.max(2, bounds.min) || bounds.max <= 1) {
    const labels = Array.from({ length: n }, (_, i) => Math.min(i, Math.max(0, bounds.min - 1)));
    return { labels, count: new Set(labels).size };
  }
  const top = Math.max(2, Math.floor(n * o.maxPruneFraction));
  const step = Math.max(1, Math.ceil(top / o.pruneSteps));
  let best: { ratio: number; eigen: Eigen; count: number } | undefined;
  for (let p = 2; p <= top; p += step) {
    const eigen = symmetricEigen(laplacian(pruneAffinity(affinity, n, p), n), n);
    if (eigen.values[1]! < 1e-9 && p + step <= top) continue;
    const { count, gap } = eigengapCount(eigen.values, bounds);
    const ratio = p / n / (gap / Math.max(eigen.values[n - 1]!, 1e-12) + 1e-12);
    if (best === undefined || ratio < best.ratio) best = { ratio, eigen, count };
  }
  const { eigen, count } = best!;
  if (count <= 1) return { labels: new Array<number>(n).fill(0), count: 1 };
  const points = new Float64Array(n * count);
  for (let i = 0; i < n; i++) for (let k = 0; k < count; k++) points[i * count + k] = eigen.vectors[i * n + k]!;
  return { labels: kMeans(points, n, count, count), count };
}

/** Every knob of window clustering, by stage. */
export interface WindowClusteringOptions {
  windows: WindowOptions;
  ubm: UbmOptions;
  spectral: NmeScOptions;
  /**
   * Most windows clustered at once: the eigen decompositions cost O(n³) each,
   * so a longer file clusters an even sample of this many and every other
   * window joins the cluster whose mean vector is nearest (cosine).
   */
  maxWindows: number;
}

/** Measured on ../shared/corpus/meetings (see the report of helper clusterB): 1 s windows every 0.5 s, an 8-Gaussian UBM. */
export const WINDOW_CLUSTERING_DEFAULTS: WindowClusteringOptions = {
  windows: { length: 100, hop: 50, minLength: 30 },
  ubm: { components: 8, relevance: 16 },
  spectral: { maxPruneFraction: 0.5, pruneSteps: 20 },
  maxWindows: 600,
};

/**
 * Who speaks in each stretch of speech, to seed re-segmentation: the speech `regions` (frames of
 * standardised `features`) are cut into overlapping windows, each window
 * becomes a UBM supervector, their cosine affinities are clustered by NME-SC,
 * which also estimates the count within `bounds`, and each frame takes the
 * label of the window whose centre is nearest. Regions shorter than a window's
 * minimum get no label here; re-segmentation decodes them with the rest.
 */
export function clusterWindows(features: Features, regions: readonly FrameRange[], bounds: CountBounds, o: WindowClusteringOptions = WINDOW_CLUSTERING_DEFAULTS): LabelledRange[] {
  const windows = speechWindows(regions, o.windows);
  if (windows.length === 0) return [];
  const speech = regions.flatMap((r) => Array.from({ length: r.end - r.start }, (_, i) => r.start + i));
  const vectors = supervectors(features, speech, windows, o.ubm);
  const every = Math.ceil(windows.length / o.maxWindows);
  const sample = vectors.filter((_, i) => i % every === 0);
  const { labels } = nmeSpectral(cosineAffinity(sample), sample.length, bounds, o.spectral);
  const all = every === 1 ? labels : nearestCentroid(vectors, sample, labels);
  return toRanges(windows, all);
}

/** Each vector's cluster: the one whose sample vectors' mean direction is closest (cosine). */
function nearestCentroid(vectors: readonly Float64Array[], sample: readonly Float64Array[], labels: readonly number[]): number[] {
  const count = Math.max(...labels) + 1;
  const centroids = Array.from({ length: count }, () => new Float64Array(vectors[0]!.length));
  sample.forEach((v, i) => {
    const norm = Math.hypot(...v) || 1;
    const c = centroids[labels[i]!]!;
    for (let j = 0; j < v.length; j++) c[j]! += v[j]! / norm;
  });
  const norms = centroids.map((c) => Math.hypot(...c) || 1);
  return vectors.map((v) => {
    let best = 0;
    let bestScore = -Infinity;
    centroids.forEach((c, k) => {
      let dot = 0;
      for (let j = 0; j < v.length; j++) dot += v[j]! * c[j]!;
      if (dot / norms[k]! > bestScore) [best, bestScore] = [k, dot / norms[k]!];
    });
    return best;
  });
}

/** Overlapping windows to disjoint labelled ranges: where two overlap, the frames go to the nearer centre. */
function toRanges(windows: readonly FrameRange[], labels: readonly number[]): LabelledRange[] {
  const centre = (w: FrameRange): number => (w.start + w.end) / 2;
  const out: LabelledRange[] = [];
  windows.forEach((w, i) => {
    const prev = windows[i - 1];
    const next = windows[i + 1];
    const start = prev !== undefined && prev.end > w.start ? Math.max(w.start, Math.round((centre(prev) + centre(w)) / 2)) : w.start;
    const end = next !== undefined && next.start < w.end ? Math.min(w.end, Math.round((centre(w) + centre(next)) / 2)) : w.end;
    if (end > start) out.push({ start, end, label: labels[i]! });
  });
  return out;
}
