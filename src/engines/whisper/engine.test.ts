import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { PcmAudio } from '../../audio/index.js';
import type { WhisperResult, WhisperSegment, WhisperTranscribeOptions } from './binding.js';
import { WhisperEngine } from './engine.js';

/**
 * whisper.cpp's test model says nothing (untrained weights), so the engine's
 * handling of what whisper.cpp returns is checked against a stand-in context
 * that answers the way the binding does: pieces of one token each when asked
 * for token timestamps with `maxLen: 1`, whole segments otherwise.
 */
const calls: WhisperTranscribeOptions[] = [];
let answer: (options: WhisperTranscribeOptions) => WhisperResult = () => ({ result: '', segments: [], isAborted: false });

vi.mock('./binding.js', () => ({
  loadWhisperBinding: () =>
    Promise.resolve({
      load: () =>
        Promise.resolve({
          context: {
            transcribeData: (_pcm: ArrayBuffer, options: WhisperTranscribeOptions = {}) => {
              calls.push(options);
              return { stop: () => Promise.resolve(), promise: Promise.resolve(answer(options)) };
            },
            release: () => Promise.resolve(),
          },
          warnings: [],
        }),
      release: () => Promise.resolve(),
    }),
}));

const RATE = 16_000;
/** A real ggml file: the engine checks the magic number before the binding sees it. */
const WHISPER_TEST_MODEL = join(import.meta.dirname, '../../../../shared/models/for-tests-ggml-tiny.en.bin');
const temp = mkdtempSync(join(tmpdir(), 'hark-whisper-engine-'));
afterAll(() => rmSync(temp, { recursive: true, force: true }));

/** Two loud 5 s stretches with 3 s of silence between: with 6 s utterances at most, the energy cutter cuts in the silence. */
function twoUtterances(): PcmAudio {
  const tone = (seconds: number) => Int16Array.from({ length: seconds * RATE }, (_, i) => Math.round(8000 * Math.sin((2 * Math.PI * 220 * i) / RATE)));
  const pcm = new Int16Array([...tone(5), ...new Int16Array(3 * RATE), ...tone(5)]);
  const path = join(temp, 'two.pcm');
  writeFileSync(path, Buffer.from(pcm.buffer));
  return { path, samples: pcm.length, durationSeconds: pcm.length / RATE };
}

const piece = (text: string, t0: number, t1: number): WhisperSegment => ({ text, t0, t1 });

async function engine(language = 'en'): Promise<WhisperEngine> {
  const e = new WhisperEngine({ modelPath: WHISPER_TEST_MODEL, modelSource: 'test', threads: 1, language, bestOf: 1, utteranceMaxSeconds: 6 });
  await e.load();
  return e;
}

beforeEach(() => {
  calls.length = 0;
});

describe('WhisperEngine word times', () => {
  it('asks for token timestamps and gives words and sentence segments in file time across utterances', async () => {
    answer = (o) => ({
      result: ' Hello world.',
      language: 'en',
      isAborted: false,
      segments: o.maxLen === 1 ? [piece(' Hello', 100, 500), piece(' wor', 600, 800), piece('ld', 800, 1000), piece('.', 1000, 1010)] : [piece(' Hello world.', 0, 1010)],
    });
    const t = await (await engine()).transcribe(twoUtterances(), {});
    expect(calls.length).toBeGreaterThanOrEqual(2);
    expect(calls.every((o) => o.tokenTimestamps === true && o.maxLen === 1)).toBe(true);
    expect(t.words.map((w) => w.word)).toEqual(Array.from({ length: calls.length }, () => ['Hello', 'world']).flat());
    // The second utterance's words are offset by where it starts in the file (after the silence).
    expect(t.words[0]).toEqual({ start: 0.1, end: 0.5, word: 'Hello' });
    const second = t.words[2]!;
    expect(second.start).toBeGreaterThan(5);
    expect(second.end - second.start).toBeCloseTo(0.4, 3);
    for (let i = 1; i < t.words.length; i++) expect(t.words[i]!.start).toBeGreaterThanOrEqual(t.words[i - 1]!.end);
    expect(t.segments.map((s) => s.text)).toEqual(Array.from({ length: calls.length }, () => 'Hello world.'));
    expect(t.text).toBe(t.segments.map((s) => s.text).join(' '));
  });

  it('decodes an utterance again in whole segments when a token splits a character, and keeps going by segment', async () => {
    answer = (o) => ({
      result: ' 你好',
      language: 'zh',
      isAborted: false,
      segments: o.maxLen === 1 ? [piece(' \uFFFD', 0, 100), piece('\uFFFD好', 100, 300)] : [piece(' 你好', 0, 300)],
    });
    const t = await (await engine('auto')).transcribe(twoUtterances(), {});
    // Utterance 1: by word, then again whole; the others whole at once (the language is known to be unspaced).
    const utterances = t.segments.length;
    expect(utterances).toBeGreaterThanOrEqual(2);
    expect(calls.map((o) => o.maxLen === 1)).toEqual([true, ...Array.from({ length: utterances }, () => false)]);
    expect(new Set(t.segments.map((s) => s.text))).toEqual(new Set(['你好']));
    expect(t.words).toEqual([]);
    expect(t.language).toBe('zh');
  });

  it('never asks for word pieces in a language written without spaces', async () => {
    answer = () => ({ result: ' こんにちは', language: 'ja', isAborted: false, segments: [piece(' こんにちは', 0, 900)] });
    const t = await (await engine('ja')).transcribe(twoUtterances(), {});
    expect(calls.length).toBeGreaterThanOrEqual(2);
    expect(calls.some((o) => o.maxLen !== undefined || o.tokenTimestamps !== undefined)).toBe(false);
    expect(t.segments[1]!.start).toBeGreaterThanOrEqual(5);
    expect(t.words).toEqual([]);
  });
});

describe('WhisperEngine translation', () => {
  it("asks whisper.cpp for its translate task only when the request's task is translate", async () => {
    answer = () => ({ result: ' Hello.', language: 'de', isAborted: false, segments: [piece(' Hello', 0, 400), piece('.', 400, 410)] });
    const e = await engine('auto');
    await e.transcribe(twoUtterances(), { task: 'translate' });
    expect(calls.length).toBeGreaterThanOrEqual(2);
    expect(calls.every((o) => o.translate === true)).toBe(true);
    calls.length = 0;
    await e.transcribe(twoUtterances(), {});
    expect(calls.some((o) => 'translate' in o)).toBe(false);
  });
});
