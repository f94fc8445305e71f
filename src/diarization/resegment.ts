import { renumber, type FrameRange } from './frames.js';
import { logLikelihood, trainGmm, type Gmm } from './gmm.js';
import type { Features } from './mfcc.js';

/** Frames [start, end) given to one cluster. */
export interface LabelledRange extends FrameRange {
  label: number;
}

export interface ResegmentOptions {
  /** Most Gaussians per speaker model. */
  components: number;
  /** Frames a component needs at least: a speaker with little speech gets a smaller model. */
  framesPerComponent: number;
  /** Log-likelihood a speaker change costs, on top of the minimum duration. */
  switchPenalty: number;
  /** Fewest frames a speaker holds the floor once it takes it (but at a region's end). */
  minDuration: number;
  /** Train-and-decode rounds. */
  iterations: number;
  /** Fewest clusters to keep: a round that would empty a cluster below this is not taken. */
  minClusters: number;
}

/**
 * Viterbi re-segmentation (as LIUM's and pyannote 1.x's last stage): a
 * diagonal GMM per cluster is trained on the frames the cluster holds, then
 * every speech region is decoded frame by frame against those models, a
 * change costing `switchPenalty` and a speaker keeping at least `minDuration`
 * frames. Boundaries move to where the voices change, and short stretches
 * the segmentation misplaced find their speaker. A cluster left with no frames
 * is gone (unless that would leave fewer than `minClusters`).
 */
export function resegment(features: Features, assignment: readonly LabelledRange[], regions: readonly FrameRange[], options: ResegmentOptions, signal?: AbortSignal): LabelledRange[] {
  let current = [...assignment];
  for (let round = 0; round < options.iterations; round++) {
    signal?.throwIfAborted();
    const models = clusterFrames(current).map((frames) => trainGmm(features, frames, options.components, options.framesPerComponent));
    const next = regions.flatMap((r) => decodeRegion(features, r, models, options));
    const labels = renumber(next.map((r) => r.label));
    const count = new Set(labels).size;
    if (count < Math.min(options.minClusters, models.length)) break;
    current = mergeRuns(next.map((r, i) => ({ ...r, label: labels[i]! })));
  }
  return current;
}

/** The frames of each cluster, indexed by label. */
function clusterFrames(assignment: readonly LabelledRange[]): number[][] {
  const out: number[][] = [];
  for (const r of assignment) {
    const frames = (out[r.label] ??= []);
    for (let f = r.start; f < r.end; f++) frames.push(f);
  }
  return Array.from({ length: out.length }, (_, i) => out[i] ?? []);
}

/** Adjacent ranges of one label joined. */
function mergeRuns(ranges: readonly LabelledRange[]): LabelledRange[] {
  const out: LabelledRange[] = [];
  for (const r of ranges) {
    const last = out.at(-1);
    if (last !== undefined && last.end === r.start && last.label === r.label) last.end = r.end;
    else out.push({ ...r });
  }
  return out;
}

/**
 * The best speaker sequence over one region. States are (speaker, frames held
 * so far, capped at minDuration - 1): a speaker can only be left from the
 * capped state, which enforces the minimum duration exactly.
 */
function decodeRegion(features: Features, region: FrameRange, models: readonly Gmm[], o: ResegmentOptions): LabelledRange[] {
  const s = models.length;
  const d = Math.max(1, o.minDuration);
  const t = region.end - region.start;
  if (t <= 0 || s === 0) return [];
  const states = s * d;
  let score = new Float64Array(states).fill(-Infinity);
  let next = new Float64Array(states);
  // Where (speaker, 0) came from, and whether the capped state stayed in itself.
  const from = new Int16Array(t * s);
  const stayed = new Uint8Array(t * s);
  const ll = new Float64Array(s);
  for (let f = 0; f < t; f++) {
    const at = (region.start + f) * features.dims;
    for (let k = 0; k < s; k++) ll[k] = logLikelihood(models[k]!, features.data, at);
    if (f === 0) {
      for (let k = 0; k < s; k++) score[k * d] = ll[k]!;
      continue;
    }
    let best = -Infinity;
    let second = -Infinity;
    let bestSpk = -1;
    for (let k = 0; k < s; k++) {
      const v = score[k * d + d - 1]!;
      if (v > best) [second, best, bestSpk] = [best, v, k];
      else if (v > second) second = v;
    }
    for (let k = 0; k < s; k++) {
      const capped = score[k * d + d - 1]!;
      const other = bestSpk === k ? second : best;
      let enter = other - o.switchPenalty;
      let src = bestSpk === k ? secondIndex(score, d, s, k) : bestSpk;
      if (d === 1 && capped >= enter) [enter, src] = [capped, k];
      next[k * d] = enter + ll[k]!;
      from[f * s + k] = src;
      for (let j = 1; j < d; j++) next[k * d + j] = score[k * d + j - 1]! + ll[k]!;
      if (d > 1) {
        const stay = capped >= score[k * d + d - 2]!;
        stayed[f * s + k] = stay ? 1 : 0;
        next[k * d + d - 1] = Math.max(capped, score[k * d + d - 2]!) + ll[k]!;
      }
    }
    [score, next] = [next, score];
  }
  let state = 0;
  for (let i = 1; i < states; i++) if (score[i]! > score[state]!) state = i;
  const labels = new Int16Array(t);
  let spk = Math.floor(state / d);
  let held = state % d;
  for (let f = t - 1; f >= 0; f--) {
    labels[f] = spk;
    if (f === 0) break;
    if (held === 0) {
      spk = from[f * s + spk]!;
      held = d - 1;
    } else if (held === d - 1 && stayed[f * s + spk] === 1) {
      held = d - 1;
    } else {
      held--;
    }
  }
  const out: LabelledRange[] = [];
  for (let f = 0; f < t; f++) {
    const last = out.at(-1);
    if (last !== undefined && last.label === labels[f]) last.end = region.start + f + 1;
    else out.push({ start: region.start + f, end: region.start + f + 1, label: labels[f]! });
  }
  return out;
}

/** The speaker other than `k` whose capped state scores best (a switch's source when `k` itself is best). */
function secondIndex(score: Float64Array, d: number, s: number, k: number): number {
  let best = -1;
  for (let j = 0; j < s; j++) if (j !== k && (best < 0 || score[j * d + d - 1]! > score[best * d + d - 1]!)) best = j;
  return best;
}
