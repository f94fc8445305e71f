import { describe, expect, it } from 'vitest';
import { speakerColour, speakerLabels, speakerName, speakerTurns } from './speakers.js';

const seg = (start: number, end: number, speaker?: string) => (speaker === undefined ? { start, end, text: 'x' } : { start, end, text: 'x', speaker });

describe('the page\'s speakers', () => {
  it('joins consecutive segments of one speaker into a turn, and starts a new one at each change', () => {
    const segments = [seg(0, 2, 'A'), seg(2.5, 4, 'A'), seg(4, 6, 'B'), seg(6.2, 7, 'A'), seg(7, 8)];
    expect(speakerTurns(segments)).toEqual([
      { speaker: 'A', start: 0, end: 4 },
      { speaker: 'B', start: 4, end: 6 },
      { speaker: 'A', start: 6.2, end: 7 },
    ]);
    expect(speakerTurns([seg(0, 1), seg(1, 2)])).toEqual([]);
  });

  it('lists labels in order of first appearance, words included', () => {
    expect(speakerLabels({ segments: [seg(0, 1, 'B'), seg(1, 2, 'A'), seg(2, 3, 'B')], words: [{ start: 3, end: 4, word: 'w', speaker: 'C' }] })).toEqual(['B', 'A', 'C']);
    expect(speakerLabels({ segments: [seg(0, 1)], words: [] })).toEqual([]);
  });

  it('calls a speaker by its given name, "Speaker A" for a letter, else by its own label', () => {
    expect(speakerName('A', { A: 'Ann' })).toBe('Ann');
    expect(speakerName('B', { A: 'Ann' })).toBe('Speaker B');
    expect(speakerName('AA', {})).toBe('Speaker AA');
    expect(speakerName('Maria', {})).toBe('Maria');
    // Only the map's own names: a label such as "constructor" is not found on Object.prototype.
    expect(speakerName('constructor', {})).toBe('constructor');
  });

  it('gives each of eight speakers its own colour, then repeats the palette', () => {
    const labels = ['A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I'];
    expect(new Set(labels.slice(0, 8).map((l) => speakerColour(l, labels))).size).toBe(8);
    expect(speakerColour('I', labels)).toBe(speakerColour('A', labels));
  });
});
