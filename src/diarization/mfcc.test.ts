import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fileMfcc, MFCC_DIMS, MfccExtractor } from './mfcc.js';

const RATE = 16_000;
const temp = mkdtempSync(join(tmpdir(), 'hark-mfcc-'));
afterAll(() => rmSync(temp, { recursive: true, force: true }));

/** A tone of `hz` with a little seeded noise, as s16 samples. */
function tone(seconds: number, hz: number): Int16Array {
  let s = 7;
  return Int16Array.from({ length: Math.round(seconds * RATE) }, (_, i) => {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    return Math.round(8000 * Math.sin((2 * Math.PI * hz * i) / RATE) + (s / 0x7fffffff - 0.5) * 200);
  });
}

describe('MFCC front end', () => {
  it('gives the same frames however the audio is cut into chunks', () => {
    const pcm = tone(1.234, 440);
    const whole = new MfccExtractor();
    const a = [whole.push(pcm), whole.flush(pcm.length, Math.floor((pcm.length - 280) / 160) + 1)];
    const pieces = new MfccExtractor();
    const b: Float32Array[] = [];
    let frames = 0;
    for (let at = 0; at < pcm.length; at += 777) {
      const out = pieces.push(pcm.subarray(at, at + 777));
      frames += out.length / MFCC_DIMS;
      b.push(out);
    }
    b.push(pieces.flush(pcm.length, frames));
    const flat = (parts: Float32Array[]): number[] => parts.flatMap((p) => Array.from(p));
    expect(flat(b)).toEqual(flat(a));
    expect(flat(b).length).toBe(Math.ceil(pcm.length / 160) * MFCC_DIMS);
  });

  it('reads a PCM file into one frame per 10 ms, and tells two tones apart', async () => {
    const pcm = new Int16Array([...tone(1, 300), ...tone(1, 3000)]);
    const path = join(temp, 'tones.pcm');
    writeFileSync(path, Buffer.from(pcm.buffer));
    const f = await fileMfcc({ path, samples: pcm.length, durationSeconds: 2 });
    expect(f.frames).toBe(200);
    const frame = (i: number): number[] => Array.from(f.data.subarray(i * MFCC_DIMS, (i + 1) * MFCC_DIMS));
    const distance = (x: number[], y: number[]): number => Math.hypot(...x.map((v, i) => v - y[i]!));
    // Two frames of one tone are near each other, and far from the other tone's.
    expect(distance(frame(30), frame(60))).toBeLessThan(distance(frame(30), frame(150)) / 5);
  });
});
