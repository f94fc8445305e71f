import { describe, expect, it } from 'vitest';
import { addDerScores, scoreDiarization, type DerScore, type DerTotals } from '../bench/lib/der.js';
import { loadMeetings } from '../bench/lib/meetings.js';
import type { SpeakerTurn } from '../src/diarization/types.js';

/** Turns from `[start, end, speaker]` triples. */
function turns(...rows: [number, number, string][]): SpeakerTurn[] {
  return rows.map(([start, end, speaker]) => ({ start, end, speaker }));
}

/** Seconds to the frame (10 ms); der to 1e-6. */
function expectParts(score: DerTotals, want: { reference: number; missed: number; falseAlarm: number; confusion: number }): void {
  expect(score.referenceSeconds).toBeCloseTo(want.reference, 6);
  expect(score.missed).toBeCloseTo(want.missed, 6);
  expect(score.falseAlarm).toBeCloseTo(want.falseAlarm, 6);
  expect(score.confusion).toBeCloseTo(want.confusion, 6);
  expect(score.der).toBeCloseTo((want.missed + want.falseAlarm + want.confusion) / want.reference, 6);
}

const TEN_SECONDS = [{ start: 0, end: 10 }];

describe('scoreDiarization', () => {
  it('scores a perfect hypothesis 0, whatever its labels, and maps each label to its speaker', () => {
    const ref = turns([0, 4, 'A'], [3, 7, 'B'], [8, 9, 'C']);
    const score = scoreDiarization(ref, turns([0, 4, 'x'], [3, 7, 'y'], [8, 9, 'z']), TEN_SECONDS);
    expectParts(score, { reference: 9, missed: 0, falseAlarm: 0, confusion: 0 });
    expect(score.mapping).toEqual({ x: 'A', y: 'B', z: 'C' });
    expect([score.referenceSpeakers, score.hypothesisSpeakers]).toEqual([3, 3]);
  });

  it('finds a permutation of the reference labels: labels A and B swapped score 0', () => {
    const ref = turns([0, 3, 'A'], [3, 5, 'B'], [5, 9, 'A']);
    const score = scoreDiarization(ref, turns([0, 3, 'B'], [3, 5, 'A'], [5, 9, 'B']), TEN_SECONDS);
    expect(score.der).toBe(0);
    expect(score.mapping).toEqual({ B: 'A', A: 'B' });
  });

  it("counts the smaller speaker's time as confusion when everything is one speaker", () => {
    const score = scoreDiarization(turns([0, 6, 'A'], [6, 8, 'B']), turns([0, 8, 'S']), TEN_SECONDS);
    expectParts(score, { reference: 8, missed: 0, falseAlarm: 0, confusion: 2 });
    expect(score.mapping).toEqual({ S: 'A' });
  });

  it('counts missed speech and false alarms apart from confusion', () => {
    // x starts 1 s early and stops 1 s early on A, y stops 1 s early on B, z talks over silence.
    const ref = turns([1, 5, 'A'], [6, 8, 'B']);
    const score = scoreDiarization(ref, turns([0, 4, 'x'], [6, 7, 'y'], [9, 10, 'z']), TEN_SECONDS);
    expectParts(score, { reference: 6, missed: 2, falseAlarm: 2, confusion: 0 });
    expect(score.mapping).toEqual({ x: 'A', y: 'B' });
  });

  it('counts a second hypothesis speaker over one reference speaker as false alarm, not confusion', () => {
    const score = scoreDiarization(turns([0, 4, 'A']), turns([0, 4, 'x'], [2, 4, 'y']), TEN_SECONDS);
    expectParts(score, { reference: 4, missed: 0, falseAlarm: 2, confusion: 0 });
  });

  it('gives pyannote’s answer for a file without reference speech: 0 when the hypothesis is silent too, else 1', () => {
    expect(scoreDiarization([], [], TEN_SECONDS).der).toBe(0);
    const score = scoreDiarization([], turns([2, 3, 'x']), TEN_SECONDS);
    expect([score.referenceSeconds, score.falseAlarm, score.der]).toEqual([0, 1, 1]);
  });

  it('scores overlapped speech twice in full scoring, and not at all with skipOverlap', () => {
    // A and B overlap over 2-4 s; the hypothesis has one speaker per instant.
    const ref = turns([0, 4, 'A'], [2, 6, 'B']);
    const single = turns([0, 3, 'x'], [3, 6, 'y']);
    expectParts(scoreDiarization(ref, single, TEN_SECONDS), { reference: 8, missed: 2, falseAlarm: 0, confusion: 0 });
    expectParts(scoreDiarization(ref, turns([0, 4, 'x'], [2, 6, 'y']), TEN_SECONDS), { reference: 8, missed: 0, falseAlarm: 0, confusion: 0 });
    // Only A's 0-2 s and B's 4-6 s are left: right for `single`, 1 s of A confused for `late`.
    expectParts(scoreDiarization(ref, single, TEN_SECONDS, { skipOverlap: true }), { reference: 4, missed: 0, falseAlarm: 0, confusion: 0 });
    const late = turns([0, 1, 'x'], [1, 6, 'y']);
    expectParts(scoreDiarization(ref, late, TEN_SECONDS, { skipOverlap: true }), { reference: 4, missed: 0, falseAlarm: 0, confusion: 1 });
  });

  it('leaves the frames within the collar of a reference boundary unscored', () => {
    // The change from A to B is heard 0.5 s late.
    const ref = turns([0, 5, 'A'], [5, 10, 'B']);
    const hyp = turns([0, 5.5, 'x'], [5.5, 10, 'y']);
    expectParts(scoreDiarization(ref, hyp, TEN_SECONDS), { reference: 10, missed: 0, falseAlarm: 0, confusion: 0.5 });
    // Collars 0-0.25, 4.75-5.25 and 9.75-10 go; 5.25-5.5 is still wrong.
    expectParts(scoreDiarization(ref, hyp, TEN_SECONDS, { collar: 0.25 }), { reference: 9, missed: 0, falseAlarm: 0, confusion: 0.25 });
    expectParts(scoreDiarization(ref, hyp, TEN_SECONDS, { collar: 0.5 }), { reference: 8, missed: 0, falseAlarm: 0, confusion: 0 });
  });

  it('counts a hypothesis speaker left without a reference speaker as confusion', () => {
    const score = scoreDiarization(turns([0, 10, 'A']), turns([0, 6, 'x'], [6, 10, 'y']), TEN_SECONDS);
    expectParts(score, { reference: 10, missed: 0, falseAlarm: 0, confusion: 4 });
    expect(score.mapping).toEqual({ x: 'A' });
    expect([score.referenceSpeakers, score.hypothesisSpeakers]).toEqual([1, 2]);
  });

  it('scores only frames inside the UEM, and maps speakers on them alone', () => {
    // Over the whole file x shares 4 s with A and with B; inside 3-8 s it shares 4 s with B and 1 s with A.
    const ref = turns([0, 4, 'A'], [4, 8, 'B']);
    const score = scoreDiarization(ref, turns([0, 8, 'x'], [8, 10, 'z']), [{ start: 3, end: 8 }]);
    expectParts(score, { reference: 5, missed: 0, falseAlarm: 0, confusion: 1 });
    expect(score.mapping).toEqual({ x: 'B' });
  });

  it('takes the best one-to-one mapping where a greedy pick of the largest overlap would not', () => {
    // Co-occurrence: h1-r1 5 s, h1-r2 4 s, h2-r1 4 s. Greedy h1->r1 leaves 8 s confused; the best leaves 5.
    const score = scoreDiarization(turns([0, 9, 'r1'], [9, 13, 'r2']), turns([0, 4, 'h2'], [4, 13, 'h1']), [{ start: 0, end: 13 }]);
    expect(score.mapping).toEqual({ h1: 'r2', h2: 'r1' });
    expectParts(score, { reference: 13, missed: 0, falseAlarm: 0, confusion: 5 });
  });
});

describe('DER on ../shared/corpus/meetings', () => {
  const meetings = loadMeetings();
  const oneSpeaker = (m: (typeof meetings)[number]): SpeakerTurn[] => m.speakerTurns.map((t) => ({ ...t, speaker: 'S' }));
  const rounded = (t: DerTotals) => ({
    der: t.der.toFixed(3),
    missed: (t.missed / t.referenceSeconds).toFixed(3),
    falseAlarm: (t.falseAlarm / t.referenceSeconds).toFixed(3),
    confusion: (t.confusion / t.referenceSeconds).toFixed(3),
  });

  it("reproduces the README's baseline: the reference speech as one speaker scores 0.314 full, 0.224 with a 0.25 s collar", () => {
    const full = meetings.map((m) => scoreDiarization(m.speakerTurns, oneSpeaker(m), m.scored));
    expect(rounded(addDerScores(full))).toEqual({ der: '0.314', missed: '0.184', falseAlarm: '0.000', confusion: '0.130' });
    const collar = meetings.map((m) => scoreDiarization(m.speakerTurns, oneSpeaker(m), m.scored, { collar: 0.25 }));
    expect(rounded(addDerScores(collar))).toEqual({ der: '0.224', missed: '0.125', falseAlarm: '0.000', confusion: '0.099' });
    expect(full.map((s: DerScore) => [s.referenceSpeakers, s.hypothesisSpeakers])).toEqual(
      [3, 4, 1, 2, 3, 4, 3, 4, 4, 3, 2, 2].map((n) => [n, 1]),
    );
  });

  it('scores the reference against itself 0 under every scoring', () => {
    for (const options of [{}, { collar: 0.25 }, { skipOverlap: true }]) {
      const total = addDerScores(meetings.map((m) => scoreDiarization(m.speakerTurns, m.speakerTurns, m.scored, options)));
      expect(total.referenceSeconds).toBeGreaterThan(100);
      expect(total.der).toBe(0);
    }
  });
});
