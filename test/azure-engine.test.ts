import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/identity';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { decodeToPcm, type PcmAudio } from '../src/audio/index.js';
import { loadConfig } from '../src/config/index.js';
import { azureEndpoints, azureEntry, AzureSpeechEngine, retryAfterMs, type AzureEngineOptions } from '../src/engines/azure/index.js';
import { transcriptSchema, type Engine } from '../src/engines/index.js';
import { AppError } from '../src/errors.js';
import { transcribeFile } from '../src/transcription/pipeline.js';
import { planUtterances, vadSettingsFromConfig, type VadSettings } from '../src/vad/index.js';
import { joinWavs, wavData } from './support/audio.js';
import { freePort } from './support/net.js';
import { clip, devClips } from './support/corpus.js';
import { behaviours, FakeAzure, SHORT_SENTENCES, type FakeAzureOptions } from './support/fake-azure.js';

const KEY = 'test-speech-key-0123456789abcdef';

let dir: string;
/** 10.4 s of real speech. */
let speech: PcmAudio;
/** Dev clips joined to over a minute: more than the short-audio API takes in one request. */
let long: PcmAudio;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hark-azure-'));
  speech = await decodeToPcm(clip('1089-134686-0000').path, join(dir, 'speech.pcm'), { maxSeconds: 600 });
  const parts: string[] = [];
  let seconds = 0;
  for (const c of devClips) {
    if (seconds > 75) break;
    parts.push(c.path);
    seconds += c.durationSeconds;
  }
  joinWavs(parts, join(dir, 'long.wav'));
  long = await decodeToPcm(join(dir, 'long.wav'), join(dir, 'long.pcm'), { maxSeconds: 600 });
}, 60_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const fakes: FakeAzure[] = [];
afterEach(async () => {
  await Promise.all(fakes.splice(0).map((f) => f.close()));
});

async function fakeAzure(options: FakeAzureOptions = { key: KEY }): Promise<FakeAzure> {
  const fake = await FakeAzure.start(options);
  fakes.push(fake);
  return fake;
}

function azureConfig(fake: FakeAzure, env: Record<string, string> = {}) {
  return loadConfig({ env: { ENGINES: 'azure', OUTBOUND_ALLOW: '127.0.0.1/32', AZURE_SPEECH_ENDPOINT: fake.url, AZURE_SPEECH_KEY: KEY, AZURE_SPEECH_MAX_RETRIES: '2', ...env } });
}

async function loaded(fake: FakeAzure, env: Record<string, string> = {}, options?: AzureEngineOptions): Promise<Engine> {
  const config = azureConfig(fake, env);
  const engine = options === undefined ? azureEntry.create(config) : new AzureSpeechEngine(config, options);
  await engine.load();
  return engine;
}

async function failure(p: Promise<unknown>): Promise<AppError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  return err as AppError;
}

class FakeCredential implements TokenCredential {
  calls: { scopes: string | string[]; options: GetTokenOptions | undefined }[] = [];
  constructor(private readonly token: string | Error) {}
  async getToken(scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken> {
    this.calls.push({ scopes, options });
    if (this.token instanceof Error) throw this.token;
    return { token: this.token, expiresOnTimestamp: Date.now() + 3_600_000 };
  }
}

describe('azure engine: fast transcription', () => {
  it('loads without calling Azure and names the API version and resource', async () => {
    const fake = await fakeAzure();
    const engine = azureEntry.create(azureConfig(fake));
    const info = await engine.load();
    expect(info).toMatchObject({ name: 'azure', version: '2024-11-15', model: `azure-speech (${new URL(fake.url).host})` });
    expect(fake.requests).toHaveLength(0);
    expect(azureEntry.capabilities).toMatchObject({ native: false, defaultIsolation: 'in-process', wordTimestamps: true, streaming: false });
    expect(azureEntry.capabilities.languages).toContain('en-US');
  });

  it('sends the whole file with the key and maps phrases and words to file times', async () => {
    const fake = await fakeAzure();
    const engine = await loaded(fake);
    const progress: number[] = [];
    const t = await engine.transcribe(speech, {}, { onProgress: (p) => progress.push(p.fraction) });

    expect(fake.requests).toHaveLength(1);
    const req = fake.requests[0]!;
    expect(req).toMatchObject({ api: 'fast', status: 200 });
    expect(req.query.get('api-version')).toBe('2024-11-15');
    expect(req.headers['ocp-apim-subscription-key']).toBe(KEY);
    expect(req.headers.authorization).toBeUndefined();
    expect(req.headers['content-type']).toMatch(/^multipart\/form-data; boundary=/);
    expect(req.definition).toEqual({ locales: ['en-US'], profanityFilterMode: 'Masked' });
    expect(req.wav).toMatchObject({ sampleRate: 16_000, channels: 1, bitsPerSample: 16 });
    expect(req.wav!.durationSeconds).toBeCloseTo(speech.durationSeconds, 3);

    expect(() => transcriptSchema.strict().parse(t)).not.toThrow();
    // The documentation's phrases, repeated every 7 s by the fake, up to 10.4 s.
    expect(t.segments.map((s) => s.text)).toEqual([
      'Good afternoon.', 'This is Sam.', 'Thank you for calling Contoso.', 'How can I help?', 'Hi there.', 'My name is Mary.',
      'Good afternoon.', 'This is Sam.', 'Thank you for calling Contoso.',
    ]);
    expect(t.segments[0]).toEqual({ start: 0.96, end: 1.6, text: 'Good afternoon.', confidence: 0.936 });
    expect(t.segments[6]).toMatchObject({ start: 7.96, end: 8.6 });
    expect(t.words.slice(0, 3)).toEqual([
      { word: 'Good', start: 0.96, end: 1.2 },
      { word: 'afternoon.', start: 1.2, end: 1.6 },
      { word: 'This', start: 1.6, end: 1.84 },
    ]);
    expect(t.words).toHaveLength(t.segments.reduce((n, s) => n + s.text.split(' ').length, 0));
    expect(t.text).toBe(t.segments.map((s) => s.text).join(' '));
    expect(t).toMatchObject({ language: 'en', confidence: 0.936, duration_seconds: Math.round(speech.durationSeconds * 1000) / 1000 });
    expect(progress.at(-1)).toBe(1);
  });

  it('authenticates with a Microsoft Entra ID token when there is no key', async () => {
    const fake = await fakeAzure({ token: 'entra-token-xyz' });
    const credential = new FakeCredential('entra-token-xyz');
    const config = loadConfig({ env: { ENGINES: 'azure', OUTBOUND_ALLOW: '127.0.0.1/32', AZURE_SPEECH_ENDPOINT: fake.url } });
    const engine = new AzureSpeechEngine(config, { credential });
    await engine.load();
    expect(credential.calls).toHaveLength(0);
    await engine.transcribe(speech, {});
    const t = await engine.transcribe(speech, {});
    expect(t.segments.length).toBeGreaterThan(0);
    expect(fake.requests.map((r) => r.headers.authorization)).toEqual(['Bearer entra-token-xyz', 'Bearer entra-token-xyz']);
    expect(fake.requests.every((r) => r.headers['ocp-apim-subscription-key'] === undefined)).toBe(true);
    // One token serves both requests.
    expect(credential.calls.map((c) => c.scopes)).toEqual(['https://cognitiveservices.azure.com/.default']);
  });

  it('reports a credential that cannot get a token as UPSTREAM_AUTH_FAILED, without calling Azure', async () => {
    const fake = await fakeAzure({ token: 'entra-token-xyz' });
    const config = loadConfig({ env: { ENGINES: 'azure', OUTBOUND_ALLOW: '127.0.0.1/32', AZURE_SPEECH_ENDPOINT: fake.url } });
    const engine = new AzureSpeechEngine(config, { credential: new FakeCredential(new Error('no managed identity here\nsee https://aka.ms/troubleshoot')) });
    await engine.load();
    const err = await failure(engine.transcribe(speech, {}));
    expect(err.code).toBe('UPSTREAM_AUTH_FAILED');
    expect(err.message).toContain('no managed identity here');
    expect(fake.requests).toHaveLength(0);
  });

  it('asks for diarization and the profanity mode the settings name', async () => {
    const fake = await fakeAzure();
    const engine = await loaded(fake, { AZURE_SPEECH_DIARIZATION_MAX_SPEAKERS: '3', AZURE_SPEECH_PROFANITY: 'removed' });
    const t = await engine.transcribe(speech, { language: 'de' });
    expect(fake.requests[0]!.definition).toEqual({ locales: ['de-DE'], profanityFilterMode: 'Removed', diarization: { enabled: true, maxSpeakers: 3 } });
    // Azure's speaker numbers (1 speaks first, then 0) become hark's letters on segments and words.
    expect(() => transcriptSchema.strict().parse(t)).not.toThrow();
    expect(t.speakers).toBe(2);
    expect(t.segments.slice(0, 6).map((s) => s.speaker)).toEqual(['A', 'A', 'A', 'A', 'B', 'B']);
    expect(t.words.find((w) => w.word === 'Mary.')?.speaker).toBe('B');
    expect(t.language).toBe('de');

    const raw = await loaded(fake, { AZURE_SPEECH_PROFANITY: 'raw' });
    await raw.transcribe(speech, { language: 'auto' });
    expect(fake.requests[1]!.definition).toEqual({ profanityFilterMode: 'None' });
  });

  it("asks Azure to diarize when the request does (its count, else 8) and keeps Azure's labels; several requests' labels are dropped", async () => {
    const fake = await fakeAzure();
    const engine = await loaded(fake);
    const exact = await engine.transcribe(speech, { diarize: { numSpeakers: 3 } });
    expect(fake.requests[0]!.definition).toMatchObject({ diarization: { enabled: true, maxSpeakers: 3 } });
    expect(exact.speakers).toBe(2);
    await engine.transcribe(speech, { diarize: {} });
    expect(fake.requests[1]!.definition).toMatchObject({ diarization: { enabled: true, maxSpeakers: 8 } });
    const plain = await engine.transcribe(speech, {});
    expect(fake.requests[2]!.definition).not.toHaveProperty('diarization');
    expect(plain.speakers).toBeUndefined();
    expect(plain.segments.some((s) => 'speaker' in s)).toBe(false);

    // Each request numbers its speakers afresh, so labels from several requests name nobody: none are kept
    // (the pipeline's own diarizer then labels the file).
    const pieces = await loaded(fake, {}, { fastMaxSeconds: 25 });
    const long3 = await pieces.transcribe(long, { diarize: { maxSpeakers: 4 } });
    expect(fake.requests.length).toBeGreaterThanOrEqual(6);
    expect(long3.speakers).toBeUndefined();
    expect(long3.segments.some((s) => 'speaker' in s) || long3.words.some((w) => 'speaker' in w)).toBe(false);
  });

  it("through hark's pipeline: Azure's labels when it gave them, hark's own diarizer when it gave none", async () => {
    const fake = await fakeAzure();
    const vad = vadSettingsFromConfig(loadConfig({ env: {} }));
    const whole = await transcribeFile(await loaded(fake), speech, { vad, diarize: {} });
    expect(whole.speakers).toBe(2); // the fake's two speakers, as Azure labelled them
    expect(whole.segments.slice(0, 6).map((s) => s.speaker)).toEqual(['A', 'A', 'A', 'A', 'B', 'B']);
    const pieces = await transcribeFile(await loaded(fake, {}, { fastMaxSeconds: 25 }), long, { vad, diarize: {} });
    expect(pieces.speakers).toBeGreaterThanOrEqual(1);
    expect(pieces.words.every((w) => typeof w.speaker === 'string')).toBe(true);
  });

  it('rejects an unknown language code before calling Azure, and maps Azure refusing a locale', async () => {
    const fake = await fakeAzure();
    const engine = await loaded(fake);
    expect((await failure(engine.transcribe(speech, { language: 'xx' }))).code).toBe('UNSUPPORTED_LANGUAGE');
    expect(fake.requests).toHaveLength(0);
    const err = await failure(engine.transcribe(speech, { language: 'sw-KE' }));
    expect(err.code).toBe('UNSUPPORTED_LANGUAGE');
    expect(err.message).toContain("'sw-KE'");
  });

  it('serves concurrent calls on one instance', async () => {
    const fake = await fakeAzure();
    const engine = await loaded(fake);
    const all = await Promise.all([engine.transcribe(speech, {}), engine.transcribe(speech, { language: 'fr' }), engine.transcribe(speech, {})]);
    expect(all.map((t) => t.language)).toEqual(['en', 'fr', 'en']);
    expect(fake.requests).toHaveLength(3);
  });

  it('with a VAD sends only the speech, its regions joined into one WAV, and maps every time back to the file', async () => {
    const fake = await fakeAzure();
    const engine = await loaded(fake);
    // The clip twice, after 8 s of silence each time: two speech regions, 16 s of nothing.
    const clipPcm = wavData(clip('1089-134686-0000').path);
    const silence = Buffer.alloc(8 * 16_000 * 2);
    const gappedPcm = Buffer.concat([silence, clipPcm, silence, clipPcm]);
    const gapped: PcmAudio = { path: join(dir, 'gapped.pcm'), samples: gappedPcm.length / 2, durationSeconds: gappedPcm.length / 2 / 16_000 };
    writeFileSync(gapped.path, gappedPcm);
    const vad: VadSettings = { kind: 'silero', threshold: 0.5, minSilenceMs: 1000, speechPadMs: 400, minSpeechMs: 250 };
    const plan = await planUtterances(gapped, vad, { maxSeconds: 90 * 60 });
    expect(plan.ranges).toHaveLength(2);
    const [r1, r2] = plan.ranges.map((r) => ({ start: r.start / 16_000, seconds: (r.end - r.start) / 16_000 }));

    // What Azure should hear: the two regions back to back. Sent as a file of its own (no VAD), the fake's times are times in that WAV.
    const speechPcm = Buffer.concat(plan.ranges.map((r) => readFileSync(gapped.path).subarray(r.start * 2, r.end * 2)));
    const speechOnly: PcmAudio = { path: join(dir, 'speech-only.pcm'), samples: speechPcm.length / 2, durationSeconds: speechPcm.length / 2 / 16_000 };
    writeFileSync(speechOnly.path, speechPcm);
    const inWav = await engine.transcribe(speechOnly, {});

    const t = await engine.transcribe(gapped, { vad });
    expect(fake.requests).toHaveLength(2);
    expect(fake.requests[1]!.wav!.durationSeconds).toBeCloseTo(speechOnly.durationSeconds, 3);
    expect(t.speech_seconds).toBeCloseTo(plan.speechSeconds, 2);
    expect(t.duration_seconds).toBeCloseTo(gapped.durationSeconds, 3);
    const toFile = (s: number) => (s <= r1!.seconds ? r1!.start + s : r2!.start + s - r1!.seconds);
    expect(t.segments.map((s) => s.text)).toEqual(inWav.segments.map((s) => s.text));
    expect(t.segments.length).toBeGreaterThan(6);
    for (const [i, s] of t.segments.entries()) {
      expect(s.start).toBeCloseTo(toFile(inWav.segments[i]!.start), 2);
      expect(s.end).toBeCloseTo(toFile(inWav.segments[i]!.end), 2);
    }
    for (const [i, w] of t.words.entries()) expect(w.start).toBeCloseTo(toFile(inWav.words[i]!.start), 2);
    // No word starts in a silence (the fake's schedule knows nothing of the join, so a word may span it).
    expect(t.words.every((w) => (w.start >= r1!.start && w.start <= r1!.start + r1!.seconds) || w.start >= r2!.start)).toBe(true);
  });

  it('with a VAD and no speech at all, asks Azure nothing', async () => {
    const fake = await fakeAzure();
    const engine = await loaded(fake);
    const quiet: PcmAudio = { path: join(dir, 'quiet.pcm'), samples: 5 * 16_000, durationSeconds: 5 };
    writeFileSync(quiet.path, Buffer.alloc(quiet.samples * 2));
    const t = await engine.transcribe(quiet, { vad: { kind: 'silero', threshold: 0.5, minSilenceMs: 1000, speechPadMs: 400, minSpeechMs: 250 } });
    expect(fake.requests).toHaveLength(0);
    expect(t).toMatchObject({ text: '', segments: [], words: [], speech_seconds: 0, duration_seconds: 5 });
  });

  it('cuts audio longer than one request may carry at silences and stitches the pieces in file time', async () => {
    const fake = await fakeAzure();
    const engine = await loaded(fake, {}, { fastMaxSeconds: 25 });
    const t = await engine.transcribe(long, {});
    expect(fake.requests.length).toBeGreaterThanOrEqual(3);
    const durations = fake.requests.map((r) => r.wav!.durationSeconds);
    expect(Math.max(...durations)).toBeLessThanOrEqual(25);
    expect(durations.reduce((a, b) => a + b, 0)).toBeCloseTo(long.durationSeconds, 2);
    // Each piece restarts the fake's 7 s cycle: its first phrase sits 0.96 s after the piece's start.
    let pieceStart = 0;
    let i = 0;
    for (const d of durations) {
      expect(t.segments[i]!.start).toBeCloseTo(pieceStart + 0.96, 2);
      while (i < t.segments.length && t.segments[i]!.start < pieceStart + d) i++;
      pieceStart += d;
    }
    expect(t.segments.every((s, k) => k === 0 || s.start >= t.segments[k - 1]!.end)).toBe(true);
    expect(t.segments.at(-1)!.end).toBeLessThanOrEqual(long.durationSeconds);
  });
});

describe('azure engine: failures', () => {
  it('honours Retry-After on 429 and then succeeds', async () => {
    const fake = await fakeAzure();
    fake.queue('fast', behaviours.tooManyRequests('1'));
    const engine = await loaded(fake);
    const t = await engine.transcribe(speech, {});
    expect(t.segments.length).toBeGreaterThan(0);
    expect(fake.requests.map((r) => r.status)).toEqual([429, 200]);
    expect(fake.requests[1]!.at - fake.requests[0]!.at).toBeGreaterThanOrEqual(1000);
  });

  it('gives up with UPSTREAM_RATE_LIMITED and the wait Azure asked for once retries run out', async () => {
    const fake = await fakeAzure();
    fake.queue('fast', behaviours.tooManyRequests('1'), behaviours.tooManyRequests('1'));
    const engine = await loaded(fake, { AZURE_SPEECH_MAX_RETRIES: '1' });
    const err = await failure(engine.transcribe(speech, {}));
    expect(err.code).toBe('UPSTREAM_RATE_LIMITED');
    expect(err.details).toMatchObject({ retry_after_seconds: 1, upstream_status: 429 });
    expect(fake.requests).toHaveLength(2);
  });

  it('reads Retry-After as seconds, as an HTTP date, or as retry-after-ms', () => {
    const now = Date.parse('2025-01-01T00:00:00Z');
    expect(retryAfterMs(new Headers({ 'retry-after': '7' }), now)).toBe(7000);
    expect(retryAfterMs(new Headers({ 'retry-after': 'Wed, 01 Jan 2025 00:00:03 GMT' }), now)).toBe(3000);
    expect(retryAfterMs(new Headers({ 'retry-after-ms': '250' }), now)).toBe(250);
    expect(retryAfterMs(new Headers({ 'retry-after': 'soon' }), now)).toBeUndefined();
  });

  it('retries a 500 and returns the transcript of the next answer', async () => {
    const fake = await fakeAzure();
    fake.queue('fast', behaviours.serverError());
    const engine = await loaded(fake, {}, { retryBaseMs: 20 });
    const t = await engine.transcribe(speech, {});
    expect(t.segments[0]!.text).toBe('Good afternoon.');
    expect(fake.requests.map((r) => r.status)).toEqual([500, 200]);
  });

  it('reports a 5xx that outlasts the retries as UPSTREAM_ERROR', async () => {
    const fake = await fakeAzure();
    fake.queue('fast', behaviours.serverError(), behaviours.serverError(), behaviours.serverError());
    const engine = await loaded(fake, {}, { retryBaseMs: 20 });
    const err = await failure(engine.transcribe(speech, {}));
    expect(err.code).toBe('UPSTREAM_ERROR');
    expect(err.details).toMatchObject({ upstream_status: 500 });
    expect(fake.requests).toHaveLength(3);
  });

  it('maps a wrong key to UPSTREAM_AUTH_FAILED and never repeats the key', async () => {
    const fake = await fakeAzure();
    const wrong = await loaded(fake, { AZURE_SPEECH_KEY: 'wrong-key-fedcba9876543210' });
    const err = await failure(wrong.transcribe(speech, {}));
    expect(err.code).toBe('UPSTREAM_AUTH_FAILED');
    expect(err.message).toContain('AZURE_SPEECH_KEY');
    expect(fake.requests).toHaveLength(1);
    expect(JSON.stringify({ m: err.message, d: err.details })).not.toContain('wrong-key-fedcba9876543210');

    // Even if Azure echoed the key back, it would not reach the error.
    fake.queue('fast', behaviours.json(403, { error: { code: '403', message: `Key ${KEY} is disabled` } }));
    const echoed = await failure((await loaded(fake)).transcribe(speech, {}));
    expect(echoed.code).toBe('UPSTREAM_AUTH_FAILED');
    expect(echoed.message).toContain('Key *** is disabled');
    expect(JSON.stringify({ m: echoed.message, d: echoed.details })).not.toContain(KEY);
  });

  it('maps HTML, broken JSON and JSON of the wrong shape to UPSTREAM_ERROR', async () => {
    const fake = await fakeAzure();
    const engine = await loaded(fake, { AZURE_SPEECH_MAX_RETRIES: '0' });
    fake.queue('fast', behaviours.html(), behaviours.garbage(), behaviours.wrongShape(), behaviours.html(502));
    const html = await failure(engine.transcribe(speech, {}));
    expect([html.code, html.message]).toEqual(['UPSTREAM_ERROR', 'Azure Speech (fast transcription) answered HTTP 200 with an HTML page instead of JSON']);
    expect((await failure(engine.transcribe(speech, {}))).code).toBe('UPSTREAM_ERROR');
    const shape = await failure(engine.transcribe(speech, {}));
    expect(shape.code).toBe('UPSTREAM_ERROR');
    expect(shape.message).toContain('phrases');
    const gateway = await failure(engine.transcribe(speech, {}));
    expect([gateway.code, gateway.message]).toEqual(['UPSTREAM_ERROR', 'Azure Speech (fast transcription) answered HTTP 502: an HTML page']);
  });

  it('maps a 400 about the audio to INVALID_AUDIO', async () => {
    const fake = await fakeAzure();
    fake.queue('fast', behaviours.json(400, { code: 'InvalidRequest', message: 'The audio file could not be decoded.', innerError: { code: 'InvalidParameterValue' } }));
    const err = await failure((await loaded(fake)).transcribe(speech, {}));
    expect(err.code).toBe('INVALID_AUDIO');
  });

  it('stops a request that hangs at AZURE_SPEECH_TIMEOUT_SECONDS with UPSTREAM_TIMEOUT', async () => {
    const fake = await fakeAzure();
    fake.queue('fast', behaviours.hang());
    const engine = await loaded(fake, { AZURE_SPEECH_TIMEOUT_SECONDS: '1' });
    const started = performance.now();
    const err = await failure(engine.transcribe(speech, {}));
    expect(err.code).toBe('UPSTREAM_TIMEOUT');
    expect(performance.now() - started).toBeLessThan(5000);
    expect(fake.requests).toHaveLength(1);
  });

  it('aborts an upload in flight and a Retry-After wait when the signal fires', async () => {
    const fake = await fakeAzure();
    const engine = await loaded(fake);
    for (const behaviour of [behaviours.hang(), behaviours.tooManyRequests('30')]) {
      fake.queue('fast', behaviour);
      const controller = new AbortController();
      const reason = new Error('client went away');
      setTimeout(() => controller.abort(reason), 200);
      const started = performance.now();
      await expect(engine.transcribe(speech, {}, { signal: controller.signal })).rejects.toBe(reason);
      expect(performance.now() - started).toBeLessThan(2000);
    }
  });

  it('retries a resource that cannot be reached, then reports UPSTREAM_ERROR', async () => {
    const port = await freePort();
    const config = loadConfig({ env: { ENGINES: 'azure', OUTBOUND_ALLOW: '127.0.0.1/32', AZURE_SPEECH_ENDPOINT: `http://127.0.0.1:${port}`, AZURE_SPEECH_KEY: KEY, AZURE_SPEECH_MAX_RETRIES: '1' } });
    const engine = new AzureSpeechEngine(config, { retryBaseMs: 20 });
    await engine.load();
    const logs: string[] = [];
    const err = await failure(engine.transcribe(speech, {}, { onLog: (m) => logs.push(m) }));
    expect(err.code).toBe('UPSTREAM_ERROR');
    expect(err.message).toContain('ECONNREFUSED');
    expect(logs.some((l) => l.includes('retry 1/1'))).toBe(true);
  });

  it('refuses to transcribe before load', async () => {
    const fake = await fakeAzure();
    const err = await failure(azureEntry.create(azureConfig(fake)).transcribe(speech, {}));
    expect(err.code).toBe('ENGINE_NOT_READY');
  });
});

describe('azure engine: short-audio fallback', () => {
  it('falls back on a 404 from fast transcription and decodes utterance by utterance', async () => {
    const fake = await fakeAzure({ key: KEY, fastAvailable: false });
    const engine = await loaded(fake, { AZURE_SPEECH_PROFANITY: 'removed' });
    const logs: string[] = [];
    const t = await engine.transcribe(long, {}, { onLog: (m) => logs.push(m) });

    expect(fake.requests[0]).toMatchObject({ api: 'fast', status: 404 });
    const shorts = fake.requests.slice(1);
    expect(shorts.length).toBeGreaterThanOrEqual(3);
    for (const r of shorts) {
      expect(r).toMatchObject({ api: 'short', status: 200 });
      expect(Object.fromEntries(r.query)).toEqual({ language: 'en-US', format: 'detailed', profanity: 'removed', wordLevelTimestamps: 'true' });
      expect(r.headers['content-type']).toBe('audio/wav; codecs=audio/pcm; samplerate=16000');
      expect(r.headers['ocp-apim-subscription-key']).toBe(KEY);
      expect(r.wav!.durationSeconds).toBeLessThanOrEqual(30); // UTTERANCE_MAX_SECONDS
    }
    const durations = shorts.map((r) => r.wav!.durationSeconds);
    expect(durations.reduce((a, b) => a + b, 0)).toBeCloseTo(long.durationSeconds, 1);
    expect(logs.some((l) => l.includes('HTTP 404'))).toBe(true);

    // One segment per utterance, inside that utterance's stretch of the file.
    expect(t.segments.map((s) => s.text)).toEqual(shorts.map((_, i) => SHORT_SENTENCES[i % SHORT_SENTENCES.length]!.display));
    let start = 0;
    for (const [i, d] of durations.entries()) {
      const s = t.segments[i]!;
      expect(s.start).toBeGreaterThanOrEqual(start);
      expect(s.end).toBeLessThanOrEqual(start + d + 0.001);
      start += d;
    }
    expect(t.words[0]!.word).toBe("what's");
    expect(t.words.every((w) => w.start >= 0 && w.end <= long.durationSeconds)).toBe(true);
    expect(t.language).toBe('en');
    expect(() => transcriptSchema.strict().parse(t)).not.toThrow();

    // The instance remembers: the next file goes straight to short audio.
    const before = fake.requests.length;
    await engine.transcribe(speech, {});
    expect(fake.requests.slice(before).every((r) => r.api === 'short')).toBe(true);
  });

  it('treats NoMatch as silence, not as an error', async () => {
    const fake = await fakeAzure({ key: KEY, fastAvailable: false });
    fake.queue('short', behaviours.noMatch());
    const engine = await loaded(fake);
    const t = await engine.transcribe(long, {});
    const shorts = fake.requests.filter((r) => r.api === 'short');
    expect(t.segments).toHaveLength(shorts.length - 1);
    expect(t.segments[0]!.text).toBe(SHORT_SENTENCES[0].display);
  });

  it('maps the short-audio API refusing a locale to UNSUPPORTED_LANGUAGE', async () => {
    const fake = await fakeAzure({ key: KEY, fastAvailable: false });
    const err = await failure((await loaded(fake)).transcribe(speech, { language: 'sw-KE' }));
    expect(err.code).toBe('UNSUPPORTED_LANGUAGE');
    expect(fake.requests.at(-1)).toMatchObject({ api: 'short', status: 400 });
  });
});

describe('azure endpoints', () => {
  it('uses the region hosts, or everything under AZURE_SPEECH_ENDPOINT', () => {
    const byRegion = azureEndpoints(loadConfig({ env: { ENGINES: 'azure', AZURE_SPEECH_REGION: 'westeurope', AZURE_SPEECH_KEY: KEY } }))!;
    expect(byRegion.fast.href).toBe('https://westeurope.api.cognitive.microsoft.com/speechtotext/transcriptions:transcribe?api-version=2024-11-15');
    expect(byRegion.shortAudio.href).toBe('https://westeurope.stt.speech.microsoft.com/speech/recognition/conversation/cognitiveservices/v1');
    const byEndpoint = azureEndpoints(loadConfig({ env: { ENGINES: 'azure', AZURE_SPEECH_ENDPOINT: 'https://my-speech.cognitiveservices.azure.com/' } }))!;
    expect(byEndpoint.fast.href).toBe('https://my-speech.cognitiveservices.azure.com/speechtotext/transcriptions:transcribe?api-version=2024-11-15');
    expect(byEndpoint.shortAudio.href).toBe('https://my-speech.cognitiveservices.azure.com/stt/speech/recognition/conversation/cognitiveservices/v1');
    expect(byEndpoint.label).toBe('my-speech.cognitiveservices.azure.com');
  });
});
