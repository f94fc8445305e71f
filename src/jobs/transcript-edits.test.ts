import { describe, expect, it } from 'vitest';
import type { Transcript } from '../engines/index.js';
import { applySegmentEdits } from './transcript-edits.js';

const T: Transcript = {
  text: 'hello there general kenobi',
  language: 'en',
  duration_seconds: 4,
  confidence: 0.9,
  segments: [
    { start: 0, end: 1.5, text: 'hello there', confidence: 0.8, speaker: 'A' },
    { start: 2, end: 3.8, text: 'general kenobi', confidence: 0.7, speaker: 'B' },
  ],
  words: [
    { start: 0, end: 0.6, word: 'hello', speaker: 'A' },
    { start: 0.7, end: 1.5, word: 'there', speaker: 'A' },
    { start: 2, end: 2.9, word: 'general', speaker: 'B' },
    { start: 3, end: 3.8, word: 'kenobi', speaker: 'B' },
  ],
};

describe('applySegmentEdits', () => {
  it('replaces a segment\'s text, keeps its times and speaker, drops its words and confidence, and rebuilds the text', () => {
    const t = applySegmentEdits(T, [{ index: 1, text: '  General\nKenobi! ' }]);
    expect(t.segments[1]).toEqual({ start: 2, end: 3.8, text: 'General Kenobi!', speaker: 'B' });
    expect(t.segments[0]).toEqual(T.segments[0]);
    expect(t.words.map((w) => w.word)).toEqual(['hello', 'there']);
    expect(t.text).toBe('hello there General Kenobi!');
  });

  it('removes a segment edited to nothing', () => {
    const t = applySegmentEdits(T, [{ index: 0, text: ' ' }]);
    expect(t.segments.map((s) => s.text)).toEqual(['general kenobi']);
    expect(t.text).toBe('general kenobi');
  });

  it.each([
    [[{ index: 2, text: 'x' }], /segment 2 does not exist/],
    [[{ index: -1, text: 'x' }], /segment -1 does not exist/],
    [[{ index: 0, text: 'a' }, { index: 0, text: 'b' }], /edited twice/],
    [[{ index: 0, text: 'x'.repeat(10_001) }], /longer than 10000/],
    [[], /no segment edits/],
  ])('refuses %j with INVALID_EDIT', (edits, message) => {
    expect(() => applySegmentEdits(T, edits)).toThrow(message);
  });
});
