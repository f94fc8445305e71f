import { describe, expect, it } from 'vitest';
import { cutByHits, findHits, plainText, spotAt, step, timedText, timeTag, transcriptLines, type Line } from './transcript-nav.js';

const word = (word: string, start: number, end: number) => ({ word, start, end });

/** Two segments as PocketSphinx gives them: lower case, the words one for one with the text. */
const RESULT = {
  text: 'he hoped there would be stew for dinner',
  duration_seconds: 5,
  segments: [
    { start: 0.5, end: 1.5, text: 'he hoped there' },
    { start: 1.6, end: 3.0, text: 'would be stew for dinner' },
  ],
  words: [word('he', 0.5, 0.65), word('hoped', 0.65, 0.99), word('there', 0.99, 1.12), word('would', 1.6, 1.8), word('be', 1.8, 1.9), word('stew', 1.9, 2.3), word('for', 2.3, 2.5), word('dinner', 2.5, 3.0)],
};

describe('the transcript viewer', () => {
  it('gives each line its own words, placed in its text', () => {
    const lines = transcriptLines(RESULT);
    expect(lines.map((l) => l.words.length)).toEqual([3, 5]);
    const second = lines[1]!;
    expect(second.words.map((w) => second.text.slice(w.from, w.to))).toEqual(['would', 'be', 'stew', 'for', 'dinner']);
    expect(second.words[2]).toEqual({ from: 9, to: 13, start: 1.9, end: 2.3 });
  });

  it('leaves a line untimed word by word when its text and the words disagree, and shows a result without segments as one line', () => {
    const lines = transcriptLines({ ...RESULT, segments: [{ start: 0.5, end: 1.5, text: 'He hoped, there!' }, { start: 1.6, end: 3, text: 'would be stew for' }] });
    expect(lines[0]!.words.map((w) => w.to)).toEqual([2, 9, 16]);
    // Five words start in the second segment, its text has four.
    expect(lines[1]!.words).toEqual([]);
    const one = transcriptLines({ ...RESULT, segments: [] });
    expect(one).toHaveLength(1);
    expect(one[0]).toMatchObject({ index: 0, start: 0, end: 5, text: RESULT.text });
    expect(one[0]!.words).toHaveLength(8);
  });

  it('finds the line and the word being heard, and none in a gap', () => {
    const lines = transcriptLines(RESULT);
    expect(spotAt(lines, 0.7)).toEqual({ line: 0, word: 1 });
    expect(spotAt(lines, 2.3)).toEqual({ line: 1, word: 3 });
    // After "there" ends, before the segment does.
    expect(spotAt(lines, 1.3)).toEqual({ line: 0, word: -1 });
    expect(spotAt(lines, 1.55)).toEqual({ line: -1, word: -1 });
    expect(spotAt(lines, 3.0)).toEqual({ line: -1, word: -1 });
    // The speaker filter leaves out lines; the others keep their numbers.
    expect(spotAt([lines[1]!], 2.6)).toEqual({ line: 1, word: 4 });
    expect(spotAt([lines[1]!], 0.7)).toEqual({ line: -1, word: -1 });
  });

  it('finds every match whatever its case, across spaces, and treats the query as text', () => {
    const lines: Line[] = [
      { index: 0, start: 0, end: 1, text: 'The pound, the POUND', speaker: undefined, words: [] },
      { index: 3, start: 1, end: 2, text: 'a  pound (or two)', speaker: undefined, words: [] },
    ];
    expect(findHits(lines, 'pound')).toEqual([
      { line: 0, from: 4, to: 9 },
      { line: 0, from: 15, to: 20 },
      { line: 3, from: 3, to: 8 },
    ]);
    expect(findHits(lines, ' A pound ')).toEqual([{ line: 3, from: 0, to: 8 }]);
    expect(findHits(lines, '(or')).toEqual([{ line: 3, from: 9, to: 12 }]);
    expect(findHits(lines, '.*')).toEqual([]);
    expect(findHits(lines, '   ')).toEqual([]);
  });

  it('cuts a word at the edges of the hits in it, numbering the hits overall', () => {
    const hits = [
      { line: 0, from: 2, to: 4 },
      { line: 0, from: 6, to: 12 },
    ];
    expect(cutByHits(0, 8, hits, 5)).toEqual([
      { from: 0, to: 2, hit: -1 },
      { from: 2, to: 4, hit: 5 },
      { from: 4, to: 6, hit: -1 },
      { from: 6, to: 8, hit: 6 },
    ]);
    expect(cutByHits(8, 10, hits, 5)).toEqual([{ from: 8, to: 10, hit: 6 }]);
    expect(cutByHits(12, 15, hits, 5)).toEqual([{ from: 12, to: 15, hit: -1 }]);
  });

  it('copies as plain text, a paragraph per turn with the speaker named, or with a time per line', () => {
    const lines: Line[] = [
      { index: 0, start: 0.5, end: 2, text: ' Hello there.', speaker: 'A', words: [] },
      { index: 1, start: 2, end: 4, text: 'How are you?', speaker: 'A', words: [] },
      { index: 2, start: 65.99, end: 70, text: 'Fine.', speaker: 'B', words: [] },
    ];
    expect(plainText(lines, { A: 'Ann' })).toBe('Ann: Hello there. How are you?\n\nSpeaker B: Fine.');
    expect(timedText(lines, { A: 'Ann' })).toBe('[00:00] Ann: Hello there.\n[00:02] Ann: How are you?\n[01:05] Speaker B: Fine.');
    const plain = lines.map((l) => ({ ...l, speaker: undefined }));
    expect(plainText(plain, {})).toBe('Hello there.\nHow are you?\nFine.');
    expect(timedText(plain.slice(2), {})).toBe('[01:05] Fine.');
    expect(timeTag(3723.4)).toBe('[1:02:03]');
  });

  it('moves one line with the arrows and to the ends with Home and End, never past them', () => {
    expect(step('ArrowDown', 0, 3)).toBe(1);
    expect(step('ArrowDown', 2, 3)).toBe(2);
    expect(step('ArrowUp', 0, 3)).toBe(0);
    expect(step('ArrowUp', 2, 3)).toBe(1);
    expect(step('Home', 2, 3)).toBe(0);
    expect(step('End', 0, 3)).toBe(2);
    expect(step('ArrowLeft', 1, 3)).toBeUndefined();
    expect(step('ArrowDown', 0, 0)).toBeUndefined();
  });
});
