/** A range of feature frames [start, end). */
export interface FrameRange {
  start: number;
  end: number;
}

/** How many clusters the caller allows: [min, max], equal for an exact count. */
export interface CountBounds {
  min: number;
  max: number;
}

/** Labels renumbered 0..k-1 in order of first appearance. */
export function renumber(labels: readonly number[]): number[] {
  const map = new Map<number, number>();
  return labels.map((l) => {
    if (!map.has(l)) map.set(l, map.size);
    return map.get(l)!;
  });
}
