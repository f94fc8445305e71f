import { describe, expect, it } from 'vitest';
import { captionCues, toSrt, toVtt } from './formats.js';

const words = (spec: [string, number, number][]) => spec.map(([word, start, end]) => ({ word, start, end }));

describe('caption formats', () => {
  it('breaks cues at pauses and at 6 s, keeping word times', () => {
    const t = {
      segments: [],
      words: words([
        ['one', 0.5, 0.9], ['two', 1.0, 1.4],
        ['three', 3.0, 3.5], // a 1.6 s pause before it
        ['four', 3.6, 5.0], ['five', 5.1, 7.0], ['six', 7.1, 9.9], // past 6 s from "three"
      ]),
    };
    expect(captionCues(t)).toEqual([
      { start: 0.5, end: 1.4, text: 'one two' },
      { start: 3.0, end: 7.0, text: 'three four five' },
      { start: 7.1, end: 9.9, text: 'six' },
    ]);
  });

  it('writes SRT and WebVTT timestamps', () => {
    const t = { segments: [], words: words([['hello', 3661.005, 3662.5]]) };
    expect(toSrt(t)).toBe('1\n01:01:01,005 --> 01:01:02,500\nhello\n');
    expect(toVtt(t)).toBe('WEBVTT\n\n01:01:01.005 --> 01:01:02.500\nhello\n');
  });

  it('falls back to segments when there are no word times', () => {
    expect(captionCues({ segments: [{ start: 1, end: 2, text: 'hi' }], words: [] })).toEqual([{ start: 1, end: 2, text: 'hi' }]);
  });
});
