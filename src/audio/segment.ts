/**
 * Cuts long audio into utterances at silences. A speech decoder's memory grows
 * with utterance length, so no utterance may exceed `maxFrames`; cutting inside
 * the longest pause of each window keeps words whole.
 */
export interface SegmentOptions {
  /** Longest utterance, in 10 ms frames. */
  maxFrames: number;
  /** Shortest utterance worth cutting off, in frames. */
  minFrames: number;
  /** Shortest pause that counts as a silence, in frames. */
  minSilenceFrames: number;
  /**
   * A pause at least this long (frames) is a sentence break: the first one in
   * the window is taken. Without one, the window's longest pause is.
   */
  breakFrames: number;
}

export interface FrameRange {
  start: number;
  end: number;
}

function percentile(values: Float32Array, p: number): number {
  const sorted = Float32Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;
}

/** Splits [0, energies.length) into ranges no longer than `maxFrames`. */
export function cutAtSilences(energies: Float32Array, options: SegmentOptions): FrameRange[] {
  const total = energies.length;
  if (total <= options.maxFrames) return [{ start: 0, end: total }];

  const floor = percentile(energies, 0.1);
  const speech = percentile(energies, 0.9);
  const threshold = floor + 0.25 * Math.max(6, speech - floor);

  // Silence runs as [start, end) frame ranges.
  const runs: FrameRange[] = [];
  for (let f = 0; f < total; ) {
    if ((energies[f] ?? 0) >= threshold) {
      f++;
      continue;
    }
    const s = f;
    while (f < total && (energies[f] ?? 0) < threshold) f++;
    if (f - s >= options.minSilenceFrames) runs.push({ start: s, end: f });
  }

  const ranges: FrameRange[] = [];
  let start = 0;
  while (total - start > options.maxFrames) {
    const lo = start + options.minFrames;
    const hi = start + options.maxFrames;
    const inWindow = runs.filter((r) => {
      const mid = (r.start + r.end) >> 1;
      return mid > lo && mid < hi;
    });
    // Cutting at the first real break keeps utterances near sentence length,
    // which decodes better than fewer, longer pieces (measured on the dev set).
    let best: FrameRange | undefined = inWindow.find((r) => r.end - r.start >= options.breakFrames);
    if (best === undefined) {
      for (const r of inWindow) if (best === undefined || r.end - r.start >= best.end - best.start) best = r;
    }
    let cut: number;
    if (best !== undefined) {
      cut = (best.start + best.end) >> 1;
    } else {
      // No pause long enough: cut at the quietest frame of the window's second half.
      cut = hi;
      let quietest = Infinity;
      for (let f = Math.max(lo, hi - Math.floor(options.maxFrames / 2)); f < hi; f++) {
        const e = energies[f] ?? 0;
        if (e < quietest) {
          quietest = e;
          cut = f;
        }
      }
    }
    ranges.push({ start, end: cut });
    start = cut;
  }
  ranges.push({ start, end: total });
  return ranges;
}
