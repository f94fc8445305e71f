import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { joinWavs, wavData } from '../../test/support/audio.js';
import { clip, devClips } from '../../test/support/corpus.js';
import { cutAtSilences, frameEnergies, type PcmAudio } from '../audio/index.js';
import { fileSpeechRegions, planUtterances, preloadVad, type VadSettings } from './index.js';
import { SileroDetector } from './silero.js';

const RATE = 16_000;
const SILERO: VadSettings = { kind: 'silero', threshold: 0.5, minSilenceMs: 1000, speechPadMs: 400, minSpeechMs: 250 };
const OFF: VadSettings = { ...SILERO, kind: 'off' };

const temp = mkdtempSync(join(tmpdir(), 'hark-vad-plan-'));
afterAll(() => rmSync(temp, { recursive: true, force: true }));

/** Raw 16 kHz s16le PCM in the temp dir, as decodeToPcm leaves it. */
function pcmFile(name: string, data: Buffer): PcmAudio {
  const path = join(temp, name);
  writeFileSync(path, data);
  return { path, samples: data.length / 2, durationSeconds: data.length / 2 / RATE };
}

/** Seeded Gaussian noise of the given RMS, as s16le bytes. */
function noise(seconds: number, rms: number, seed = 3): Buffer {
  let s = seed;
  const rnd = (): number => {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    return (s + 1) / 0x80000000;
  };
  const out = Int16Array.from({ length: Math.round(seconds * RATE) }, () => Math.round(Math.sqrt(-2 * Math.log(rnd())) * Math.cos(2 * Math.PI * rnd()) * rms));
  return Buffer.from(out.buffer);
}

/** RMS of the quietest tenth of a clip's 10 ms frames: the recording's own background level. */
function backgroundRms(data: Buffer): number {
  const pcm = new Int16Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.length));
  const frames: number[] = [];
  for (let f = 0; (f + 1) * 160 <= pcm.length; f++) {
    let sum = 0;
    for (let i = f * 160; i < (f + 1) * 160; i++) sum += pcm[i]! * pcm[i]!;
    frames.push(Math.sqrt(sum / 160));
  }
  frames.sort((a, b) => a - b);
  return frames[Math.floor(frames.length * 0.1)]!;
}

function coverage(ranges: { start: number; end: number }[], from: number, to: number): number {
  let s = 0;
  for (const r of ranges) s += Math.max(0, Math.min(to, r.end) - Math.max(from, r.start));
  return s / (to - from);
}

function expectWellFormed(ranges: { start: number; end: number }[], audio: PcmAudio, maxSeconds: number): void {
  for (const [i, r] of ranges.entries()) {
    expect(r.end).toBeGreaterThan(r.start);
    expect(r.end - r.start).toBeLessThanOrEqual(maxSeconds * RATE);
    expect(r.start % 160).toBe(0);
    if (r.end !== audio.samples) expect(r.end % 160).toBe(0);
    expect(r.end).toBeLessThanOrEqual(audio.samples);
    if (i > 0) expect(r.start).toBeGreaterThanOrEqual(ranges[i - 1]!.end);
  }
}

// All dev clips back to back: 265 s of read speech with the clips' own short pauses.
const joinedWav = join(temp, 'joined.wav');
joinWavs(
  devClips.map((c) => c.path),
  joinedWav,
);
const joined = pcmFile('joined.pcm', wavData(joinedWav));

describe('planUtterances', () => {
  it('with the VAD off, cuts exactly as the energy cutter did before the VAD, dropping nothing', async () => {
    const plan = await planUtterances(joined, OFF, { maxSeconds: 30 });
    // utterances.ts before the VAD, with UTTERANCE_MAX_SECONDS=30.
    const before = cutAtSilences(await frameEnergies(joined.path, joined.samples), { maxFrames: 3000, minFrames: 400, minSilenceFrames: 15, breakFrames: 50 });
    expect(plan.ranges).toEqual(before.map((r) => ({ start: r.start * 160, end: Math.min(joined.samples, r.end * 160) })));
    expect(plan.ranges.length).toBeGreaterThan(8);
    expect(plan.speechSeconds).toBe(plan.totalSeconds);
    expect(plan.totalSeconds).toBeCloseTo(joined.durationSeconds, 6);
  });

  it('drops a long noise gap between two clips and keeps the speech of both', async () => {
    const a = wavData(clip('1089-134686-0000').path);
    const b = wavData(clip('1089-134686-0002').path);
    const gap = noise(4, backgroundRms(a));
    const audio = pcmFile('gap.pcm', Buffer.concat([a, gap, b]));
    const aEnd = a.length / 2;
    const bStart = aEnd + gap.length / 2;

    const plan = await planUtterances(audio, SILERO, { maxSeconds: 30 });
    expectWellFormed(plan.ranges, audio, 30);
    const middle = (aEnd + bStart) / 2;
    expect(plan.ranges.some((r) => r.start <= middle && middle < r.end)).toBe(false);
    // The gap is gone but for the padding (0.4 s on each side of it).
    expect(coverage(plan.ranges, aEnd, bStart)).toBeLessThan(0.3);
    expect(coverage(plan.ranges, 0, aEnd)).toBeGreaterThan(0.95);
    expect(coverage(plan.ranges, bStart, audio.samples)).toBeGreaterThan(0.95);
    expect(plan.speechSeconds).toBeLessThan(audio.durationSeconds - 2.5);

    // With the VAD off the same file reaches the engine whole.
    const off = await planUtterances(audio, OFF, { maxSeconds: 30 });
    expect(coverage(off.ranges, 0, audio.samples)).toBe(1);
  });

  it('splits long speech into pieces no longer than the maximum, dropping nothing more', async () => {
    const short = await planUtterances(joined, SILERO, { maxSeconds: 5 });
    const long = await planUtterances(joined, SILERO, { maxSeconds: 1000 });
    expectWellFormed(short.ranges, joined, 5);
    expect(short.ranges.length).toBeGreaterThan(265 / 5);
    // The same audio reaches the engine, only cut more often.
    const covered = (rs: { start: number; end: number }[]): number => rs.reduce((n, r) => n + r.end - r.start, 0);
    expect(covered(short.ranges)).toBe(covered(long.ranges));
    expect(short.speechSeconds).toBe(long.speechSeconds);
    // Read speech back to back is nearly all speech.
    expect(covered(long.ranges) / joined.samples).toBeGreaterThan(0.9);
  });

  it('plans nothing for a file with no speech, silent or noisy', async () => {
    for (const [name, data] of [['silence.pcm', Buffer.alloc(5 * RATE * 2)], ['noise.pcm', noise(5, 200)]] as const) {
      const plan = await planUtterances(pcmFile(name, data), SILERO, { maxSeconds: 30 });
      expect(plan).toEqual({ ranges: [], speechSeconds: 0, totalSeconds: 5 });
    }
  });

  it('stops when its signal is aborted', async () => {
    const controller = new AbortController();
    controller.abort(new Error('cancelled by the test'));
    await expect(planUtterances(joined, SILERO, { maxSeconds: 30, signal: controller.signal })).rejects.toThrow('cancelled by the test');
  });

  it('plans a 20-minute file in flat memory', async () => {
    // Reading the file whole would add 38 MB (measured: 46 MB growth against 14 MB in 30 s chunks).
    // Speech and noise in turn, written piece by piece so the test itself holds little.
    const path = join(temp, 'long.pcm');
    writeFileSync(path, Buffer.alloc(0));
    const speech = wavData(clip('1089-134686-0002').path);
    const pause = noise(3, 100);
    let bytes = 0;
    while (bytes < 20 * 60 * RATE * 2) {
      appendFileSync(path, speech);
      appendFileSync(path, pause);
      bytes += speech.length + pause.length;
    }
    const audio: PcmAudio = { path, samples: bytes / 2, durationSeconds: bytes / 2 / RATE };
    await preloadVad('silero');

    const before = process.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    try {
      const plan = await planUtterances(audio, SILERO, { maxSeconds: 30 });
      peak = Math.max(peak, process.memoryUsage().rss);
      // Each 6.6 s clip is its own utterance: the 3 s pauses are dropped.
      expect(plan.ranges.length).toBeGreaterThan(100);
      expect(plan.speechSeconds / plan.totalSeconds).toBeLessThan(0.85);
    } finally {
      clearInterval(sampler);
    }
    expect(peak - before).toBeLessThan(30 * 1024 * 1024);
  });
});

describe('fileSpeechRegions', () => {
  it('runs the detector once per decoded file, whatever settings ask for its regions', async () => {
    const data = Buffer.concat([wavData(clip('1089-134686-0000').path), Buffer.alloc(3 * RATE * 2), wavData(clip('1089-134686-0002').path)]);
    const audio = pcmFile('once.pcm', data);
    const windows = vi.spyOn(SileroDetector.prototype, 'probabilities');
    try {
      // The engine plans its utterances, then the diarizer asks for the regions (pipeline.ts).
      const plan = await planUtterances(audio, SILERO, { maxSeconds: 30 });
      const calls = windows.mock.calls.length;
      expect(calls).toBeGreaterThan(0);
      const regions = await fileSpeechRegions(audio, SILERO);
      const strict = await fileSpeechRegions(audio, { ...SILERO, threshold: 0.99, speechPadMs: 0 });
      expect(windows.mock.calls.length).toBe(calls);
      expect(regions.reduce((n, r) => n + r.end - r.start, 0)).toBeCloseTo(plan.speechSeconds, 6);
      // Other settings over the same probabilities: less speech, not the same regions.
      expect(strict.reduce((n, r) => n + r.end - r.start, 0)).toBeLessThan(plan.speechSeconds);

      // Another request's decode of the same bytes is another file: computed afresh.
      await fileSpeechRegions(pcmFile('once-again.pcm', data), SILERO);
      expect(windows.mock.calls.length).toBe(2 * calls);
    } finally {
      windows.mockRestore();
    }
  });
});
