import type { FrameRange } from './frames.js';
import { trainGmm, type Gmm } from './gmm.js';
import type { Features } from './mfcc.js';

/** Where the windows fall, in frames. */
export interface WindowOptions {
  /** Frames per window. */
  length: number;
  /** Frames from one window's start to the next. */
  hop: number;
  /** A region shorter than this gets no window (re-segmentation still labels it). */
  minLength: number;
}

/**
 * Overlapping windows over each speech region: a region no longer than
 * `length` is one window, a longer one gets windows `hop` apart or a little
 * closer, spread so that the last ends at the region's end and none of it is
 * left out.
 */
export function speechWindows(regions: readonly FrameRange[], o: WindowOptions): FrameRange[] {
  const out: FrameRange[] = [];
  for (const r of regions) {
    const span = r.end - r.start;
    if (span < o.minLength) continue;
    if (span <= o.length) {
      out.push({ start: r.start, end: r.end });
      continue;
    }
    const count = Math.ceil((span - o.length) / o.hop) + 1;
    for (let i = 0; i < count; i++) {
      const start = r.start + Math.round((i * (span - o.length)) / (count - 1));
      out.push({ start, end: start + o.length });
    }
  }
  return out;
}

/** The options of a universal background model trained on the file itself. */
export interface UbmOptions {
  /** Gaussians in the UBM. */
  components: number;
  /** MAP relevance factor: how many frames a component needs before a window's own mean outweighs the UBM's. */
  relevance: number;
}

/**
 * One vector per window from a universal background model trained on all the
 * given speech frames of this file (no model file: the UBM is the file's
 * own): the UBM's means MAP-adapted to the window's frames (Reynolds et al.,
 * 2000) as the KL-divergence supervector √w_c σ_c⁻¹ (m_c - μ_c) (Campbell et
 * al., 2006), followed by √(share of the window's frames per Gaussian). The
 * second part matters: a UBM trained on a file of few voices gives each voice
 * Gaussians of its own, and then which Gaussians a window uses says more about
 * who speaks than how it shifts their means.
 */
export function supervectors(features: Features, speech: readonly number[], windows: readonly FrameRange[], o: UbmOptions): Float64Array[] {
  const ubm = trainGmm(features, speech, o.components, 1);
  const { dims, data } = features;
  const k = ubm.logWeights.length;
  const post = new Float64Array(k);
  return windows.map((w) => {
    const occ = new Float64Array(k);
    const first = new Float64Array(k * dims);
    for (let f = w.start; f < w.end; f++) {
      posteriors(ubm, data, f * dims, post);
      for (let c = 0; c < k; c++) {
        const p = post[c]!;
        if (p < 1e-4) continue;
        occ[c]! += p;
        for (let i = 0; i < dims; i++) first[c * dims + i]! += p * (data[f * dims + i]! - ubm.means[c * dims + i]!);
      }
    }
    const v = new Float64Array(k * dims + k);
    const frames = Math.max(1, w.end - w.start);
    for (let c = 0; c < k; c++) v[k * dims + c] = Math.sqrt(occ[c]! / frames);
    for (let c = 0; c < k; c++) {
      const shrink = 1 / (occ[c]! + o.relevance);
      const weight = Math.sqrt(Math.exp(ubm.logWeights[c]!));
      for (let i = 0; i < dims; i++) v[c * dims + i] = weight * Math.sqrt(ubm.precisions[c * dims + i]!) * first[c * dims + i]! * shrink;
    }
    return v;
  });
}

/** Component posteriors of frame `at` under `gmm`, into `out`. */
function posteriors(gmm: Gmm, data: Float32Array, at: number, out: Float64Array): void {
  const { dims } = gmm;
  const k = gmm.logWeights.length;
  let best = -Infinity;
  for (let c = 0; c < k; c++) {
    let s = gmm.constants[c]!;
    for (let i = 0; i < dims; i++) {
      const diff = data[at + i]! - gmm.means[c * dims + i]!;
      s -= 0.5 * diff * diff * gmm.precisions[c * dims + i]!;
    }
    out[c] = s;
    if (s > best) best = s;
  }
  let total = 0;
  for (let c = 0; c < k; c++) total += out[c] = Math.exp(out[c]! - best);
  for (let c = 0; c < k; c++) out[c]! /= total;
}

/** The n x n row-major matrix of cosine similarities between the vectors. */
export function cosineAffinity(vectors: readonly Float64Array[]): Float64Array {
  const n = vectors.length;
  const unit = vectors.map((v) => {
    const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0)) || 1;
    return v.map((x) => x / norm);
  });
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      let s = 0;
      const u = unit[i]!;
      const w = unit[j]!;
      for (let k = 0; k < u.length; k++) s += u[k]! * w[k]!;
      a[i * n + j] = s;
      a[j * n + i] = s;
    }
  }
  return a;
}
