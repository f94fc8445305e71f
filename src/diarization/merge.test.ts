import { describe, expect, it } from 'vitest';
import type { Segment, Transcript, Word } from '../engines/index.js';
import { attachSpeakers, renameSpeakers } from './merge.js';
import type { Diarization, SpeakerTurn } from './types.js';

const words = (spec: [string, number, number][]): Word[] => spec.map(([word, start, end]) => ({ word, start, end }));
const turns = (spec: [string, number, number][]): SpeakerTurn[] => spec.map(([speaker, start, end]) => ({ speaker, start, end }));
const diarization = (t: SpeakerTurn[]): Diarization => ({ turns: t, speakers: new Set(t.map((x) => x.speaker)).size });

function transcript(segments: Segment[], w: Word[] = []): Transcript {
  return { text: segments.map((s) => s.text).join(' '), language: 'en', duration_seconds: 10, confidence: null, segments, words: w };
}

describe('attachSpeakers', () => {
  it('gives alternating speakers to their words and segments', () => {
    const w = words([['hi', 0.2, 0.6], ['there', 0.7, 1.2], ['hello', 2.2, 2.8], ['yes', 4.1, 4.5]]);
    const t = transcript(
      [
        { start: 0.2, end: 1.2, text: 'Hi there.', confidence: 0.9 },
        { start: 2.2, end: 2.8, text: 'Hello.' },
        { start: 4.1, end: 4.5, text: 'Yes.' },
      ],
      w,
    );
    const out = attachSpeakers(t, diarization(turns([['A', 0, 1.5], ['B', 2, 3], ['A', 4, 5]])));
    expect(out.words.map((x) => x.speaker)).toEqual(['A', 'A', 'B', 'A']);
    expect(out.segments).toEqual([
      { start: 0.2, end: 1.2, text: 'Hi there.', confidence: 0.9, speaker: 'A' },
      { start: 2.2, end: 2.8, text: 'Hello.', speaker: 'B' },
      { start: 4.1, end: 4.5, text: 'Yes.', speaker: 'A' },
    ]);
    expect(out.speakers).toBe(2);
    expect(out.text).toBe('Hi there. Hello. Yes.');
    // The input is not touched.
    expect(t.words[0]).not.toHaveProperty('speaker');
    expect(t.segments[0]).not.toHaveProperty('speaker');
    expect(t).not.toHaveProperty('speakers');
  });

  it('gives a word straddling a change to the turn holding its midpoint', () => {
    const t = transcript([], words([['early', 1.9, 2.3], ['late', 1.6, 2.2]]));
    const out = attachSpeakers(t, diarization(turns([['A', 0, 2], ['B', 2, 4]])));
    // Midpoints 2.1 (in B) and 1.9 (in A).
    expect(out.words.map((x) => x.speaker)).toEqual(['B', 'A']);
  });

  it('splits a segment into three at its speaker changes', () => {
    const w = words([['one', 0.1, 0.5], ['two', 0.6, 1.0], ['three', 2.1, 2.5], ['four', 2.6, 3.0], ['five', 4.1, 4.5], ['six', 4.6, 5.0]]);
    const t = transcript([{ start: 0, end: 5.5, text: 'One, two, three, four, five, six.', confidence: 0.8 }], w);
    const out = attachSpeakers(t, diarization(turns([['A', 0, 2], ['B', 2, 4], ['A', 4, 6]])));
    expect(out.segments).toEqual([
      { start: 0, end: 1.0, text: 'one two', confidence: 0.8, speaker: 'A' },
      { start: 2.1, end: 3.0, text: 'three four', confidence: 0.8, speaker: 'B' },
      { start: 4.1, end: 5.5, text: 'five six', confidence: 0.8, speaker: 'A' },
    ]);
    expect(out.text).toBe('One, two, three, four, five, six.');
  });

  it('gives each word to one segment only, by its midpoint', () => {
    // "b" (midpoint 1.0) sits on the shared edge: it belongs to the first segment alone.
    const w = words([['a', 0.2, 0.6], ['b', 0.8, 1.2], ['c', 1.4, 1.8]]);
    const t = transcript([{ start: 0, end: 1, text: 'a b' }, { start: 1, end: 2, text: 'c' }], w);
    const out = attachSpeakers(t, diarization(turns([['A', 0, 1.1], ['B', 1.1, 2]])));
    expect(out.segments).toEqual([
      { start: 0, end: 1, text: 'a b', speaker: 'A' },
      { start: 1, end: 2, text: 'c', speaker: 'B' },
    ]);
  });

  it('gives a word outside every turn the nearest turn within 1 s, else the previous word’s speaker', () => {
    const w = words([
      ['first', 4.3, 4.7], // 3.5 s after A, 1.5 s before B, no previous word: the nearest turn, B
      ['b1', 6.2, 6.6],
      ['near', 7.3, 7.7], // 0.5 s after B
      ['gap', 11.0, 11.4], // 3.7 s after B, 1.8 s before A: the previous word's, B
      ['close', 12.8, 13.0], // 0.1 s before A
    ]);
    const out = attachSpeakers(transcript([], w), diarization(turns([['A', 0, 1], ['B', 6, 7], ['A', 13, 15]])));
    expect(out.words.map((x) => x.speaker)).toEqual(['B', 'B', 'B', 'B', 'A']);
  });

  it('takes the nearer turn when both are within 1 s', () => {
    const w = words([['x', 2.5, 2.9]]); // midpoint 2.7: 0.7 s after A, 0.3 s before B
    const out = attachSpeakers(transcript([], w), diarization(turns([['A', 0, 2], ['B', 3, 4]])));
    expect(out.words[0]!.speaker).toBe('B');
  });

  it('gives a segment without words the speaker with most time in it', () => {
    const t = transcript([
      { start: 0, end: 4, text: 'mostly B' }, // A 1 s, B 2 s, A again 0.5 s: B
      { start: 4, end: 6, text: 'A then C' }, // A 1.5 s, C 0.5 s
      { start: 8.5, end: 9, text: 'in a gap' }, // no overlap; C ends 0.5 s before: C
      { start: 20, end: 21, text: 'far away' }, // 11 s from C: the previous segment's speaker
    ]);
    const out = attachSpeakers(t, diarization(turns([['A', 0, 1], ['B', 1, 3], ['A', 3.5, 5.5], ['C', 5.5, 8]])));
    expect(out.segments.map((s) => s.speaker)).toEqual(['B', 'A', 'C', 'C']);
    expect(out.segments.map((s) => s.text)).toEqual(['mostly B', 'A then C', 'in a gap', 'far away']);
    expect(out.speakers).toBe(3);
  });

  it('sums a speaker’s turns inside a segment', () => {
    // A has 0.6 + 0.6 s, B a single 1 s stretch.
    const t = transcript([{ start: 0, end: 2.2, text: 'x' }]);
    const out = attachSpeakers(t, diarization(turns([['A', 0, 0.6], ['B', 0.6, 1.6], ['A', 1.6, 2.2]])));
    expect(out.segments[0]!.speaker).toBe('A');
  });

  it('sets no speaker when the diarizer found no turns', () => {
    const t = transcript([{ start: 0, end: 1, text: 'hm' }], words([['hm', 0.2, 0.5]]));
    const out = attachSpeakers(t, { turns: [], speakers: 0 });
    expect(out.speakers).toBe(0);
    expect(out.segments[0]).not.toHaveProperty('speaker');
    expect(out.words[0]).not.toHaveProperty('speaker');
    expect(out.text).toBe('hm');
  });

  it('answers an empty transcript with the speaker count only', () => {
    const out = attachSpeakers(transcript([]), diarization(turns([['A', 0, 1]])));
    expect(out).toMatchObject({ segments: [], words: [], speakers: 1, text: '' });
  });
});

describe('renameSpeakers', () => {
  it('names the labels it is given, keeps the others, and leaves its input alone', () => {
    const w = words([['hi', 0.2, 0.6], ['yes', 2.1, 2.5], ['no', 4.1, 4.5]]);
    const t = attachSpeakers(
      transcript([{ start: 0.2, end: 0.6, text: 'Hi.' }, { start: 2.1, end: 2.5, text: 'Yes.' }, { start: 4.1, end: 4.5, text: 'No.' }], w),
      diarization(turns([['A', 0, 1], ['B', 2, 3], ['C', 4, 5]])),
    );
    const out = renameSpeakers(t, { A: 'Ann', C: 'Ann' });
    expect(out.segments.map((s) => s.speaker)).toEqual(['Ann', 'B', 'Ann']);
    expect(out.words.map((x) => x.speaker)).toEqual(['Ann', 'B', 'Ann']);
    expect(t.segments.map((s) => s.speaker)).toEqual(['A', 'B', 'C']);
    // An undiarized transcript gains no speaker.
    expect(renameSpeakers(transcript([{ start: 0, end: 1, text: 'x' }]), { A: 'Ann' }).segments[0]).not.toHaveProperty('speaker');
  });
});
