/**
 * Word error rate as the corpus README defines it: lower-case, strip punctuation
 * and apostrophes on both sides, compare word sequences by edit distance. A set's
 * WER is the sum of edits over the sum of reference words, not a mean per clip.
 */
export function normalizeWords(text: string): string[] {
  return text
    .toLowerCase()
    .replace(/['’]/g, '')
    .replace(/[^\p{L}\p{N}\s]/gu, ' ')
    .split(/\s+/)
    .filter(Boolean);
}

/** Levenshtein distance between two word sequences. */
export function editDistance(ref: readonly string[], hyp: readonly string[]): number {
  let prev = Array.from({ length: hyp.length + 1 }, (_, j) => j);
  for (let i = 1; i <= ref.length; i++) {
    const cur = [i];
    for (let j = 1; j <= hyp.length; j++) {
      const sub = (prev[j - 1] ?? 0) + (ref[i - 1] === hyp[j - 1] ? 0 : 1);
      cur.push(Math.min(sub, (prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1));
    }
    prev = cur;
  }
  return prev[hyp.length] ?? 0;
}

export interface WerTally {
  errors: number;
  words: number;
}

export function tally(reference: string, hypothesis: string): WerTally {
  const ref = normalizeWords(reference);
  return { errors: editDistance(ref, normalizeWords(hypothesis)), words: ref.length };
}

/** WER over a set: total edits / total reference words. */
export function wer(tallies: readonly WerTally[]): number {
  const words = tallies.reduce((n, t) => n + t.words, 0);
  return words === 0 ? 0 : tallies.reduce((n, t) => n + t.errors, 0) / words;
}
