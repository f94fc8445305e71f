import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wavData } from '../../test/support/audio.js';
import { clip } from '../../test/support/corpus.js';
import type { PcmAudio } from '../audio/index.js';
import { loadDetector, preloadVad, speechRegions, type SpeechRegion, type VadSettings } from '../vad/index.js';
import { LocalDiarizer } from './local.js';
import type { Diarization, SpeakerTurn } from './types.js';

const RATE = 16_000;
/** The server's default VAD settings. */
const SILERO: VadSettings = { kind: 'silero', threshold: 0.5, minSilenceMs: 1000, speechPadMs: 400, minSpeechMs: 250 };
// LibriSpeech speaker 1089 is a man, 1221 a woman (SPEAKERS.TXT).
const MAN = ['1089-134686-0000', '1089-134686-0002', '1089-134686-0004', '1089-134686-0005'];
const WOMAN = '1221-135766-0002';

const temp = mkdtempSync(join(tmpdir(), 'hark-diarize-'));
afterAll(() => rmSync(temp, { recursive: true, force: true }));
beforeAll(() => preloadVad('silero'));

/** Clips joined into a raw PCM file, with where each clip starts (seconds). */
function joined(name: string, ids: readonly string[]): { audio: PcmAudio; starts: number[] } {
  const parts = ids.map((id) => wavData(clip(id).path));
  const starts: number[] = [];
  let at = 0;
  for (const p of parts) {
    starts.push(at / 2 / RATE);
    at += p.length;
  }
  const path = join(temp, `${name}.pcm`);
  writeFileSync(path, Buffer.concat(parts));
  return { audio: { path, samples: at / 2, durationSeconds: at / 2 / RATE }, starts };
}

/** Silero's speech regions of a PCM file at the server's defaults. */
async function regionsOf(audio: PcmAudio): Promise<SpeechRegion[]> {
  const detector = await loadDetector('silero');
  const bytes = readFileSync(audio.path);
  const pcm = new Int16Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
  const probs = await detector.probabilities(pcm);
  return speechRegions(probs, detector.windowSamples, SILERO, audio.samples);
}


/** The speaker holding most of [from, to). */
function speakerOver(turns: readonly SpeakerTurn[], from: number, to: number): string | undefined {
  const held = new Map<string, number>();
  for (const t of turns) held.set(t.speaker, (held.get(t.speaker) ?? 0) + Math.max(0, Math.min(to, t.end) - Math.max(from, t.start)));
  return [...held.entries()].sort((a, b) => b[1] - a[1])[0]?.[0];
}

function expectWellFormed(d: Diarization, regions: readonly SpeechRegion[]): void {
  const letters = [...new Set(d.turns.map((t) => t.speaker))];
  expect(letters).toEqual(Array.from({ length: d.speakers }, (_, i) => String.fromCharCode(65 + i)));
  for (const [i, t] of d.turns.entries()) {
    expect(t.end).toBeGreaterThan(t.start);
    if (i > 0) expect(t.start).toBeGreaterThanOrEqual(d.turns[i - 1]!.end);
    expect(regions.some((r) => t.start >= r.start - 1e-9 && t.end <= r.end + 1e-9)).toBe(true);
  }
}

describe('LocalDiarizer', () => {
  const diarizer = new LocalDiarizer();

  it('hears a man then a woman as two speakers and puts the change at the join', async () => {
    const { audio, starts } = joined('man-woman', [MAN[0]!, WOMAN]);
    const regions = await regionsOf(audio);
    const d = await diarizer.diarize(audio, regions, {});
    expectWellFormed(d, regions);
    expect(d.speakers).toBe(2);
    const change = d.turns.find((t) => t.speaker === 'B')!.start;
    expect(Math.abs(change - starts[1]!)).toBeLessThan(0.5);
  });

  it('gives both turns of one speaker the same label around another speaker (A B A)', async () => {
    const { audio, starts } = joined('aba', [MAN[0]!, WOMAN, MAN[1]!]);
    const regions = await regionsOf(audio);
    const d = await diarizer.diarize(audio, regions, {});
    expectWellFormed(d, regions);
    expect(d.speakers).toBe(2);
    const first = speakerOver(d.turns, 0, starts[1]!);
    const middle = speakerOver(d.turns, starts[1]!, starts[2]!);
    const last = speakerOver(d.turns, starts[2]!, audio.durationSeconds);
    expect([first, middle, last]).toEqual(['A', 'B', 'A']);
  });

  it('does not split one speaker over several recordings', async () => {
    const { audio } = joined('one-man', MAN);
    const regions = await regionsOf(audio);
    const d = await diarizer.diarize(audio, regions, {});
    expectWellFormed(d, regions);
    expect(d.speakers).toBe(1);
    expect(d.turns.map((t) => t.speaker)).toEqual(d.turns.map(() => 'A'));
  });

  it('gives exactly the number of speakers the caller asks for', async () => {
    const { audio } = joined('man-woman-count', [MAN[0]!, WOMAN]);
    const regions = await regionsOf(audio);
    const three = await diarizer.diarize(audio, regions, { numSpeakers: 3 });
    expectWellFormed(three, regions);
    expect(three.speakers).toBe(3);
    const one = await diarizer.diarize(audio, regions, { numSpeakers: 1 });
    expectWellFormed(one, regions);
    expect(one.speakers).toBe(1);
    const atMostOne = await diarizer.diarize(audio, regions, { maxSpeakers: 1 });
    expect(atMostOne.speakers).toBe(1);
  });

  it('answers no turns for no speech, without reading the audio', async () => {
    const missing: PcmAudio = { path: join(temp, 'absent.pcm'), samples: RATE, durationSeconds: 1 };
    expect(await diarizer.diarize(missing, [], {})).toEqual({ turns: [], speakers: 0 });
  });

  it('stops with an AbortError when the request is cancelled', async () => {
    const { audio } = joined('abort', [MAN[0]!, WOMAN]);
    const regions = await regionsOf(audio);
    const controller = new AbortController();
    controller.abort();
    await expect(diarizer.diarize(audio, regions, { signal: controller.signal })).rejects.toMatchObject({ name: 'AbortError' });
  });
});
