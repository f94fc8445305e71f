import { describe, expect, it } from 'vitest';
import { SpeechSegmenter, speechRegions, type SpeechEvent, type SpeechRegion, type VadSettings } from './index.js';

/** 512-sample windows at 16 kHz: 32 ms each. */
const W = 512;
const SEC = W / 16_000;
const SETTINGS: VadSettings = { kind: 'silero', threshold: 0.5, minSilenceMs: 1000, speechPadMs: 400, minSpeechMs: 250 };
/** The same with no padding and no minimum speech, so the hysteresis itself shows. */
const BARE: VadSettings = { ...SETTINGS, minSilenceMs: 0, speechPadMs: 0, minSpeechMs: 0 };

/** Probabilities from runs of [value, windows]. */
function probs(runs: [number, number][]): Float32Array {
  return Float32Array.from(runs.flatMap(([p, n]) => Array<number>(n).fill(p)));
}

function regions(p: Float32Array, settings: VadSettings, total = p.length * W): SpeechRegion[] {
  return speechRegions(p, W, settings, total);
}

/** Regions as [start, end] in windows, for readable expectations. */
function inWindows(r: SpeechRegion[]): [number, number][] {
  return r.map((x) => [Math.round(x.start / SEC), Math.round(x.end / SEC)]);
}

/** A segmenter's events, fed in chunks of the given sizes and flushed, as regions. */
function segmented(p: Float32Array, settings: VadSettings, sizes: number[], total = p.length * W): { regions: SpeechRegion[]; events: SpeechEvent[] } {
  const seg = new SpeechSegmenter(settings, W);
  const events: SpeechEvent[] = [];
  for (let at = 0, k = 0; at < p.length; k++) {
    const n = sizes[k % sizes.length]!;
    events.push(...seg.push(p.subarray(at, at + n)));
    at += n;
  }
  events.push(...seg.flush(total));
  expect(seg.speaking).toBe(false);
  const out: SpeechRegion[] = [];
  for (let i = 0; i < events.length; i += 2) {
    expect(events[i]!.type).toBe('speech_started');
    expect(events[i + 1]?.type).toBe('speech_stopped');
    out.push({ start: events[i]!.time, end: events[i + 1]!.time });
  }
  return { regions: out, events };
}

describe('speechRegions', () => {
  it('starts speech at the threshold and ends it only below threshold - 0.15', () => {
    // 0.4 is under the threshold but above 0.35: it neither starts speech nor ends it.
    const p = probs([[0.1, 10], [0.4, 5], [0.6, 20], [0.4, 30], [0.1, 10], [0.4, 10]]);
    expect(inWindows(regions(p, BARE))).toEqual([[15, 65]]);
    // With a threshold of 0.3, 0.4 is speech throughout.
    expect(inWindows(regions(p, { ...BARE, threshold: 0.3 }))).toEqual([[10, 65], [75, 85]]);
  });

  it('drops speech no longer than the minimum', () => {
    // 7 windows = 224 ms, 8 windows = 256 ms (min 250 ms), with long pauses between.
    const p = probs([[0, 50], [0.9, 7], [0, 50], [0.9, 8], [0, 50]]);
    expect(inWindows(regions(p, { ...SETTINGS, speechPadMs: 0 }))).toEqual([[107, 115]]);
  });

  it('keeps pauses shorter than the minimum silence inside a region, and splits at longer ones', () => {
    // 1000 ms = 31.25 windows, confirmed by a window of non-speech at or past it: a pause of 32 windows stays inside, one of 33 splits.
    const p = probs([[0, 10], [0.9, 20], [0, 32], [0.9, 20], [0, 33], [0.9, 20], [0, 40]]);
    expect(inWindows(regions(p, { ...SETTINGS, speechPadMs: 0 }))).toEqual([[10, 82], [115, 135]]);
  });

  it('pads regions, within the audio, and splits overlapping pads at the middle of the pause', () => {
    const p = probs([[0.9, 20], [0, 100], [0.9, 20], [0, 5]]);
    const pad = { ...SETTINGS, speechPadMs: 320 }; // 10 windows
    expect(inWindows(regions(p, pad))).toEqual([[0, 30], [110, 145]]);
    // With a 200 ms minimum silence the 12-window pause splits, and its middle is the border.
    const close = probs([[0, 30], [0.9, 20], [0, 12], [0.9, 20], [0, 40]]);
    expect(inWindows(regions(close, { ...pad, minSilenceMs: 200 }))).toEqual([[20, 56], [56, 92]]);
  });

  it('runs speech still going at the end of the audio to its end', () => {
    const p = probs([[0, 40], [0.9, 20]]);
    expect(regions(p, SETTINGS, p.length * W + 100).at(-1)!.end).toBeCloseTo((p.length * W + 100) / 16_000, 6);
  });

  it('finds nothing in silence, or in speech shorter than the minimum at the end', () => {
    expect(regions(probs([[0.1, 100]]), SETTINGS)).toEqual([]);
    expect(regions(probs([[0.1, 100], [0.9, 5]]), SETTINGS)).toEqual([]);
    expect(regions(new Float32Array(0), SETTINGS, 0)).toEqual([]);
  });
});

describe('SpeechSegmenter', () => {
  /** Seeded speech-like probabilities: runs of speech and pauses of random lengths, with noise. */
  function randomProbs(seed: number, windows: number): Float32Array {
    let s = seed;
    const rnd = (): number => {
      s = (s * 1103515245 + 12345) & 0x7fffffff;
      return s / 0x7fffffff;
    };
    const out = new Float32Array(windows);
    let speaking = false;
    for (let i = 0; i < windows; ) {
      const n = 1 + Math.floor(rnd() * (speaking ? 80 : 60));
      for (let k = 0; k < n && i < windows; k++, i++) out[i] = speaking ? 0.3 + 0.7 * rnd() : 0.45 * rnd();
      speaking = !speaking;
    }
    return out;
  }

  it('announces exactly the regions speechRegions finds, in any chunk sizes', () => {
    const variants: VadSettings[] = [SETTINGS, { ...SETTINGS, minSilenceMs: 500, speechPadMs: 100, minSpeechMs: 100 }, { ...SETTINGS, minSilenceMs: 300, speechPadMs: 0, threshold: 0.6 }];
    let total = 0;
    for (const settings of variants) {
      for (const seed of [1, 2, 3, 4, 5]) {
        const p = randomProbs(seed, 3000);
        const expected = regions(p, settings, p.length * W + 300);
        total += expected.length;
        for (const sizes of [[1], [7, 100, 3], [3000]]) expect(segmented(p, settings, sizes, p.length * W + 300).regions).toEqual(expected);
      }
    }
    // The random audio did exercise many regions.
    expect(total).toBeGreaterThan(50);
  });

  it('starts speech only once it outlasts the minimum, and stops it after the minimum silence', () => {
    const seg = new SpeechSegmenter({ ...SETTINGS, speechPadMs: 0 }, W);
    // A 5-window burst (160 ms) followed by a long pause: never speech.
    expect(seg.push(probs([[0, 20], [0.9, 5], [0, 60]]))).toEqual([]);
    // 8 windows = 256 ms of speech: started after the 8th window, at its first.
    expect(seg.push(probs([[0.9, 7]]))).toEqual([]);
    expect(seg.push(probs([[0.9, 1]]))).toEqual([{ type: 'speech_started', time: 85 * SEC }]);
    expect(seg.speaking).toBe(true);
    // Stopped once 1000 ms (31.25 windows) of pause have passed: at the 33rd window under 0.35, at the pause's start.
    expect(seg.push(probs([[0, 32]]))).toEqual([]);
    expect(seg.push(probs([[0, 1]]))).toEqual([{ type: 'speech_stopped', time: 93 * SEC }]);
    expect(seg.speaking).toBe(false);
  });

  it('never announces an end beyond the audio received, nor a start before the last end, when pads overlap', () => {
    const settings = { ...SETTINGS, minSilenceMs: 200, speechPadMs: 500 };
    for (const seed of [11, 12, 13]) {
      const p = randomProbs(seed, 2000);
      const seg = new SpeechSegmenter(settings, W);
      let last = 0;
      let received = 0;
      for (let at = 0; at < p.length; at += 10) {
        received = Math.min(p.length, at + 10) * SEC;
        for (const e of seg.push(p.subarray(at, at + 10))) {
          expect(e.time).toBeGreaterThanOrEqual(last);
          expect(e.time).toBeLessThanOrEqual(received + 1e-9);
          last = e.time;
        }
      }
    }
  });

  it('ends speech going on at the end of the stream on flush', () => {
    const seg = new SpeechSegmenter(SETTINGS, W);
    expect(seg.push(probs([[0, 40], [0.9, 40]]))).toEqual([{ type: 'speech_started', time: 40 * SEC - 0.4 }]);
    expect(seg.flush()).toEqual([{ type: 'speech_stopped', time: 80 * SEC }]);
    expect(seg.flush()).toEqual([]);
  });
});
