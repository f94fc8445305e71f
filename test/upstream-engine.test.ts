import { createReadStream, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { VERSION } from 'openai/version';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeToPcm, type PcmAudio } from '../src/audio/index.js';
import { loadConfig, type ConfigInput } from '../src/config/index.js';
import type { Engine, Transcript, TranscribeHooks } from '../src/engines/types.js';
import { upstreamEntry } from '../src/engines/upstream/index.js';
import { AppError } from '../src/errors.js';
import { planUtterances, type VadSettings } from '../src/vad/index.js';
import { joinWavs, wavData } from './support/audio.js';
import { clip, devClips } from './support/corpus.js';
import { startFakeUpstream, type FakeMode, type FakeUpstream } from './support/fake-upstream.js';
import { freePort } from './support/net.js';
import { startTestServer, type TestServer } from './support/server.js';

const KEY = 'sk-hark-test-9f8e7d6c5b4a-SECRET';
const shortClip = clip('1089-134686-0000');

let dir: string;
let hark: TestServer;
let fake: FakeUpstream;
let short: PcmAudio;
let long: PcmAudio;
let longWav: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hark-upstream-'));
  // hark as the upstream decodes each utterance as it is sent (its own VAD off), as a direct request of the whole file does.
  [hark, fake] = await Promise.all([startTestServer({ VAD: 'off' }), startFakeUpstream({ model: 'whisper-1' })]);
  short = await decodeToPcm(shortClip.path, join(dir, 'short.pcm'), { maxSeconds: 600 });
  // Enough dev clips for > 40 s: several utterances at the default 30 s limit.
  const parts: string[] = [];
  let seconds = 0;
  for (const c of devClips) {
    if (seconds > 40) break;
    parts.push(c.path);
    seconds += c.durationSeconds;
  }
  longWav = join(dir, 'long.wav');
  joinWavs(parts, longWav);
  long = await decodeToPcm(longWav, join(dir, 'long.pcm'), { maxSeconds: 600 });
});

afterAll(async () => {
  await Promise.all([hark?.stop(), fake?.close()]);
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

async function engineAt(baseUrl: string, env: ConfigInput = {}): Promise<Engine> {
  const engine = upstreamEntry.create(loadConfig({ env: { ENGINES: 'upstream', OUTBOUND_ALLOW: '127.0.0.1/32', UPSTREAM_BASE_URL: baseUrl, UPSTREAM_MAX_RETRIES: '0', ...env } }));
  await engine.load();
  return engine;
}

/** Runs a transcription, keeping what it reported along the way. */
async function run(engine: Engine, audio: PcmAudio, options: { prompt?: string; language?: string; vad?: VadSettings } = {}, signal?: AbortSignal) {
  const logs: string[] = [];
  const progress: number[] = [];
  const hooks: TranscribeHooks = { signal, onLog: (m) => logs.push(m), onProgress: (p) => progress.push(p.fraction) };
  const transcript = await engine.transcribe(audio, options, hooks);
  return { transcript, logs, progress };
}

async function failure(promise: Promise<unknown>): Promise<AppError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  return err as AppError;
}

function expectTiled(t: Transcript, audio: PcmAudio): void {
  expect(t.segments[0]?.start).toBe(0);
  for (let i = 1; i < t.segments.length; i++) expect(t.segments[i]!.start).toBeCloseTo(t.segments[i - 1]!.end, 2);
  expect(t.segments.at(-1)?.end).toBeCloseTo(audio.durationSeconds, 2);
}

describe('upstream engine against a real hark', () => {
  const direct = (path: string) =>
    new OpenAI({ baseURL: `${hark.url}/v1`, apiKey: 'unused', maxRetries: 0 }).audio.transcriptions.create({
      file: createReadStream(path),
      model: 'pocketsphinx',
      response_format: 'verbose_json',
      timestamp_granularities: ['word', 'segment'],
    });

  it('gives the text hark gives for the same clip', async () => {
    const engine = await engineAt(`${hark.url}/v1`, { UPSTREAM_MODEL: 'pocketsphinx' });
    const [{ transcript: t }, expected] = await Promise.all([run(engine, short), direct(shortClip.path)]);
    expect(expected.text.length).toBeGreaterThan(20);
    expect(t.text).toBe(expected.text);
    expect(t.language).toBe('en');
    expect(t.duration_seconds).toBeCloseTo(shortClip.durationSeconds, 1);
    expect(t.words.map((w) => w.word)).toEqual(expected.words?.map((w) => w.word));
    // hark sends avg_logprob = log(confidence); the engine reads it back.
    expect(t.confidence).toBeGreaterThan(0);
    expect(t.confidence).toBeLessThanOrEqual(1);
  });

  it('cuts a long clip into utterances and puts every word at its time in the file', async () => {
    const engine = await engineAt(`${hark.url}/v1`, { UPSTREAM_MODEL: 'pocketsphinx' });
    const { transcript: t, logs, progress } = await run(engine, long);
    const expected = await direct(longWav);
    expect(long.durationSeconds).toBeGreaterThan(40);
    expect(t.segments.length).toBeGreaterThanOrEqual(2);
    expect(progress.length).toBe(t.segments.length);
    expect(progress.at(-1)).toBe(1);
    expect(t.text).toBe(expected.text);
    expect(t.words.length).toBe(expected.words?.length);
    t.words.forEach((w, i) => {
      const e = expected.words![i]!;
      expect(w.word).toBe(e.word);
      expect(Math.abs(w.start - e.start)).toBeLessThan(0.02);
      expect(Math.abs(w.end - e.end)).toBeLessThan(0.02);
    });
    expect(t.words.at(-1)!.end).toBeGreaterThan(30);
    // The first line says what the VAD kept; the next how it is sent.
    expect(logs[0]).toMatch(/^VAD off: speech [\d.]+ s of [\d.]+ s in \d+ utterance\(s\)$/);
    expect(logs[1]).toMatch(/as \d+ utterance\(s\); each utterance's prompt is the previous one's text/);
  });
});

describe('upstream engine requests (local OpenAI-compatible fake)', () => {
  it('sends each utterance as a WAV with the model, verbose_json, both granularities and the key; offsets times', async () => {
    const engine = await engineAt(fake.baseUrl('ok'), { UPSTREAM_API_KEY: KEY, UTTERANCE_MAX_SECONDS: '5' });
    const before = fake.requests.length;
    const { transcript: t, logs } = await run(engine, short);
    const sent = fake.requests.slice(before);
    expect(fake.problems).toEqual([]);
    expect(sent.length).toBeGreaterThanOrEqual(2);
    for (const r of sent) {
      expect(r).toMatchObject({ model: 'whisper-1', responseFormat: 'verbose_json', authorization: `Bearer ${KEY}` });
      expect(r.granularities.sort()).toEqual(['segment', 'word']);
      expect(r.seconds).toBeLessThanOrEqual(5.01);
    }
    // All the audio went, once.
    expect(sent.reduce((s, r) => s + r.seconds, 0)).toBeCloseTo(short.durationSeconds, 1);
    expect(t.segments.length).toBe(sent.length);
    expectTiled(t, short);
    expect(t.words.length).toBe(2 * sent.length);
    expect(t.words[2]!.start).toBeCloseTo(t.segments[1]!.start, 3);
    expect(t.text).toBe(t.segments.map((s) => s.text).join(' '));
    expect(t.language).toBe('en');
    expect(t.confidence).toBeCloseTo(Math.exp(-0.25), 3);
    expect(logs.join('\n')).not.toContain(KEY);
  });

  it('UPSTREAM_DIARIZE: a request with diarize sends the whole file for diarized_json and keeps its speakers, lettered', async () => {
    const engine = await engineAt(fake.baseUrl('ok'), { UPSTREAM_DIARIZE: 'true', UTTERANCE_MAX_SECONDS: '5' });
    const before = fake.requests.length;
    const t = await engine.transcribe(long, { diarize: {}, language: 'en' });
    const sent = fake.requests.slice(before);
    expect(fake.problems).toEqual([]);
    // One request of the whole file (its speakers are named per request), OpenAI's diarizing form.
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ responseFormat: 'diarized_json', chunkingStrategy: 'auto', language: 'en', granularities: [] });
    expect(sent[0]!.seconds).toBeCloseTo(long.durationSeconds, 2);
    expect(t.speakers).toBe(2);
    expect(t.segments.map((x) => [x.text, x.speaker])).toEqual([['first half', 'A'], ['second half', 'B']]);
    expect(t.segments[1]!.start).toBeCloseTo(long.durationSeconds / 2, 2);
    expect(t.text).toBe('first half second half');

    // Without diarize, or without the setting, the usual verbose_json requests (hark's diarizer then labels them).
    await engine.transcribe(short, {});
    const plain = await engineAt(fake.baseUrl('ok'), { UTTERANCE_MAX_SECONDS: '5' });
    const unlabelled = await plain.transcribe(short, { diarize: {} });
    expect(fake.requests.slice(before + 1).every((r) => r.responseFormat === 'verbose_json')).toBe(true);
    expect(unlabelled.speakers).toBeUndefined();
  });

  it("passes the previous utterance's text as prompt only when the request has none", async () => {
    const engine = await engineAt(fake.baseUrl('ok'), { UTTERANCE_MAX_SECONDS: '5' });
    let before = fake.requests.length;
    const { transcript: t } = await run(engine, short, { language: 'en' });
    let sent = fake.requests.slice(before);
    expect(sent[0]!.prompt).toBeUndefined();
    sent.slice(1).forEach((r, i) => expect(r.prompt).toBe(t.segments[i]!.text));
    expect(sent.every((r) => r.language === 'en')).toBe(true);
    // No key configured: a placeholder goes, never an empty header.
    expect(sent[0]!.authorization).toMatch(/^Bearer \S+$/);

    before = fake.requests.length;
    const { logs } = await run(engine, short, { prompt: 'Stephen Dedalus' });
    sent = fake.requests.slice(before);
    expect(sent.map((r) => r.prompt)).toEqual(sent.map(() => 'Stephen Dedalus'));
    expect(logs[1]).toContain("the request's prompt");
  });

  it('with a VAD sends only the speech, one request per region, and places each answer at its region', async () => {
    const engine = await engineAt(fake.baseUrl('ok'));
    // The short clip twice, each after 8 s of silence: 16 s that never go upstream.
    const clipPcm = wavData(shortClip.path);
    const silence = Buffer.alloc(8 * 16_000 * 2);
    const pcm = Buffer.concat([silence, clipPcm, silence, clipPcm]);
    const gapped: PcmAudio = { path: join(dir, 'gapped.pcm'), samples: pcm.length / 2, durationSeconds: pcm.length / 2 / 16_000 };
    writeFileSync(gapped.path, pcm);
    const vad: VadSettings = { kind: 'silero', threshold: 0.5, minSilenceMs: 1000, speechPadMs: 400, minSpeechMs: 250 };
    const plan = await planUtterances(gapped, vad, { maxSeconds: 30 });
    expect(plan.ranges).toHaveLength(2);

    const before = fake.requests.length;
    const { transcript: t, logs } = await run(engine, gapped, { vad });
    const sent = fake.requests.slice(before);
    expect(sent.map((r) => r.seconds)).toEqual(plan.ranges.map((r) => expect.closeTo((r.end - r.start) / 16_000, 2)));
    expect(t.speech_seconds).toBeCloseTo(plan.speechSeconds, 2);
    expect(t.duration_seconds).toBeCloseTo(gapped.durationSeconds, 3);
    // The fake's segments tile each WAV it got: in the file, they tile each region.
    expect(t.segments).toHaveLength(2);
    for (const [i, r] of plan.ranges.entries()) {
      expect(t.segments[i]!.start).toBeCloseTo(r.start / 16_000, 2);
      expect(t.segments[i]!.end).toBeCloseTo(r.end / 16_000, 2);
    }
    expect(logs[0]).toMatch(/^VAD silero: speech [\d.]+ s of [\d.]+ s in 2 utterance\(s\)$/);
  });

  it('serves concurrent calls from one instance, each with its own result', async () => {
    const engine = await engineAt(fake.baseUrl('ok'));
    const results = await Promise.all([run(engine, long), run(engine, short), run(engine, long)]);
    const [a, b, c] = results.map((r) => r.transcript);
    expectTiled(a!, long);
    expectTiled(b!, short);
    expectTiled(c!, long);
    expect(b!.duration_seconds).toBeCloseTo(short.durationSeconds, 2);
  });

  it('works with a server that answers plain json: one segment per utterance, no words', async () => {
    const engine = await engineAt(fake.baseUrl('json-only'), { UTTERANCE_MAX_SECONDS: '5' });
    const { transcript: t } = await run(engine, short);
    expect(t.segments.length).toBeGreaterThanOrEqual(2);
    expectTiled(t, short);
    expect(t.segments.every((s) => /^utterance \d+$/.test(s.text))).toBe(true);
    expect(t.words).toEqual([]);
    expect(t.confidence).toBeNull();
  });

  it.each(['no-verbose', 'no-verbose-422'] as const)('%s: asks again in plain json once, then remembers', async (mode) => {
    const engine = await engineAt(fake.baseUrl(mode), { UTTERANCE_MAX_SECONDS: '5' });
    let before = fake.requests.length;
    const first = await run(engine, short);
    const formats = fake.requests.slice(before).map((r) => r.responseFormat);
    expect(formats[0]).toBe('verbose_json');
    expect(formats.slice(1).every((f) => f === 'json')).toBe(true);
    expect(first.transcript.segments.length).toBe(formats.length - 1);
    expect(first.logs.join('\n')).toMatch(/refused verbose_json .*plain json/);
    before = fake.requests.length;
    await run(engine, short);
    expect(fake.requests.slice(before).every((r) => r.responseFormat === 'json')).toBe(true);
  });
});

describe('upstream engine errors', () => {
  const cases: [FakeMode, string, RegExp][] = [
    ['401', 'UPSTREAM_AUTH_FAILED', /127\.0\.0\.1:\d+ refused hark's credentials \(401\); check UPSTREAM_API_KEY/],
    ['403', 'UPSTREAM_AUTH_FAILED', /\(403\); check UPSTREAM_API_KEY/],
    ['500', 'UPSTREAM_ERROR', /answered 500: The server had an error/],
    ['html', 'UPSTREAM_ERROR', /answered something that is not a transcription/],
    ['garbage', 'UPSTREAM_ERROR', /answered something that is not a transcription/],
    ['no-text', 'UPSTREAM_ERROR', /answered something that is not a transcription/],
    ['bad-audio', 'INVALID_AUDIO', /refused the audio: Audio file might be corrupted or unsupported/],
    ['hark-bad-audio', 'INVALID_AUDIO', /the file is not audio hark can decode/],
    ['bad-language', 'UNSUPPORTED_LANGUAGE', /Invalid language 'xx'/],
    ['echo-key', 'UPSTREAM_ERROR', /answered 500: token Bearer \[redacted\] is not known/],
    // Read to 8 MB, then refused: an endless answer never fills hark's memory.
    ['endless', 'UPSTREAM_ERROR', /the answer is larger than 8388608 bytes/],
  ];

  it.each(cases)('%s -> %s, without the key', async (mode, code, message) => {
    const engine = await engineAt(fake.baseUrl(mode), { UPSTREAM_API_KEY: KEY });
    const logs: string[] = [];
    const err = await failure(engine.transcribe(short, {}, { onLog: (m) => logs.push(m) }));
    expect(err.code).toBe(code);
    expect(err.message).toMatch(message);
    expect(JSON.stringify({ message: err.message, details: err.details, logs })).not.toContain(KEY);
    expect(fake.problems).toEqual([]);
  });

  it('429 after the retries -> UPSTREAM_RATE_LIMITED with retry_after_seconds', async () => {
    const engine = await engineAt(fake.baseUrl('429'), { UPSTREAM_API_KEY: KEY, UPSTREAM_MAX_RETRIES: '1' });
    const before = fake.requests.length;
    const err = await failure(engine.transcribe(short, {}));
    expect(fake.requests.length - before).toBe(2);
    expect(err.code).toBe('UPSTREAM_RATE_LIMITED');
    expect(err.message).toMatch(/rate-limiting hark \(429\) after 1 retry/);
    expect(err.details).toMatchObject({ retry_after_seconds: 1 });
    expect(err.message).not.toContain(KEY);
  });

  it("a hark upstream's 503 with Retry-After (at capacity) -> UPSTREAM_RATE_LIMITED, its message kept", async () => {
    const engine = await engineAt(fake.baseUrl('busy'));
    const err = await failure(engine.transcribe(short, {}));
    expect(err.code).toBe('UPSTREAM_RATE_LIMITED');
    expect(err.message).toMatch(/\(503\): all engines are busy/);
    expect(err.details).toMatchObject({ retry_after_seconds: 3, upstream_status: 503 });
  });

  it.each(['hang', 'stall'] as const)('%s -> UPSTREAM_TIMEOUT after UPSTREAM_TIMEOUT_SECONDS', async (mode) => {
    const engine = await engineAt(fake.baseUrl(mode), { UPSTREAM_TIMEOUT_SECONDS: '1' });
    const started = performance.now();
    const err = await failure(engine.transcribe(short, {}));
    expect(err.code).toBe('UPSTREAM_TIMEOUT');
    expect(err.message).toMatch(/did not answer within 1 s/);
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it('rethrows the AbortError of an aborted signal as is', async () => {
    const engine = await engineAt(fake.baseUrl('hang'));
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 200);
    const err = await engine.transcribe(short, {}, { signal: ac.signal }).catch((e: unknown) => e);
    expect(err).toBe(ac.signal.reason);
    expect((err as Error).name).toBe('AbortError');
  });

  it('connection refused -> UPSTREAM_ERROR naming the base URL; load() needs no network', async () => {
    const port = await freePort();
    const engine = upstreamEntry.create(loadConfig({ env: { ENGINES: 'upstream', OUTBOUND_ALLOW: '127.0.0.1/32', UPSTREAM_BASE_URL: `http://127.0.0.1:${port}/v1`, UPSTREAM_MAX_RETRIES: '0' } }));
    const info = await engine.load();
    expect(info).toMatchObject({ name: 'upstream', version: VERSION, model: `whisper-1 @ 127.0.0.1:${port}` });
    expect(engine.capabilities).toMatchObject({ languages: [], native: false, defaultIsolation: 'in-process', wordTimestamps: true });
    const err = await failure(engine.transcribe(short, {}));
    expect(err.code).toBe('UPSTREAM_ERROR');
    expect(err.message).toContain(`http://127.0.0.1:${port}/v1`);
    expect(err.message).toContain('ECONNREFUSED');
    expect(err.message).not.toContain(KEY);
  });

  it('refuses a base URL with credentials at load, without repeating them', async () => {
    const engine = upstreamEntry.create(loadConfig({ env: { ENGINES: 'upstream', OUTBOUND_ALLOW: '127.0.0.1/32', UPSTREAM_BASE_URL: `https://user:${KEY}@example.test/v1` } }));
    const err = await failure(engine.load());
    expect(err.code).toBe('ENGINE_ERROR');
    expect(err.message).toContain('https://example.test/v1');
    expect(err.message).not.toContain(KEY);
  });
});
