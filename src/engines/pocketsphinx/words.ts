import type { Word } from '../types.js';
import type { NativeUtterance } from './native.js';

/** Silence, sentence marks and noise words: never shown to users. */
const FILLER = /^(<s>|<\/s>|<sil>|\[.*\]|\+\+.*\+\+)$/;

/** The user-facing words of a decoded utterance, in seconds from `offset`. */
export function utteranceWords(decoded: NativeUtterance, offset: number, frameRate: number): Word[] {
  const words: Word[] = [];
  for (const w of decoded.words) {
    if (FILLER.test(w.word)) continue;
    words.push({
      word: baseWord(w.word),
      start: round(offset + w.startFrame / frameRate),
      end: round(offset + (w.endFrame + 1) / frameRate),
      confidence: round(Math.min(1, Math.max(0, w.prob))),
    });
  }
  return words;
}

/** A hypothesis string as users see it: fillers dropped, alternate pronunciations named by their word. */
export function hypothesisText(hyp: string): string {
  return hyp
    .split(/\s+/)
    .filter((w) => w !== '' && !FILLER.test(w))
    .map(baseWord)
    .join(' ');
}

/** `read(2)` is the second pronunciation of `read`. */
function baseWord(word: string): string {
  return word.replace(/\(\d+\)$/, '');
}

export function mean(values: number[]): number {
  return values.length === 0 ? 0 : values.reduce((a, b) => a + b, 0) / values.length;
}

/** Times and scores are reported to the millisecond. */
export function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
