import { describe, expect, it } from 'vitest';
import { decodedOf, roughly } from './format.js';
import { MIN_ESTIMATE_MS, readJobLog, timeLeft } from './progress.js';

const T0 = Date.parse('2026-12-05T08:00:00.000Z');
/** A log line as the SSE stream sends it, `ms` after T0. */
const at = (ms: number, message: string) => `${new Date(T0 + ms).toISOString()} ${message}`;

/** A first attempt that decoded two utterances of a 30 s file, as the runner and PocketSphinx log them. */
const ATTEMPT_1 = [
  at(0, 'accepted: talk.wav (960044 bytes)'),
  at(10, 'attempt 1 started (isolation process, engine pocketsphinx)'),
  at(400, 'decoding in process 4242'),
  at(900, 'engine: VAD silero: speech 27.0 s of 30.0 s in 3 utterance(s)'),
  at(1400, 'segment 0.3-9.8 s: he hoped there would be stew'),
  at(1400, 'progress 33% (10.0 of 30.0 s)'),
  at(1401, 'engine: utterance 1/3 (0.0-10.0 s): 6 words'),
  at(2400, 'engine: utterance 2/3 (10.0-12.0 s): 0 words'),
  at(4400, 'segment 12.5-19.0 s: for dinner: turnips, carrots'),
  at(4400, 'progress 63% (19.0 of 30.0 s)'),
  at(4401, 'engine: utterance 3/3 (12.0-19.0 s): 4 words'),
];

describe('reading a running job\'s log', () => {
  it('finds the segments decoded so far, with their times and text (a colon in the text kept)', () => {
    const p = readJobLog(ATTEMPT_1);
    expect(p.segments).toEqual([
      { start: 0.3, end: 9.8, text: 'he hoped there would be stew' },
      { start: 12.5, end: 19, text: 'for dinner: turnips, carrots' },
    ]);
    expect(p.total).toBe(30);
  });

  it('counts from the utterances\' planning (the VAD\'s pass over the file is not decoding), and takes the furthest figure as the latest, stamped when it was first reached', () => {
    const p = readJobLog(ATTEMPT_1);
    expect(p.first).toEqual({ at: T0 + 900, decoded: 0 });
    expect(p.last).toEqual({ at: T0 + 4400, decoded: 19 });
    // Without VAD lines (an engine that plans no utterances), from the decoder's start.
    expect(readJobLog(ATTEMPT_1.filter((l) => !l.includes('VAD'))).first).toEqual({ at: T0 + 400, decoded: 0 });
    // A VAD line after decoding began (the diarizer's own pass) does not restart the count.
    expect(readJobLog([...ATTEMPT_1, at(5000, 'engine: VAD silero: speech 27.0 s of 30.0 s in 3 utterance(s)')]).first).toEqual({ at: T0 + 900, decoded: 0 });
  });

  it('counts an utterance without words (no segment, no progress line) as decoded', () => {
    const p = readJobLog(ATTEMPT_1.slice(0, 8));
    expect(p.last).toEqual({ at: T0 + 2400, decoded: 12 });
  });

  it('starts afresh on a new attempt: the last attempt\'s text and figures are dropped', () => {
    const p = readJobLog([...ATTEMPT_1, at(5000, 'attempt 1 failed (WORKER_CRASHED: gone); queued again'), at(6000, 'attempt 2 started (isolation process, engine pocketsphinx)')]);
    expect(p).toEqual({ first: undefined, last: undefined, total: 30, segments: [] });
    const q = readJobLog([...ATTEMPT_1, at(6000, 'attempt 2 started (isolation process, engine pocketsphinx)'), at(6500, 'decoding in process 4343'), at(7000, 'segment 0.3-9.8 s: he hoped')]);
    expect(q.segments).toEqual([{ start: 0.3, end: 9.8, text: 'he hoped' }]);
    expect(q.first).toEqual({ at: T0 + 6500, decoded: 0 });
  });

  it('without the decoder\'s start (a long log\'s first lines are gone) counts from the first figure it has', () => {
    const p = readJobLog(ATTEMPT_1.slice(6));
    expect(p.first).toEqual({ at: T0 + 1401, decoded: 10 });
  });

  it('ignores lines that only look alike: engine text, other engines\' utterance lines, lines without a time', () => {
    const p = readJobLog([
      at(0, 'decoding in process 1'),
      at(100, 'engine: segment 1.0-2.0 s: not the runner\'s'),
      at(200, 'engine: utterance 3: a token split a character (language de); decoded again without word times'),
      at(300, 'engine: azure: utterance 1/2 (0.0-5.0 s): Success'),
      'segment 1.0-2.0 s: no time',
      at(400, 'progress 50% (5.0 of x s)'),
    ]);
    expect(p.segments).toEqual([]);
    expect(p.last).toEqual({ at: T0, decoded: 0 });
    expect(p.total).toBeUndefined();
  });
});

describe('time left', () => {
  const first = { at: T0, decoded: 0 };

  it('is the rest of the audio at the rate so far, counting down from the last figure', () => {
    // 10 s of audio in 4 s: 20 s left take 8 s; 3 s after the figure, 5 s remain.
    const last = { at: T0 + 4000, decoded: 10 };
    expect(timeLeft(first, last, 30, last.at)).toBeCloseTo(8);
    expect(timeLeft(first, last, 30, last.at + 3000)).toBeCloseTo(5);
  });

  it('is never negative, and a server clock behind the last figure does not add time', () => {
    const last = { at: T0 + 4000, decoded: 10 };
    expect(timeLeft(first, last, 30, last.at + 60_000)).toBe(0);
    expect(timeLeft(first, last, 30, last.at - 5000)).toBeCloseTo(8);
  });

  it('is unknown until decoding has gone on long enough and made headway', () => {
    expect(timeLeft(undefined, undefined, 30, T0)).toBeUndefined();
    expect(timeLeft(first, first, 30, T0 + 10_000)).toBeUndefined();
    expect(timeLeft(first, { at: T0 + MIN_ESTIMATE_MS - 1, decoded: 10 }, 30, T0 + MIN_ESTIMATE_MS)).toBeUndefined();
    expect(timeLeft(first, { at: T0 + 60_000, decoded: 0 }, 30, T0 + 60_000)).toBeUndefined();
    expect(timeLeft(first, { at: T0 + MIN_ESTIMATE_MS, decoded: 10 }, 30, T0 + MIN_ESTIMATE_MS)).toBeCloseTo(6);
  });

  it('gives no absurd figure: none beyond a day, none for an unknown length', () => {
    // 0.01 s of audio in an hour: 10 h of audio would take 410 years.
    expect(timeLeft(first, { at: T0 + 3_600_000, decoded: 0.01 }, 36_000, T0 + 3_600_000)).toBeUndefined();
    expect(timeLeft(first, { at: T0 + 4000, decoded: 10 }, 0, T0 + 4000)).toBeUndefined();
    expect(timeLeft(first, { at: T0 + 4000, decoded: 10 }, Number.NaN, T0 + 4000)).toBeUndefined();
  });
});

describe('progress in words', () => {
  const NB = '\u00a0';

  it('rounds a time left to a step its precision deserves', () => {
    expect([0, 9.9, 10, 12.4, 44, 57.4, 57.5, 89, 91, 3569, 3600, 4800, 7230].map(roughly)).toEqual([
      'a few seconds',
      'a few seconds',
      `about 10${NB}s`,
      `about 10${NB}s`,
      `about 45${NB}s`,
      `about 55${NB}s`,
      `about 1${NB}min`,
      `about 1${NB}min`,
      `about 2${NB}min`,
      `about 59${NB}min`,
      `about 1${NB}h`,
      `about 1${NB}h 20${NB}min`,
      `about 2${NB}h 1${NB}min`,
    ]);
  });

  it('says how much of the audio is decoded, floored as the page\'s other durations', () => {
    expect(decodedOf(22.96, 47.9)).toBe(`22 of 47${NB}s decoded`);
    expect(decodedOf(-0.1, 47.9)).toBe(`0 of 47${NB}s decoded`);
    expect(decodedOf(723.5, 3720)).toBe('12:03 of 1:02:00 decoded');
  });
});
