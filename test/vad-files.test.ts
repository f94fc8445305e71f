import { createReadStream, mkdtempSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wavData, wavHeader } from './support/audio.js';
import { clip } from './support/corpus.js';
import { postAudio } from './support/http.js';
import { getJob, submitJob, waitFinished } from './support/jobs.js';
import { startTestServer, type TestServer } from './support/server.js';

/**
 * Issue 20, items 2 and 4: a file's non-speech never reaches the engine, times
 * stay file times, and the VAD is chosen per request (hark's `vad*` fields,
 * OpenAI's `chunking_strategy`, a job's stored settings).
 */

const RATE = 16_000;
/** Silero reads 512-sample windows: the joined file keeps each clip on the window grid it has alone. */
const WINDOW = 512;
const a = clip('1089-134686-0004'); // 5.2 s
const b = clip('1089-134686-0001'); // 3.3 s

const dir = mkdtempSync(join(tmpdir(), 'hark-vad-files-'));
const files = {
  a: join(dir, 'a.wav'),
  b: join(dir, 'b.wav'),
  joined: join(dir, 'joined.wav'),
  /** Clip B between 8 s of silence and 8 s of low noise: little to decode, much to drop. */
  padded: join(dir, 'padded.wav'),
  silence: join(dir, 'silence.wav'),
  noise: join(dir, 'noise.wav'),
};
/** Where each clip starts in the joined file, in seconds. */
let offsetA = 0;
let offsetB = 0;
let joinedSeconds = 0;
let paddedSeconds = 0;

/** Gaussian-like noise from a fixed seed (the same file every run), at `rms` of full scale 32768. */
function noise(samples: number, rms: number, seed: number): Buffer {
  let s = seed >>> 0;
  const next = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const out = Buffer.alloc(samples * 2);
  for (let i = 0; i < samples; i++) {
    const g = (next() + next() + next() + next() - 2) * Math.sqrt(3);
    out.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(g * rms))), i * 2);
  }
  return out;
}

/**
 * A siren: a tone sweeping 200-800 Hz twice a second, over noise, at `level`.
 * Not speech, but voiced enough that a decoder fed it hears words.
 */
function siren(samples: number, level: number): Buffer {
  const hiss = noise(samples, 0.1 * level, 3);
  const out = Buffer.alloc(samples * 2);
  for (let i = 0; i < samples; i++) {
    const hz = 200 + 600 * ((i % (RATE / 2)) / (RATE / 2));
    const v = level * Math.sin((2 * Math.PI * hz * i) / RATE) + hiss.readInt16LE(i * 2);
    out.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(v))), i * 2);
  }
  return out;
}

function writeWav(path: string, pcm: Buffer): void {
  writeFileSync(path, Buffer.concat([wavHeader(pcm.length), pcm]));
}

beforeAll(() => {
  const pa = wavData(a.path);
  const pb = wavData(b.path);
  writeWav(files.a, pa);
  writeWav(files.b, pb);
  // 8 s of digital silence, clip A, about 8 s of low noise (the corpus's own background is ~30 RMS), clip B.
  const lead = 8 * RATE;
  const afterA = lead + pa.length / 2;
  const gap = 8 * RATE + ((WINDOW - (afterA % WINDOW)) % WINDOW);
  writeWav(files.joined, Buffer.concat([Buffer.alloc(lead * 2), pa, noise(gap, 30, 7), pb]));
  offsetA = lead / RATE;
  offsetB = (afterA + gap) / RATE;
  joinedSeconds = offsetB + pb.length / 2 / RATE;
  writeWav(files.padded, Buffer.concat([Buffer.alloc(lead * 2), pb, noise(8 * RATE, 30, 5)]));
  paddedSeconds = 16 + pb.length / 2 / RATE;
  writeWav(files.silence, Buffer.alloc(10 * RATE * 2));
  // Loud, and voiced enough that a level threshold takes it for speech and the decoder hears words in it.
  writeWav(files.noise, siren(10 * RATE, 3000));
});

afterAll(async () => rm(dir, { recursive: true, force: true }));

interface Answer {
  text: string;
  duration_seconds: number;
  speech_seconds?: number;
  segments: { start: number; end: number; text: string }[];
  words: { start: number; end: number; word: string }[];
  isolation: string;
}

interface ErrorBody {
  error: { code: string; message: string };
}

async function transcribe(server: TestServer, path: string, route = '/transcriptions/sync', fields: Record<string, string> = {}): Promise<Answer> {
  const res = await postAudio(`${server.url}${route}`, path, fields);
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json()) as Answer;
}

type TimedWord = Answer['words'][number];

/** The longest common subsequence of two word lists, as pairs of the words both say (dynamic programming). */
function alignWords(a: readonly TimedWord[], b: readonly TimedWord[]): [TimedWord, TimedWord][] {
  const len = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) len[i]![j] = a[i]!.word === b[j]!.word ? len[i + 1]![j + 1]! + 1 : Math.max(len[i + 1]![j]!, len[i]![j + 1]!);
  }
  const pairs: [TimedWord, TimedWord][] = [];
  for (let i = 0, j = 0; i < a.length && j < b.length; ) {
    if (a[i]!.word === b[j]!.word) pairs.push([a[i++]!, b[j++]!]);
    else if (len[i + 1]![j]! >= len[i]![j + 1]!) i++;
    else j++;
  }
  return pairs;
}

/** What a transcript says, without the request's own facts (id, pid, timing). */
function said(t: Answer) {
  return { text: t.text, segments: t.segments, words: t.words, duration_seconds: t.duration_seconds, speech_seconds: t.speech_seconds };
}

describe('files decode speech, not noise', () => {
  let server: TestServer;
  beforeAll(async () => {
    // Both modes: the in-process engine, and one worker (which loads the VAD before it says ready).
    server = await startTestServer({ ENABLE_PROCESS_ISOLATED: 'true', WORKER_COUNT: '1' });
  });
  afterAll(async () => server?.stop());

  it.each(['/transcriptions/sync', '/transcriptions/process-isolated'])(
    '%s: two clips joined with 8 s of silence and 8 s of noise give the clips\' words, at the clips\' times plus their offsets',
    async (route) => {
      const alone = [await transcribe(server, files.a, route), await transcribe(server, files.b, route)];
      const joined = await transcribe(server, files.joined, route);
      expect(joined.isolation).toBe(route.endsWith('sync') ? 'in-process' : 'process');
      expect(joined.duration_seconds).toBeCloseTo(joinedSeconds, 2);

      const expected = [
        ...alone[0]!.words.map((w) => ({ ...w, start: w.start + offsetA, end: w.end + offsetA })),
        ...alone[1]!.words.map((w) => ({ ...w, start: w.start + offsetB, end: w.end + offsetB })),
      ];
      // The decoder hears each clip with a little of its neighbourhood (the VAD's padding, the gap's
      // noise) and may say a word more or less than alone; every word both say sits at the same time.
      const pairs = alignWords(joined.words, expected);
      expect(joined.words.length).toBeGreaterThan(12);
      expect(pairs.length, `${joined.text} | ${expected.map((w) => w.word).join(' ')}`).toBeGreaterThanOrEqual(Math.max(joined.words.length, expected.length) - 3);
      // A word's start is compared where both agree on the word before it, its end where both agree on
      // the word after it (a word said by one only takes time from its neighbour).
      for (const [k, [w, e]] of pairs.entries()) {
        const [i, j] = [joined.words.indexOf(w), expected.indexOf(e)];
        const prev = pairs[k - 1];
        const next = pairs[k + 1];
        if (k === 0 ? i === 0 && j === 0 : joined.words.indexOf(prev![0]) === i - 1 && expected.indexOf(prev![1]) === j - 1) {
          expect(Math.abs(w.start - e.start), `start of "${w.word}" (#${i})`).toBeLessThanOrEqual(0.1);
        }
        if (next === undefined ? i === joined.words.length - 1 && j === expected.length - 1 : joined.words.indexOf(next[0]) === i + 1 && expected.indexOf(next[1]) === j + 1) {
          expect(Math.abs(w.end - e.end), `end of "${w.word}" (#${i})`).toBeLessThanOrEqual(0.1);
        }
      }
      // Nothing is heard in the silence before A nor in the noise between the clips.
      expect(joined.segments.every((s) => (s.start >= offsetA - 0.5 && s.end <= offsetA + a.durationSeconds + 0.5) || s.start >= offsetB - 0.5)).toBe(true);
      // 16 s of the 24.5 s are non-speech, and they are not decoded.
      const clips = a.durationSeconds + b.durationSeconds;
      expect(joined.speech_seconds).toBeGreaterThan(0.8 * clips);
      expect(joined.speech_seconds).toBeLessThan(clips + 2);
      expect(joined.speech_seconds).toBeLessThan(0.6 * joined.duration_seconds);
    },
  );

  it.each([
    ['silence', '/transcriptions/sync'],
    ['silence', '/transcriptions/process-isolated'],
    ['noise', '/transcriptions/sync'],
    ['noise', '/transcriptions/process-isolated'],
  ] as const)('a file of nothing but %s (%s) answers 200 with empty text and no segments', async (kind, route) => {
    const t = await transcribe(server, files[kind], route);
    expect(t).toMatchObject({ text: '', segments: [], words: [], speech_seconds: 0 });
    expect(t.duration_seconds).toBeCloseTo(10, 2);
  });

  it('on /v1/audio/transcriptions too: verbose_json of pure noise is empty, and says no speech was found', async () => {
    const res = await postAudio(`${server.url}/v1/audio/transcriptions`, files.noise, { model: 'whisper-1', response_format: 'verbose_json' });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ text: '', segments: [], duration: 10, speech_seconds: 0 });
  });

  it('vad=off decodes everything, as before the VAD: the same answer as a server whose VAD is off', async () => {
    const off = await startTestServer({ VAD: 'off' });
    try {
      const before = await transcribe(off, files.padded);
      const asked = await transcribe(server, files.padded, '/transcriptions/sync', { vad: 'off' });
      expect(said(asked)).toEqual(said(before));
      expect(asked.speech_seconds).toBe(asked.duration_seconds);
      // With the VAD off the siren reaches the decoder, which makes words of it.
      const noisy = await transcribe(server, files.noise, '/transcriptions/sync', { vad: 'off' });
      expect(noisy.speech_seconds).toBe(noisy.duration_seconds);
      expect(noisy.words.length).toBeGreaterThan(0);
    } finally {
      await off.stop();
    }
  });

  it('hark\'s vad_* fields tune the detector: wider padding sends more audio, word times unchanged', async () => {
    const alone = await transcribe(server, files.b);
    const tight = await transcribe(server, files.padded, '/transcriptions/sync', { vad_speech_pad_ms: '0' });
    const wide = await transcribe(server, files.padded, '/transcriptions/sync', { vad_speech_pad_ms: '2000' });
    expect(wide.speech_seconds! - tight.speech_seconds!).toBeGreaterThan(3);
    // Both place the speech where it is in the file (B starts 8 s in).
    for (const t of [tight, wide]) expect(Math.abs(t.words[0]!.start - (8 + alone.words[0]!.start))).toBeLessThan(0.15);
    expect(wide.duration_seconds).toBe(tight.duration_seconds);
    const energy = await transcribe(server, files.noise, '/transcriptions/sync', { vad: 'energy' });
    expect(energy.speech_seconds).toBeGreaterThan(0);
  });

  it.each([
    [{ vad: 'neural' }, 'vad'],
    [{ vad_threshold: '1.5' }, 'vad_threshold'],
    [{ vad_min_silence_ms: 'long' }, 'vad_min_silence_ms'],
    [{ vad_speech_pad_ms: '-5' }, 'vad_speech_pad_ms'],
  ])('a bad VAD field %j is a 400 naming it', async (fields, name) => {
    const res = await postAudio(`${server.url}/transcriptions/sync`, files.b, fields);
    expect(res.status).toBe(400);
    const body = (await res.json()) as ErrorBody;
    expect(body.error.code).toBe('INVALID_REQUEST');
    expect(body.error.message).toContain(name);
  });

  describe('chunking_strategy on /v1/audio/transcriptions', () => {
    let client: OpenAI;
    beforeAll(() => {
      client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'not-needed', maxRetries: 0 });
    });

    type Verbose = Awaited<ReturnType<typeof verbose>>;
    const verbose = (chunking_strategy: OpenAI.Audio.TranscriptionCreateParams['chunking_strategy']) =>
      client.audio.transcriptions.create({
        file: createReadStream(files.padded),
        model: 'whisper-1',
        response_format: 'verbose_json',
        timestamp_granularities: ['word'],
        ...(chunking_strategy === undefined ? {} : { chunking_strategy }),
      }) as Promise<OpenAI.Audio.TranscriptionVerbose & { speech_seconds?: number }>;

    it('server_vad from the official client (bracketed form fields) changes what is decoded; auto is the server\'s', async () => {
      const server_ = await verbose(undefined);
      const auto = await verbose('auto');
      const padded = await verbose({ type: 'server_vad', prefix_padding_ms: 2000, silence_duration_ms: 500 });
      const strict = await verbose({ type: 'server_vad', threshold: 0.95 });
      const words = (t: Verbose) => (t.words ?? []).map((w) => w.word);
      expect(auto.text).toBe(server_.text);
      expect(auto.speech_seconds).toBe(server_.speech_seconds);
      expect(padded.speech_seconds! - server_.speech_seconds!).toBeGreaterThan(2);
      // A speech probability of 0.95 to start keeps only the clearest speech.
      expect(strict.speech_seconds!).toBeLessThan(server_.speech_seconds!);
      expect(words(server_).length).toBeGreaterThan(5);
      for (const t of [server_, auto, padded, strict]) expect(t.duration).toBeCloseTo(paddedSeconds, 2);
    });

    it('takes chunking_strategy as a JSON string too', async () => {
      const form = (value: string) => postAudio(`${server.url}/v1/audio/transcriptions`, files.padded, { model: 'whisper-1', response_format: 'verbose_json', chunking_strategy: value });
      const res = await form('{"type":"server_vad","prefix_padding_ms":0}');
      expect(res.status).toBe(200);
      const tight = (await res.json()) as { speech_seconds: number };
      const wide = (await (await form('{"type":"server_vad","prefix_padding_ms":2000}')).json()) as { speech_seconds: number };
      expect(wide.speech_seconds - tight.speech_seconds).toBeGreaterThan(3);
    });

    it.each([
      ['{"type":"client_vad"}', 'chunking_strategy.type'],
      ['{"type":"server_vad","threshold":2}', 'chunking_strategy.threshold'],
      ['{"type":"server_vad","silence_ms":300}', 'silence_ms'],
      ['sometimes', 'chunking_strategy'],
    ])('refuses chunking_strategy=%s with 400 INVALID_REQUEST', async (value, named) => {
      const res = await postAudio(`${server.url}/v1/audio/transcriptions`, files.b, { model: 'whisper-1', chunking_strategy: value });
      expect(res.status).toBe(400);
      const body = (await res.json()) as ErrorBody;
      expect(body.error.code).toBe('INVALID_REQUEST');
      expect(body.error.message).toContain(named);
    });

    it('refuses a bad server_vad from the official client with its BadRequestError', async () => {
      const err = await verbose({ type: 'server_vad', silence_duration_ms: 20 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.BadRequestError);
      expect((err as { code: string }).code).toBe('INVALID_REQUEST');
      expect((err as Error).message).toContain('silence_duration_ms');
    });
  });

  describe('jobs', () => {
    it('stores a job\'s VAD settings, shows them, and runs with them', async () => {
      const off = await submitJob(server.url, files.padded, { vad: 'off', isolation: 'process' });
      const tuned = await submitJob(server.url, files.padded, { vad_threshold: '0.7', vad_speech_pad_ms: '100', isolation: 'in-process' });
      const shownOff = await getJob(server.url, off.job_id);
      expect(shownOff.vad).toMatchObject({ kind: 'off' });
      expect((await getJob(server.url, tuned.job_id)).vad).toEqual({
        kind: server.config.VAD,
        threshold: 0.7,
        min_silence_ms: server.config.VAD_MIN_SILENCE_MS,
        speech_pad_ms: 100,
        min_speech_ms: server.config.VAD_MIN_SPEECH_MS,
      });
      for (const id of [off.job_id, tuned.job_id]) expect((await waitFinished(server.url, id)).status).toBe('completed');
      const result = async (id: string) => (await (await fetch(`${server.url}/api/v1/jobs/${id}/result`)).json()) as Answer;
      const offResult = await result(off.job_id);
      expect(offResult.speech_seconds).toBe(offResult.duration_seconds);
      expect((await result(tuned.job_id)).speech_seconds).toBeLessThan(0.4 * paddedSeconds);
      const list = (await (await fetch(`${server.url}/api/v1/jobs`)).json()) as { jobs: { id: string; vad: { kind: string } | null }[] };
      expect(list.jobs.find((j) => j.id === off.job_id)?.vad?.kind).toBe('off');
      // Its log says what it ran with.
      const logs = (await (await fetch(`${server.url}/api/v1/jobs/${off.job_id}/logs`)).json()) as { lines: string[] };
      expect(logs.lines.some((l) => l.includes('VAD off'))).toBe(true);
    });

    it('refuses a job with a bad VAD field before storing it', async () => {
      const res = await postAudio(`${server.url}/api/v1/jobs`, files.b, { vad_min_silence_ms: '5' });
      expect(res.status).toBe(400);
      expect(((await res.json()) as ErrorBody).error.message).toContain('vad_min_silence_ms');
    });
  });
});
