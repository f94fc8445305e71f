import type { FrameRange } from './bic.js';
import { deltaBic, GaussStats } from './gaussian.js';
import type { Features } from './mfcc.js';

/** How many clusters the caller allows: [min, max], equal for an exact count. */
export interface CountBounds {
  min: number;
  max: number;
}

export interface ClusterOptions {
  /** BIC penalty weight of a merge: 1 is the textbook criterion, more merges more readily. */
  lambda: number;
  /** The same weight for the linear pass over adjacent segments. */
  linearLambda: number;
  /** Frames of silence two segments may have between them and still count as adjacent. */
  maxGap: number;
  ridge: number;
}

/**
 * Bottom-up clustering of segments with full-covariance Gaussians and ΔBIC,
 * as LIUM's and the ELISA systems' first pass: adjacent segments first (see
 * linearClusters), then over the whole file the closest pair (lowest ΔBIC)
 * merges while ΔBIC says one model beats two, then merging goes on past that
 * only while there are more clusters than `bounds.max`, and stops at
 * `bounds.min` however alike the rest are. Returns a cluster index per
 * segment, clusters numbered 0..k-1 in order of first segment.
 */
export function clusterSegments(features: Features, segments: readonly FrameRange[], bounds: CountBounds, options: ClusterOptions): number[] {
  const { stats, owner, groups } = linearClusters(features, segments, bounds, options);
  const n = segments.length;
  // Upper triangle of pair scores, and each row's best, so a merge costs O(n) updates rather than an O(n²) search.
  const score = new Float32Array(n * n).fill(Infinity);
  const rowBest = new Float64Array(n).fill(Infinity);
  const rowArg = new Int32Array(n).fill(-1);
  const refresh = (i: number): void => {
    rowBest[i] = Infinity;
    rowArg[i] = -1;
    for (let j = i + 1; j < n; j++) if (score[i * n + j]! < rowBest[i]!) [rowBest[i], rowArg[i]] = [score[i * n + j]!, j];
  };
  const rescore = (i: number, j: number): void => {
    score[i * n + j] = deltaBic(stats[i]!, stats[j]!, options.lambda, options.ridge);
  };
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) if (stats[i] !== undefined && stats[j] !== undefined) rescore(i, j);
  for (let i = 0; i < n; i++) refresh(i);
  for (let alive = groups; alive > bounds.min; alive--) {
    let bi = -1;
    for (let i = 0; i < n; i++) if (rowArg[i]! >= 0 && (bi < 0 || rowBest[i]! < rowBest[bi]!)) bi = i;
    if (bi < 0 || (rowBest[bi]! > 0 && alive <= bounds.max)) break;
    const bj = rowArg[bi]!;
    stats[bi] = stats[bi]!.plus(stats[bj]!);
    stats[bj] = undefined;
    for (let k = 0; k < n; k++) {
      if (owner[k] === bj) owner[k] = bi;
      score[Math.min(k, bj) * n + Math.max(k, bj)] = Infinity;
      if (k !== bi && stats[k] !== undefined) rescore(Math.min(k, bi), Math.max(k, bi));
    }
    refresh(bj);
    refresh(bi);
    for (let k = 0; k < bi; k++) {
      if (stats[k] === undefined) continue;
      if (rowArg[k] === bi || rowArg[k] === bj) refresh(k);
      else if (score[k * n + bi]! < rowBest[k]!) [rowBest[k], rowArg[k]] = [score[k * n + bi]!, bi];
    }
    for (let k = bi; k < bj; k++) if (rowArg[k] === bj) refresh(k);
  }
  return renumber(owner);
}

/**
 * LIUM's linear clustering: each segment joins the one before it when they
 * touch (within `maxGap` frames) and ΔBIC says one model fits both. Adjacent
 * segments are the likeliest to share a speaker, and the longer groups give
 * the hierarchical stage Gaussians estimated on more than a second of speech.
 */
function linearClusters(features: Features, segments: readonly FrameRange[], bounds: CountBounds, o: ClusterOptions): { stats: (GaussStats | undefined)[]; owner: number[]; groups: number } {
  const stats: (GaussStats | undefined)[] = segments.map((s) => GaussStats.of(features, s.start, s.end));
  const owner = segments.map((_, i) => i);
  let head = 0;
  let groups = segments.length;
  for (let i = 1; i < segments.length; i++) {
    const touches = segments[i]!.start - segments[i - 1]!.end <= o.maxGap;
    if (groups > bounds.min && touches && deltaBic(stats[head]!, stats[i]!, o.linearLambda, o.ridge) <= 0) {
      stats[head] = stats[head]!.plus(stats[i]!);
      stats[i] = undefined;
      owner[i] = head;
      groups--;
    } else {
      head = i;
    }
  }
  return { stats, owner, groups };
}

/** Labels renumbered 0..k-1 in order of first appearance. */
export function renumber(labels: readonly number[]): number[] {
  const map = new Map<number, number>();
  return labels.map((l) => {
    if (!map.has(l)) map.set(l, map.size);
    return map.get(l)!;
  });
}
