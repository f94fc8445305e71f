import { describe, expect, it } from 'vitest';
import type { WhisperSegment } from './binding.js';
import { piecesToTranscript } from './words.js';

/** Token pieces as whisper.cpp gives them with `maxLen: 1`: text, then ms from the utterance's start. */
const pieces = (spec: [string, number, number][]): WhisperSegment[] => spec.map(([text, t0, t1]) => ({ text, t0, t1 }));

describe('piecesToTranscript', () => {
  it('joins sub-word pieces into words in file time and cuts segments at sentence ends', () => {
    const out = piecesToTranscript(
      pieces([
        [' Hello', 0, 400],
        [',', 400, 420],
        [' wor', 500, 700],
        ['ld', 700, 900],
        ['.', 900, 910],
        [' How', 1200, 1400],
        [' are', 1400, 1600],
        [' you', 1600, 1900],
        ['?', 1900, 1950],
      ]),
      10,
      20,
    )!;
    expect(out.words).toEqual([
      { start: 10, end: 10.4, word: 'Hello' },
      { start: 10.5, end: 10.9, word: 'world' },
      { start: 11.2, end: 11.4, word: 'How' },
      { start: 11.4, end: 11.6, word: 'are' },
      { start: 11.6, end: 11.9, word: 'you' },
    ]);
    expect(out.segments).toEqual([
      { start: 10, end: 10.9, text: 'Hello, world.' },
      { start: 11.2, end: 11.9, text: 'How are you?' },
    ]);
  });

  it('starts a segment at a long pause, keeps a contraction and a number whole, and drops punctuation-only words', () => {
    const out = piecesToTranscript(
      pieces([
        [' I', 0, 100],
        ["'m", 100, 300],
        [' -', 300, 310],
        [' 42', 400, 800],
        [' then', 2500, 2800],
        [' "', 2800, 2810],
        ['yes', 2810, 3000],
        ['"', 3000, 3010],
      ]),
      0,
      30,
    )!;
    expect(out.words.map((w) => w.word)).toEqual(["I'm", '42', 'then', 'yes']);
    expect(out.segments.map((s) => s.text)).toEqual(["I'm - 42", 'then "yes"']);
    expect(out.segments[1]!.start).toBe(2.5);
  });

  it('keeps times inside the utterance and never going backwards', () => {
    const out = piecesToTranscript(
      pieces([
        [' a', 300, 500],
        [' b', 200, 250],
        [' c', 900, 99_000],
      ]),
      5,
      6,
    )!;
    for (const [i, w] of out.words.entries()) {
      expect(w.end).toBeGreaterThanOrEqual(w.start);
      expect(w.start).toBeGreaterThanOrEqual(5);
      expect(w.end).toBeLessThanOrEqual(6);
      if (i > 0) expect(w.start).toBeGreaterThanOrEqual(out.words[i - 1]!.start);
    }
    expect(out.words.at(-1)!.end).toBe(6);
  });

  it('gives up on a piece with a broken character, so the caller decodes whole segments', () => {
    expect(piecesToTranscript(pieces([[' \u4f60', 0, 100], ['\uFFFD', 100, 200]]), 0, 1)).toBeUndefined();
  });

  it('gives nothing for nothing', () => {
    expect(piecesToTranscript([], 0, 1)).toEqual({ words: [], segments: [] });
  });
});
