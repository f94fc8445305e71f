import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { wavData } from '../../test/support/audio.js';
import { clip } from '../../test/support/corpus.js';
import { corpusDir } from '../../test/support/eval/index.js';
import { AppError } from '../errors.js';
import { concatPcm } from '../audio/pcm.js';
import { openSileroModel } from './silero.js';
import { loadDetector, speechRegions, type SpeechRegion, type VadSettings, type VoiceDetector } from './index.js';

const RATE = 16_000;
const SETTINGS: VadSettings = { kind: 'silero', threshold: 0.5, minSilenceMs: 1000, speechPadMs: 400, minSpeechMs: 250 };

function pcmOf(buf: Buffer): Int16Array {
  return new Int16Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
}

/** Seeded Gaussian noise of the given RMS (in sample units): the same every run. */
function noise(seconds: number, rms: number, seed = 7): Int16Array {
  let s = seed;
  const rnd = (): number => {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    return (s + 1) / 0x80000000;
  };
  return Int16Array.from({ length: Math.round(seconds * RATE) }, () => Math.round(Math.sqrt(-2 * Math.log(rnd())) * Math.cos(2 * Math.PI * rnd()) * rms));
}

/** Feeds `pcm` in chunks cycling through `sizes`, as a live stream would. */
async function chunked(detector: VoiceDetector, pcm: Int16Array, sizes: number[]): Promise<Float32Array> {
  const out: number[] = [];
  for (let at = 0, k = 0; at < pcm.length; k++) {
    const n = sizes[k % sizes.length]!;
    out.push(...(await detector.probabilities(pcm.subarray(at, at + n))));
    at += n;
  }
  return Float32Array.from(out);
}

function covered(regions: SpeechRegion[], from: number, to: number): number {
  let s = 0;
  for (const r of regions) s += Math.max(0, Math.min(to, r.end) - Math.max(from, r.start));
  return s / (to - from);
}

// A clip with 2 s of digital silence on each side: its spoken part is known to lie within [2, 2 + clip].
const speechClip = clip('1089-134686-0000');
const speech = pcmOf(wavData(speechClip.path));
const padded = concatPcm([new Int16Array(2 * RATE), speech, new Int16Array(2 * RATE)]);

describe.each(['silero', 'energy'] as const)('%s detector', (kind) => {
  it('finds the speech of a dev clip and not the silence around it', async () => {
    const detector = await loadDetector(kind);
    const probs = await detector.probabilities(padded);
    expect(probs.length).toBe(Math.floor(padded.length / 512));
    const regions = speechRegions(probs, detector.windowSamples, { ...SETTINGS, kind }, padded.length);
    expect(regions.length).toBeGreaterThan(0);
    // Most of the clip is speech (it has a few short pauses, kept inside regions)...
    expect(covered(regions, 2, 2 + speechClip.durationSeconds)).toBeGreaterThan(0.9);
    // ...and the digital silence is not, but for the padding.
    expect(regions[0]!.start).toBeGreaterThan(2 - 0.5);
    expect(regions.at(-1)!.end).toBeLessThan(2 + speechClip.durationSeconds + 0.5);
  });

  it('finds no speech in digital silence', async () => {
    const detector = await loadDetector(kind);
    const probs = await detector.probabilities(new Int16Array(3 * RATE));
    expect(speechRegions(probs, 512, { ...SETTINGS, kind }, 3 * RATE)).toEqual([]);
  });

  it('gives the same probabilities for audio fed whole or in odd chunk sizes, and again after reset', async () => {
    const detector = await loadDetector(kind);
    const whole = await detector.probabilities(padded);
    detector.reset();
    const parts = await chunked(detector, padded, [1000, 7, 4096]);
    expect(parts).toEqual(whole);
    // A reset in the middle of an audio forgets it entirely.
    detector.reset();
    await detector.probabilities(speech.subarray(0, 12_345));
    detector.reset();
    expect(await detector.probabilities(padded)).toEqual(whole);
  });
});

describe('silero detector', () => {
  const temp = mkdtempSync(join(tmpdir(), 'hark-vad-'));
  afterAll(() => rmSync(temp, { recursive: true, force: true }));

  it('finds no speech in steady low noise', async () => {
    const detector = await loadDetector('silero');
    for (const rms of [30, 300]) {
      detector.reset();
      const n = noise(5, rms);
      expect(speechRegions(await detector.probabilities(n), 512, SETTINGS, n.length)).toEqual([]);
    }
  });

  it('keeps each detector its own state while they share one session', async () => {
    const [a, b, alone] = await Promise.all([loadDetector('silero'), loadDetector('silero'), loadDetector('silero')]);
    const other = pcmOf(wavData(clip('1089-134686-0002').path));
    const expected = await alone.probabilities(padded);
    // Interleaved calls on the shared session, as two streams in one worker make them.
    const [pa] = await Promise.all([chunked(a, padded, [8000]), chunked(b, other, [3000])]);
    expect(pa).toEqual(expected);
  });

  it('keeps calls in order when the caller does not wait for each', async () => {
    const detector = await loadDetector('silero');
    const expected = await detector.probabilities(padded);
    detector.reset();
    const calls: Promise<Float32Array>[] = [];
    for (let at = 0; at < padded.length; at += 5000) calls.push(detector.probabilities(padded.subarray(at, at + 5000)));
    const got = (await Promise.all(calls)).flatMap((p) => [...p]);
    expect(Float32Array.from(got)).toEqual(expected);
  });

  it('refuses a model file it cannot read or does not know, naming its path', async () => {
    const missing = join(temp, 'none.onnx');
    const err = await openSileroModel(missing).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('ENGINE_NOT_READY');
    expect((err as AppError).message).toContain(missing);
    const other = join(temp, 'other.onnx');
    writeFileSync(other, 'not a model');
    await expect(openSileroModel(other)).rejects.toThrow(/other\.onnx is not the expected file \(sha256/);
  });

  it('finds the speech of a real meeting: missed + false alarm under 0.2 of speech time', async () => {
    // 32-bit float WAV, as published (meetings/README.md).
    const data = wavData(join(corpusDir(process.env), 'meetings', 'wav', 'dev00.wav'));
    const floats = new Float32Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.length));
    const pcm = Int16Array.from(floats, (x) => Math.max(-32768, Math.min(32767, Math.round(x * 32768))));
    const detector = await loadDetector('silero');
    const regions = speechRegions(await detector.probabilities(pcm), 512, SETTINGS, pcm.length);

    // Scored on 10 ms frames: speech is any reference speaker speaking (overlaps count once).
    const frames = Math.round(pcm.length / 160);
    const ref = new Uint8Array(frames);
    const hyp = new Uint8Array(frames);
    for (const line of readFileSync(join(corpusDir(process.env), 'meetings', 'reference.rttm'), 'utf8').split('\n')) {
      const f = line.trim().split(/\s+/);
      if (f[1] !== 'dev00') continue;
      const start = Number(f[3]);
      ref.fill(1, Math.round(start * 100), Math.min(frames, Math.round((start + Number(f[4])) * 100)));
    }
    for (const r of regions) hyp.fill(1, Math.round(r.start * 100), Math.round(r.end * 100));
    let speechFrames = 0;
    let errors = 0;
    for (let i = 0; i < frames; i++) {
      speechFrames += ref[i]!;
      if (ref[i] !== hyp[i]) errors++;
    }
    expect(speechFrames).toBeGreaterThan(1000);
    expect(errors / speechFrames).toBeLessThan(0.2);
  });
});
