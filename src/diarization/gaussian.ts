import type { Features } from './mfcc.js';

/**
 * Sufficient statistics of a full-covariance Gaussian over feature frames:
 * count, sum and sum of outer products. Two sets add, so a merged cluster's
 * model costs no pass over its frames.
 */
export class GaussStats {
  n = 0;
  readonly sum: Float64Array;
  /** Upper triangle (i <= j) of the sum of x xᵀ, row by row. */
  readonly outer: Float64Array;

  constructor(readonly dims: number) {
    this.sum = new Float64Array(dims);
    this.outer = new Float64Array((dims * (dims + 1)) / 2);
  }

  /** Statistics of frames [from, to) of `features`. */
  static of(features: Features, from: number, to: number): GaussStats {
    const s = new GaussStats(features.dims);
    for (let f = from; f < to; f++) s.addFrame(features.data, f * features.dims);
    return s;
  }

  addFrame(data: Float32Array, at: number): void {
    const d = this.dims;
    this.n++;
    let k = 0;
    for (let i = 0; i < d; i++) {
      const xi = data[at + i]!;
      this.sum[i]! += xi;
      for (let j = i; j < d; j++) this.outer[k++]! += xi * data[at + j]!;
    }
  }

  /** A new set holding this one's frames and `other`'s. */
  plus(other: GaussStats): GaussStats {
    const s = new GaussStats(this.dims);
    s.n = this.n + other.n;
    for (let i = 0; i < this.sum.length; i++) s.sum[i] = this.sum[i]! + other.sum[i]!;
    for (let i = 0; i < this.outer.length; i++) s.outer[i] = this.outer[i]! + other.outer[i]!;
    return s;
  }

  /**
   * log |Σ| of the maximum-likelihood covariance, with `ridge` added to its
   * diagonal: a short segment has fewer frames than a full covariance has
   * parameters, and the ridge keeps its determinant finite and comparable.
   */
  logDet(ridge: number): number {
    const d = this.dims;
    const n = Math.max(this.n, 1);
    const cov = new Float64Array(d * d);
    let k = 0;
    for (let i = 0; i < d; i++) {
      for (let j = i; j < d; j++) {
        const c = this.outer[k++]! / n - (this.sum[i]! / n) * (this.sum[j]! / n);
        cov[i * d + j] = c;
        cov[j * d + i] = c;
      }
      cov[i * d + i]! += ridge;
    }
    return choleskyLogDet(cov, d);
  }
}

/** log det of a symmetric positive-definite d x d matrix (overwritten) by Cholesky. */
function choleskyLogDet(a: Float64Array, d: number): number {
  let logDet = 0;
  for (let j = 0; j < d; j++) {
    let s = a[j * d + j]!;
    for (let k = 0; k < j; k++) s -= a[j * d + k]! * a[j * d + k]!;
    // Round-off can leave a tiny negative pivot on a near-singular matrix; the ridge makes this rare.
    const pivot = Math.sqrt(Math.max(s, 1e-12));
    a[j * d + j] = pivot;
    logDet += 2 * Math.log(pivot);
    for (let i = j + 1; i < d; i++) {
      let t = a[i * d + j]!;
      for (let k = 0; k < j; k++) t -= a[i * d + k]! * a[j * d + k]!;
      a[i * d + j] = t / pivot;
    }
  }
  return logDet;
}

/**
 * ΔBIC of modelling `a` and `b` with one full-covariance Gaussian instead of
 * two (Chen and Gopalakrishnan, 1998): positive when two models are worth
 * their extra parameters, i.e. when `a` and `b` sound like different speakers.
 * `lambda` weighs the penalty (1 is the textbook criterion).
 */
export function deltaBic(a: GaussStats, b: GaussStats, lambda: number, ridge: number): number {
  const ab = a.plus(b);
  const d = a.dims;
  const penalty = 0.5 * (d + (d * (d + 1)) / 2) * Math.log(ab.n);
  return 0.5 * (ab.n * ab.logDet(ridge) - a.n * a.logDet(ridge) - b.n * b.logDet(ridge)) - lambda * penalty;
}

/**
 * Standardises every dimension over the given frames (mean 0, variance 1), in
 * place on those frames: one ridge and one set of GMM floors then fit every
 * recording, whatever its level or channel.
 */
export function standardize(features: Features, frames: readonly number[]): void {
  const { dims, data } = features;
  const { mean, variance } = diagonalMoments(dims, data, frames);
  const scale = variance.map((v) => 1 / Math.sqrt(Math.max(v, 1e-8)));
  for (const f of frames) for (let i = 0; i < dims; i++) data[f * dims + i] = (data[f * dims + i]! - mean[i]!) * scale[i]!;
}

/** Per-dimension mean and (biased) variance of the given frames of row-major `data`. */
export function diagonalMoments(dims: number, data: Float32Array, frames: readonly number[]): { mean: Float64Array; variance: Float64Array } {
  const mean = new Float64Array(dims);
  const variance = new Float64Array(dims);
  for (const f of frames) {
    for (let i = 0; i < dims; i++) {
      const x = data[f * dims + i]!;
      mean[i]! += x;
      variance[i]! += x * x;
    }
  }
  const n = Math.max(frames.length, 1);
  for (let i = 0; i < dims; i++) {
    mean[i]! /= n;
    variance[i] = variance[i]! / n - mean[i]! * mean[i]!;
  }
  return { mean, variance };
}
