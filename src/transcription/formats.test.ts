import { describe, expect, it } from 'vitest';
import { captionCues, toRttm, toSrt, toText, toVtt } from './formats.js';

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

  it('keeps a segment without word times (its text edited) as one cue, in time order among the word cues', () => {
    const t = {
      segments: [
        { start: 0, end: 1, text: 'Fixed by hand.' },
        { start: 2, end: 3, text: 'kept words' },
      ],
      words: [
        { start: 2, end: 2.4, word: 'kept' },
        { start: 2.5, end: 3, word: 'words' },
      ],
    };
    expect(captionCues(t)).toEqual([
      { start: 0, end: 1, text: 'Fixed by hand.' },
      { start: 2, end: 3, text: 'kept words' },
    ]);
  });

  it('falls back to segments when there are no word times', () => {
    expect(captionCues({ segments: [{ start: 1, end: 2, text: 'hi' }], words: [] })).toEqual([{ start: 1, end: 2, text: 'hi' }]);
  });
});

const spoken = (spec: [string, number, number, string][]) => spec.map(([word, start, end, speaker]) => ({ word, start, end, speaker }));

describe('caption formats with speakers', () => {
  // No pause, well under 6 s: only the speaker changes break cues.
  const t = {
    segments: [],
    words: spoken([
      ['hi', 0.0, 0.4, 'A'], ['there', 0.5, 0.9, 'A'],
      ['hello', 1.0, 1.4, 'B'],
      ['so', 1.5, 1.8, 'A'], ['anyway', 1.9, 2.4, 'A'],
    ]),
  };

  it('breaks cues where the speaker changes and names the speaker on each', () => {
    expect(captionCues(t)).toEqual([
      { start: 0.0, end: 0.9, text: 'hi there', speaker: 'A' },
      { start: 1.0, end: 1.4, text: 'hello', speaker: 'B' },
      { start: 1.5, end: 2.4, text: 'so anyway', speaker: 'A' },
    ]);
  });

  it('prefixes SRT cues with the speaker and a colon', () => {
    expect(toSrt(t)).toBe(
      '1\n00:00:00,000 --> 00:00:00,900\nA: hi there\n\n' +
        '2\n00:00:01,000 --> 00:00:01,400\nB: hello\n\n' +
        '3\n00:00:01,500 --> 00:00:02,400\nA: so anyway\n',
    );
  });

  it('opens WebVTT cues with a voice span', () => {
    expect(toVtt(t)).toBe(
      'WEBVTT\n\n' +
        '00:00:00.000 --> 00:00:00.900\n<v A>hi there\n\n' +
        '00:00:01.000 --> 00:00:01.400\n<v B>hello\n\n' +
        '00:00:01.500 --> 00:00:02.400\n<v A>so anyway\n',
    );
  });

  it('escapes a name in the voice span and keeps names on one line', () => {
    const named = { segments: [], words: spoken([['yes', 0, 0.5, 'Tom & Jerry <a>'], ['no', 0.6, 1, 'Ann\nLee']]) };
    expect(toVtt(named)).toBe('WEBVTT\n\n00:00:00.000 --> 00:00:00.500\n<v Tom &amp; Jerry <a&gt;>yes\n\n00:00:00.600 --> 00:00:01.000\n<v Ann Lee>no\n');
    expect(toSrt(named)).toContain('\nAnn Lee: no\n');
  });

  it('names the speaker on segment cues when there are no word times', () => {
    const s = { segments: [{ start: 0, end: 2, text: 'Hi.', speaker: 'A' }, { start: 2, end: 3, text: 'Yo.', speaker: 'B' }], words: [] };
    expect(toSrt(s)).toBe('1\n00:00:00,000 --> 00:00:02,000\nA: Hi.\n\n2\n00:00:02,000 --> 00:00:03,000\nB: Yo.\n');
  });
});

describe('plain text', () => {
  it('is the transcript text without speakers', () => {
    expect(toText({ text: 'Hi there. Hello.', segments: [{ start: 0, end: 1, text: 'Hi there.' }, { start: 1, end: 2, text: 'Hello.' }] })).toBe('Hi there. Hello.\n');
  });

  it('starts a paragraph with the speaker at each change, joining one speaker’s segments', () => {
    const t = {
      text: 'Hi there. How are you? Fine. Good.',
      segments: [
        { start: 0, end: 1, text: 'Hi there.', speaker: 'A' },
        { start: 1, end: 2, text: 'How are you?', speaker: 'A' },
        { start: 2, end: 3, text: 'Fine.', speaker: 'B' },
        { start: 3, end: 4, text: 'Good.', speaker: 'A' },
      ],
    };
    expect(toText(t)).toBe('A: Hi there. How are you?\n\nB: Fine.\n\nA: Good.\n');
  });
});

describe('RTTM', () => {
  it('writes a turn per run of touching same-speaker segments, split at pauses', () => {
    const t = {
      segments: [
        { start: 0, end: 1, text: 'a', speaker: 'A' },
        { start: 1, end: 2.5, text: 'b', speaker: 'A' }, // touches: same turn
        { start: 2.5, end: 3, text: 'c', speaker: 'B' },
        { start: 4, end: 5, text: 'd', speaker: 'B' }, // after a pause: a new turn
      ],
    };
    expect(toRttm('call 1', t)).toBe(
      'SPEAKER call_1 1 0.000 2.500 <NA> <NA> A <NA> <NA>\n' +
        'SPEAKER call_1 1 2.500 0.500 <NA> <NA> B <NA> <NA>\n' +
        'SPEAKER call_1 1 4.000 1.000 <NA> <NA> B <NA> <NA>\n',
    );
  });

  it('is empty for a transcript without speakers', () => {
    expect(toRttm('x', { segments: [{ start: 0, end: 1, text: 'a' }] })).toBe('');
  });
});
