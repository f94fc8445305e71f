import { describe, expect, it } from 'vitest';
import { PcmResampler } from './resample.js';
import { concatPcm } from './pcm.js';

function tone(hz: number, rate: number, seconds: number, peak = 10_000): Int16Array {
  const out = new Int16Array(Math.round(rate * seconds));
  for (let i = 0; i < out.length; i++) out[i] = Math.round(peak * Math.sin((2 * Math.PI * hz * i) / rate));
  return out;
}

/** RMS of the middle half (away from the filter's start-up). */
function rms(pcm: Int16Array): number {
  const from = Math.floor(pcm.length / 4);
  const to = Math.floor((3 * pcm.length) / 4);
  let sum = 0;
  for (let i = from; i < to; i++) sum += pcm[i]! ** 2;
  return Math.sqrt(sum / (to - from));
}

/** Sign changes: twice a clean tone's cycles. */
function signChanges(pcm: Int16Array): number {
  let n = 0;
  for (let i = 1; i < pcm.length; i++) if ((pcm[i - 1]! < 0) !== (pcm[i]! < 0)) n++;
  return n;
}

/** The frequency of a clean tone, from the zero crossings of its middle half. */
function frequency(pcm: Int16Array, rate: number): number {
  const middle = pcm.subarray(Math.floor(pcm.length / 4), Math.floor((3 * pcm.length) / 4));
  return (signChanges(middle) / 2) * (rate / middle.length);
}


describe('PcmResampler', () => {
  it('turns one second at 24 kHz into one second at 16 kHz, a 1 kHz tone still 1 kHz at the same level', () => {
    const out = new PcmResampler(24_000, 16_000).push(tone(1000, 24_000, 1));
    expect(out.length).toBe(16_000);
    expect(frequency(out, 16_000)).toBeCloseTo(1000, -1);
    expect(rms(out) / (10_000 / Math.SQRT2)).toBeCloseTo(1, 2);
  });

  it('removes what 16 kHz cannot hold: a 10 kHz tone at 24 kHz comes out 60 dB down instead of folding to 6 kHz', () => {
    const out = new PcmResampler(24_000, 16_000).push(tone(10_000, 24_000, 1));
    expect(rms(out)).toBeLessThan((10_000 / Math.SQRT2) / 1000);
  });

  it('gives the same samples however the input is cut into pushes (1 sample, odd sizes, one go)', () => {
    const input = tone(440, 24_000, 0.5);
    const whole = new PcmResampler(24_000, 16_000).push(input);
    for (const size of [1, 7, 480, 1001]) {
      const r = new PcmResampler(24_000, 16_000);
      const parts: Int16Array[] = [];
      for (let at = 0; at < input.length; at += size) parts.push(r.push(input.subarray(at, at + size)));
      expect(concatPcm(parts)).toEqual(whole);
    }
  });

  it('says how many samples the next push gives', () => {
    const r = new PcmResampler(24_000, 16_000);
    for (const n of [1, 2, 3, 5, 480]) {
      const expected = r.outputLength(n);
      expect(r.push(new Int16Array(n)).length).toBe(expected);
    }
  });

  it('doubles 8 kHz to 16 kHz with the tone intact, and passes 16 kHz through untouched', () => {
    const up = new PcmResampler(8000, 16_000).push(tone(500, 8000, 1));
    expect(up.length).toBe(16_000);
    expect(frequency(up, 16_000)).toBeCloseTo(500, -1);
    expect(rms(up) / (10_000 / Math.SQRT2)).toBeCloseTo(1, 2);
    const same = tone(300, 16_000, 0.1);
    expect(new PcmResampler(16_000, 16_000).push(same)).toEqual(same);
  });

  it('clips instead of wrapping around at full scale (the filter overshoots a full-scale square wave)', () => {
    // 100 Hz: 120 samples per half period at 24 kHz, 80 at 16 kHz.
    const square = new Int16Array(24_000).map((_, i) => (Math.floor(i / 120) % 2 === 0 ? 32767 : -32768));
    const out = new PcmResampler(24_000, 16_000).push(square);
    expect(Math.max(...out)).toBe(32767);
    expect(Math.min(...out)).toBe(-32768);
    // One sign change per edge once the filter has filled (its first 2.5 ms ring about zero):
    // a wrapped sample would flip the sign inside a plateau.
    expect(signChanges(out.subarray(40))).toBe(signChanges(square));
  });
});
