/**
 * The assignment of rows to columns with the largest total weight, one-to-one
 * (Hungarian algorithm, O(n³) on the padded square matrix): `result[row]` is its
 * column, or -1 when there are more rows than columns and the row got none.
 * Exact, unlike a greedy pick of the largest overlap first, which can lose a
 * speaker's whole time when two hypothesis speakers share one reference speaker.
 */
export function maxAssignment(weights: readonly (readonly number[])[]): number[] {
  const rows = weights.length;
  const cols = Math.max(0, ...weights.map((w) => w.length));
  const n = Math.max(rows, cols);
  // Minimise cost = -weight; 1-based with a virtual row/column 0 (the textbook potentials formulation).
  const cost = (i: number, j: number): number => -(weights[i - 1]?.[j - 1] ?? 0);
  const u = new Float64Array(n + 1);
  const v = new Float64Array(n + 1);
  const rowOf = new Int32Array(n + 1);
  const way = new Int32Array(n + 1);
  for (let i = 1; i <= n; i++) {
    rowOf[0] = i;
    let j0 = 0;
    const minv = new Float64Array(n + 1).fill(Infinity);
    const used = new Uint8Array(n + 1);
    do {
      used[j0] = 1;
      const i0 = rowOf[j0]!;
      let delta = Infinity;
      let j1 = 0;
      for (let j = 1; j <= n; j++) {
        if (used[j] === 1) continue;
        const reduced = cost(i0, j) - u[i0]! - v[j]!;
        if (reduced < minv[j]!) {
          minv[j] = reduced;
          way[j] = j0;
        }
        if (minv[j]! < delta) {
          delta = minv[j]!;
          j1 = j;
        }
      }
      for (let j = 0; j <= n; j++) {
        if (used[j] === 1) {
          u[rowOf[j]!]! += delta;
          v[j]! -= delta;
        } else {
          minv[j]! -= delta;
        }
      }
      j0 = j1;
    } while (rowOf[j0] !== 0);
    do {
      const j1 = way[j0]!;
      rowOf[j0] = rowOf[j1]!;
      j0 = j1;
    } while (j0 !== 0);
  }
  const result = new Array<number>(rows).fill(-1);
  for (let j = 1; j <= cols; j++) if (rowOf[j]! <= rows) result[rowOf[j]! - 1] = j - 1;
  return result;
}
