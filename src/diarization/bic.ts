import { deltaBic, GaussStats } from './gaussian.js';
import type { Features } from './mfcc.js';

/** A range of feature frames [start, end). */
export interface FrameRange {
  start: number;
  end: number;
}

export interface ChangeOptions {
  /** Frames on each side of a candidate change. */
  window: number;
  /** Candidates tried every this many frames. */
  step: number;
  /** No two changes (nor a change and a region's edge) closer than this many frames. */
  minSegment: number;
  /** BIC penalty weight of the change test; under 1 finds more changes, which clustering can undo. */
  lambda: number;
  ridge: number;
}

/**
 * Speaker changes inside each speech region by a sliding ΔBIC test (Chen and
 * Gopalakrishnan, 1998): at every step the `window` frames before a point and
 * the `window` after are compared, and points where ΔBIC peaks above zero cut
 * the region. A peak is kept only if it is the highest within `minSegment`
 * either side, so one change is not found twice. Returns the pieces of every
 * region, in order.
 */
export function detectChanges(features: Features, regions: readonly FrameRange[], options: ChangeOptions): FrameRange[] {
  return regions.flatMap((r) => cuts(features, r, options));
}

function cuts(features: Features, region: FrameRange, o: ChangeOptions): FrameRange[] {
  const points: number[] = [];
  const scores: number[] = [];
  for (let t = region.start + o.minSegment; t <= region.end - o.minSegment; t += o.step) {
    const left = GaussStats.of(features, Math.max(region.start, t - o.window), t);
    const right = GaussStats.of(features, t, Math.min(region.end, t + o.window));
    points.push(t);
    scores.push(deltaBic(left, right, o.lambda, o.ridge));
  }
  const reach = Math.ceil(o.minSegment / o.step);
  const changes: number[] = [];
  for (let i = 0; i < points.length; i++) {
    const s = scores[i]!;
    if (s <= 0) continue;
    let peak = true;
    for (let j = Math.max(0, i - reach); j <= Math.min(points.length - 1, i + reach) && peak; j++) {
      // Ties go to the earlier point, so a flat top yields one change.
      if (scores[j]! > s || (scores[j] === s && j < i)) peak = false;
    }
    if (peak) changes.push(points[i]!);
  }
  const bounds = [region.start, ...changes, region.end];
  return bounds.slice(1).map((end, i) => ({ start: bounds[i]!, end }));
}
