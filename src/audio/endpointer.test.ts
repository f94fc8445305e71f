import { describe, expect, it } from 'vitest';
import { wavData } from '../../test/support/audio.js';
import { corpusDir, loadClips } from '../../test/support/eval/index.js';
import { Endpointer, type EndpointEvent } from './endpointer.js';

const RATE = 16_000;

/** A deterministic pseudo-random generator (tests must not flake). */
function lcg(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1_664_525 + 1_013_904_223) >>> 0;
    return s / 2 ** 32;
  };
}

type Piece = { tone: number; seconds: number } | { silence: number; noise?: number };

/** Tones (440 Hz, peak `tone`) and pauses (zeros, or uniform noise of peak `noise`). */
function synth(pieces: readonly Piece[], seed = 1): Int16Array {
  const rand = lcg(seed);
  const total = pieces.reduce((n, p) => n + Math.round(('tone' in p ? p.seconds : p.silence) * RATE), 0);
  const out = new Int16Array(total);
  let at = 0;
  for (const p of pieces) {
    const n = Math.round(('tone' in p ? p.seconds : p.silence) * RATE);
    for (let i = 0; i < n; i++) {
      const noise = 'tone' in p ? 0 : (p.noise ?? 0);
      const v = 'tone' in p ? p.tone * Math.sin((2 * Math.PI * 440 * i) / RATE) : noise * (2 * rand() - 1);
      out[at + i] = Math.round(v);
    }
    at += n;
  }
  return out;
}

interface Utt {
  start: number;
  end: number;
  reason: string;
  samples: number;
}

/** Feeds `pcm` in `chunk`-sample pieces, then flushes; returns the utterances seen. */
function run(pcm: Int16Array, chunk: number, options = { silenceSeconds: 0.5, utteranceMaxSeconds: 30 }): Utt[] {
  const ep = new Endpointer(options);
  const events: EndpointEvent[] = [];
  for (let at = 0; at < pcm.length; at += chunk) events.push(...ep.push(pcm.subarray(at, at + chunk)));
  events.push(...ep.flush());
  const utts: Utt[] = [];
  let open: Utt | undefined;
  for (const ev of events) {
    if (ev.type === 'start') {
      expect(open).toBeUndefined();
      open = { start: ev.time, end: NaN, reason: '', samples: 0 };
    } else if (ev.type === 'audio') {
      expect(open).toBeDefined();
      open!.samples += ev.pcm.length;
    } else {
      expect(open).toBeDefined();
      utts.push({ ...open!, end: ev.time, reason: ev.reason });
      open = undefined;
    }
  }
  expect(open).toBeUndefined();
  return utts;
}

describe('Endpointer', () => {
  it('finds two tones between silences, keeping stream time through the leading silence', () => {
    const pcm = synth([{ silence: 1 }, { tone: 8000, seconds: 1 }, { silence: 1 }, { tone: 8000, seconds: 0.8 }, { silence: 1 }]);
    const utts = run(pcm, 1600);
    expect(utts).toHaveLength(2);
    const [a, b] = utts as [Utt, Utt];
    // 0.3 s of pre-roll before each onset; the pause that ends each one is part of it.
    expect(a.start).toBeCloseTo(0.7, 1);
    expect(a.end).toBeCloseTo(2.5, 1);
    expect(a.reason).toBe('silence');
    expect(b.start).toBeCloseTo(2.7, 1);
    expect(b.end).toBeCloseTo(4.3, 1);
    for (const u of utts) expect(u.samples).toBe(Math.round((u.end - u.start) * RATE));
  });

  it('gives the same utterances whatever the chunk size', () => {
    const pcm = synth([{ silence: 0.6, noise: 60 }, { tone: 6000, seconds: 0.7 }, { silence: 0.9, noise: 60 }, { tone: 6000, seconds: 1.2 }]);
    const whole = run(pcm, pcm.length);
    expect(whole).toHaveLength(2);
    expect(run(pcm, 37)).toEqual(whole);
    expect(run(pcm, 1600)).toEqual(whole);
  });

  it('adapts to a noisy room: speech 20 dB over loud noise is found, the noise alone is not', () => {
    // Noise of peak 600 (about 45 dB) throughout; the tone (peak 8000) sits on top of it.
    const noisy = synth([{ silence: 2, noise: 600 }, { tone: 8000, seconds: 1 }, { silence: 2, noise: 600 }], 7);
    const utts = run(noisy, 800);
    expect(utts).toHaveLength(1);
    expect(utts[0]!.start).toBeCloseTo(1.7, 1);
    expect(utts[0]!.end).toBeCloseTo(3.5, 1);
    expect(run(synth([{ silence: 5, noise: 600 }], 3), 800)).toEqual([]);
  });

  it('ignores a muted microphone (digital zeros) before a quiet room and speech', () => {
    const pcm = synth([{ silence: 0.5 }, { silence: 1.5, noise: 80 }, { tone: 4000, seconds: 1 }, { silence: 1, noise: 80 }], 5);
    const utts = run(pcm, 1600);
    expect(utts).toHaveLength(1);
    expect(utts[0]!.start).toBeCloseTo(1.7, 1);
    expect(utts[0]!.reason).toBe('silence');
  });

  it('cuts speech longer than utteranceMaxSeconds, and loses no audio at the cuts', () => {
    const pcm = synth([{ silence: 0.5 }, { tone: 8000, seconds: 5 }, { silence: 1 }]);
    const utts = run(pcm, 1600, { silenceSeconds: 0.5, utteranceMaxSeconds: 2 });
    expect(utts.map((u) => u.reason)).toEqual(['max', 'max', 'silence']);
    for (const u of utts) expect(u.end - u.start).toBeLessThanOrEqual(2.001);
    // Each utterance starts where the one before it was cut.
    expect(utts[1]!.start).toBe(utts[0]!.end);
    expect(utts[2]!.start).toBe(utts[1]!.end);
  });

  it('ends the open utterance at flush, with the last incomplete frame', () => {
    const pcm = synth([{ silence: 0.5 }, { tone: 8000, seconds: 1.0055 }]);
    const utts = run(pcm, 1000);
    expect(utts).toHaveLength(1);
    expect(utts[0]!.reason).toBe('flush');
    expect(utts[0]!.end).toBeCloseTo(pcm.length / RATE, 3);
    expect(utts[0]!.samples).toBe(pcm.length - Math.round(0.2 * RATE));
  });

  it('sends nothing for silence and quiet noise', () => {
    expect(run(synth([{ silence: 3 }]), 1600)).toEqual([]);
    expect(run(synth([{ silence: 3, noise: 100 }]), 1600)).toEqual([]);
  });

  it('keeps the speech of a real clip inside its utterances, and splits two clips at the pause between them', () => {
    const clips = loadClips('dev', corpusDir());
    const read = (id: string) => {
      const data = wavData(clips.find((c) => c.id === id)!.path);
      return new Int16Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.length));
    };
    const a = read('1089-134686-0000');
    const b = read('1089-134686-0001');
    const one = run(a, 1600);
    expect(one.length).toBeGreaterThanOrEqual(1);
    // The reading starts within 0.3 s and goes on to the end of the clip.
    expect(one[0]!.start).toBeLessThan(0.3);
    expect(one.at(-1)!.end).toBeGreaterThan(a.length / RATE - 0.6);

    const gap = new Int16Array(1.5 * RATE);
    const joined = new Int16Array(a.length + gap.length + b.length);
    joined.set(a, 0);
    joined.set(b, a.length + gap.length);
    const two = run(joined, 1600);
    const boundary = (a.length + gap.length) / RATE;
    expect(two.filter((u) => u.end <= boundary).length).toBeGreaterThanOrEqual(1);
    expect(two.filter((u) => u.start >= a.length / RATE).length).toBeGreaterThanOrEqual(1);
    expect(two.every((u) => u.end <= boundary || u.start >= a.length / RATE)).toBe(true);
  });
});
