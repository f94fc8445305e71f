import { diagonalMoments } from './gaussian.js';
import type { Features } from './mfcc.js';

const LOG_2PI = Math.log(2 * Math.PI);
/** Variance floor on standardised features: keeps a component from collapsing onto a few frames. */
const VAR_FLOOR = 0.02;
const EM_ITERATIONS = 4;

/** A diagonal-covariance Gaussian mixture over feature frames. */
export interface Gmm {
  dims: number;
  logWeights: Float64Array;
  means: Float64Array;
  /** 1 / σ² per component and dimension. */
  precisions: Float64Array;
  /** log w - ½ Σ log(2π σ²) per component: the part of the log density that does not depend on x. */
  constants: Float64Array;
}

/** Log density of frame `at` of `data` under `gmm` (log-sum-exp over its components). */
export function logLikelihood(gmm: Gmm, data: Float32Array, at: number): number {
  const { dims } = gmm;
  const k = gmm.logWeights.length;
  let best = -Infinity;
  const parts = new Float64Array(k);
  for (let c = 0; c < k; c++) {
    let s = gmm.constants[c]!;
    for (let i = 0; i < dims; i++) {
      const diff = data[at + i]! - gmm.means[c * dims + i]!;
      s -= 0.5 * diff * diff * gmm.precisions[c * dims + i]!;
    }
    parts[c] = s;
    if (s > best) best = s;
  }
  let sum = 0;
  for (let c = 0; c < k; c++) sum += Math.exp(parts[c]! - best);
  return best + Math.log(sum);
}

/**
 * A GMM of up to `maxComponents` components trained on `frames` by binary
 * splitting (LBG) and EM, with about `framesPerComponent` frames per
 * component at least, so a speaker heard for a second gets one Gaussian, not
 * eight over-fitted ones. Deterministic: the same frames give the same model.
 */
export function trainGmm(features: Features, frames: readonly number[], maxComponents: number, framesPerComponent: number): Gmm {
  const { dims, data } = features;
  let gmm = single(dims, data, frames);
  while (gmm.logWeights.length * 2 <= maxComponents && frames.length >= gmm.logWeights.length * 2 * framesPerComponent) {
    gmm = split(gmm);
    for (let it = 0; it < EM_ITERATIONS; it++) gmm = emStep(gmm, data, frames);
  }
  return gmm;
}

function single(dims: number, data: Float32Array, frames: readonly number[]): Gmm {
  const { mean, variance } = diagonalMoments(dims, data, frames);
  return build(dims, Float64Array.of(1), mean, variance);
}

/** Every component split in two along ±0.2 σ. */
function split(gmm: Gmm): Gmm {
  const { dims } = gmm;
  const k = gmm.logWeights.length;
  const weights = new Float64Array(2 * k);
  const means = new Float64Array(2 * k * dims);
  const variances = new Float64Array(2 * k * dims);
  for (let c = 0; c < k; c++) {
    for (const [side, sign] of [
      [2 * c, 1],
      [2 * c + 1, -1],
    ] as const) {
      weights[side] = Math.exp(gmm.logWeights[c]!) / 2;
      for (let i = 0; i < dims; i++) {
        const v = 1 / gmm.precisions[c * dims + i]!;
        means[side * dims + i] = gmm.means[c * dims + i]! + sign * 0.2 * Math.sqrt(v);
        variances[side * dims + i] = v;
      }
    }
  }
  return build(dims, weights, means, variances);
}

function emStep(gmm: Gmm, data: Float32Array, frames: readonly number[]): Gmm {
  const { dims } = gmm;
  const k = gmm.logWeights.length;
  const occ = new Float64Array(k);
  const sum = new Float64Array(k * dims);
  const sq = new Float64Array(k * dims);
  const post = new Float64Array(k);
  for (const f of frames) {
    let best = -Infinity;
    for (let c = 0; c < k; c++) {
      let s = gmm.constants[c]!;
      for (let i = 0; i < dims; i++) {
        const diff = data[f * dims + i]! - gmm.means[c * dims + i]!;
        s -= 0.5 * diff * diff * gmm.precisions[c * dims + i]!;
      }
      post[c] = s;
      if (s > best) best = s;
    }
    let total = 0;
    for (let c = 0; c < k; c++) total += post[c] = Math.exp(post[c]! - best);
    for (let c = 0; c < k; c++) {
      const p = post[c]! / total;
      occ[c]! += p;
      for (let i = 0; i < dims; i++) {
        const x = data[f * dims + i]!;
        sum[c * dims + i]! += p * x;
        sq[c * dims + i]! += p * x * x;
      }
    }
  }
  const weights = new Float64Array(k);
  const means = new Float64Array(k * dims);
  const variances = new Float64Array(k * dims);
  for (let c = 0; c < k; c++) {
    // A component that lost all its frames keeps its old place, with a weight that makes it harmless.
    const o = Math.max(occ[c]!, 1e-3);
    weights[c] = o / frames.length;
    for (let i = 0; i < dims; i++) {
      const m = occ[c]! > 1e-3 ? sum[c * dims + i]! / o : gmm.means[c * dims + i]!;
      means[c * dims + i] = m;
      variances[c * dims + i] = occ[c]! > 1e-3 ? sq[c * dims + i]! / o - m * m : 1 / gmm.precisions[c * dims + i]!;
    }
  }
  return build(dims, weights, means, variances);
}

function build(dims: number, weights: Float64Array, means: Float64Array, variances: Float64Array): Gmm {
  const k = weights.length;
  const total = weights.reduce((a, b) => a + b, 0);
  const logWeights = weights.map((w) => Math.log(w / total));
  const precisions = new Float64Array(k * dims);
  const constants = new Float64Array(k);
  for (let c = 0; c < k; c++) {
    let logVar = 0;
    for (let i = 0; i < dims; i++) {
      const v = Math.max(variances[c * dims + i]!, VAR_FLOOR);
      precisions[c * dims + i] = 1 / v;
      logVar += Math.log(v);
    }
    constants[c] = logWeights[c]! - 0.5 * (dims * LOG_2PI + logVar);
  }
  return { dims, logWeights, means, precisions, constants };
}
