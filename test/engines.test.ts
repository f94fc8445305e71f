import { createReadStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tally, wer } from './support/eval/index.js';
import { writeSilence } from './support/audio.js';
import { clip } from './support/corpus.js';
import { startFakeUpstream, type FakeUpstream } from './support/fake-upstream.js';
import { postAudio } from './support/http.js';
import { startTestServer, type TestServer } from './support/server.js';

// whisper.cpp's own test model: real format, untrained weights (its text means nothing), and any
// speech takes it 15 s or more. Speech goes through it once per isolation mode; where only the
// engine's choice and routing are checked, a silent file does (the model still loads for it).
const WHISPER_TEST_MODEL = join(import.meta.dirname, '../../shared/models/for-tests-ggml-tiny.en.bin');
const c = clip('1089-134686-0000');
let silence: string;
let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'hark-engines-'));
  silence = join(work, 'silence.wav');
  writeSilence(silence, 2);
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

interface ReadyEngine {
  name: string;
  status: string;
  default: boolean;
  isolation_modes: string[];
  default_isolation: string;
  model?: string;
  warnings?: string[];
  error?: { code: string; message: string };
}

async function readyz(url: string): Promise<{ status: number; body: { status: string; engines: ReadyEngine[]; error?: { code: string; message: string } } }> {
  const res = await fetch(`${url}/readyz`);
  return { status: res.status, body: (await res.json()) as never };
}

describe('several engines in one server, chosen per request', () => {
  let upstream: TestServer;
  let server: TestServer;
  let client: OpenAI;

  beforeAll(async () => {
    // The upstream engine's far end: another hark, as a user would run it.
    upstream = await startTestServer();
    server = await startTestServer({
      ENGINES: 'pocketsphinx,whisper,upstream',
      ENABLE_PROCESS_ISOLATED: 'true',
      WORKER_COUNT: '1',
      WHISPER_MODEL_PATH: WHISPER_TEST_MODEL,
      WHISPER_BEST_OF: '1',
      UPSTREAM_BASE_URL: `${upstream.url}/v1`,
      // The upstream hark listens on loopback, refused unless allowed.
      OUTBOUND_ALLOW: '127.0.0.1/32',
      UPSTREAM_MODEL: 'pocketsphinx',
    });
    client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'not-needed', maxRetries: 0 });
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
    await upstream?.stop();
  });

  it('lists the loaded engines, the whisper catalogue and the aliases of the default one as models', async () => {
    const models = await client.models.list();
    const ids = models.data.map((m) => m.id);
    // The catalogue's whisper models are listed with their state (none is downloaded here).
    const whisperModels = ids.filter((id) => id.startsWith('whisper-') && id !== 'whisper-1');
    expect(whisperModels).toEqual(expect.arrayContaining(['whisper-tiny.en', 'whisper-base.en', 'whisper-large-v3-turbo']));
    for (const m of models.data.filter((d) => whisperModels.includes(d.id))) expect(m).toMatchObject({ state: 'not_downloaded', engine: 'whisper' });
    // OpenAI's model names (AudioModel, gpt-transcribe, the Realtime API's) stand for the default engine on every endpoint.
    expect(ids.filter((id) => !whisperModels.includes(id))).toEqual([
      'pocketsphinx',
      'whisper',
      'upstream',
      'whisper-1',
      'default',
      'gpt-4o-transcribe',
      'gpt-4o-mini-transcribe',
      'gpt-4o-mini-transcribe-2025-12-15',
      'gpt-4o-transcribe-diarize',
      'gpt-transcribe',
      'gpt-realtime-whisper',
    ]);
  });

  it("reports each engine in /readyz with its own default mode (native engines in the pool) and the model's warnings", async () => {
    const { status, body } = await readyz(server.url);
    expect(status).toBe(200);
    const byName = Object.fromEntries(body.engines.map((e) => [e.name, e]));
    expect(byName['pocketsphinx']).toMatchObject({ status: 'ready', default: true, isolation_modes: ['in-process', 'process'], default_isolation: 'process' });
    expect(byName['whisper']).toMatchObject({ status: 'ready', default: false, isolation_modes: ['in-process', 'process'], default_isolation: 'process', model: WHISPER_TEST_MODEL });
    // The test model has no trained tensors; whisper.cpp says so, and so does hark.
    expect(byName['whisper']?.warnings?.join(' ')).toMatch(/no tensors/);
    expect(byName['upstream']).toMatchObject({ status: 'ready', default_isolation: 'in-process' });
  });

  it('runs whisper.cpp on real audio through the openai client, picked by `model`', async () => {
    const t = await client.audio.transcriptions.create({ file: createReadStream(c.path), model: 'whisper', response_format: 'verbose_json' });
    expect(t.duration).toBeCloseTo(c.durationSeconds, 1);
    expect(typeof t.text).toBe('string');
  });

  it('runs whisper in a worker by default and in the server when asked, with timings', async () => {
    // The worker decoded speech above; here it is asked for by the engine's name.
    const pooled = await postAudio(`${server.url}/transcriptions`, silence, { engine: 'whisper' });
    expect(pooled.status).toBe(200);
    const a = (await pooled.json()) as { engine: string; isolation: string; pid: number; processing_ms: number; duration_seconds: number };
    expect(a).toMatchObject({ engine: 'whisper', isolation: 'process' });
    expect(a.pid).not.toBe(process.pid);
    expect(a.processing_ms).toBeGreaterThan(0);
    const inProcess = await postAudio(`${server.url}/transcriptions?isolation=in-process`, c.path, { engine: 'whisper' });
    const b = (await inProcess.json()) as { isolation: string; pid: number; duration_seconds: number };
    expect(b).toMatchObject({ isolation: 'in-process', pid: process.pid });
    expect(b.duration_seconds).toBeCloseTo(c.durationSeconds, 1);
  });

  it('forwards to the upstream server in-process and gives its transcript', async () => {
    const direct = await client.audio.transcriptions.create({ file: createReadStream(c.path), model: 'pocketsphinx' });
    const res = await postAudio(`${server.url}/transcriptions`, c.path, { engine: 'upstream' });
    const body = (await res.json()) as { text: string; isolation: string; words: unknown[] };
    expect(res.status).toBe(200);
    expect(body.isolation).toBe('in-process');
    expect(body.text).toBe(direct.text);
    expect(body.words.length).toBeGreaterThan(10);
    expect(wer([tally(c.transcript, body.text)])).toBeLessThan(0.35);
  });

  it('runs a job on a non-default engine', async () => {
    const res = await postAudio(`${server.url}/api/v1/jobs`, silence, { engine: 'whisper' });
    expect(res.status).toBe(202);
    const { job_id } = (await res.json()) as { job_id: string };
    let job: { status: string; engine: string; isolation: string } | undefined;
    for (let i = 0; i < 300 && job?.status !== 'completed' && job?.status !== 'failed'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      job = (await (await fetch(`${server.url}/api/v1/jobs/${job_id}`)).json()) as typeof job;
    }
    expect(job).toMatchObject({ status: 'completed', engine: 'whisper', isolation: 'process' });
  });

  it('answers an unknown model with 400 MODEL_NOT_FOUND listing the valid names', async () => {
    const res = await postAudio(`${server.url}/v1/audio/transcriptions`, c.path, { model: 'large-v9' });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: string; message: string; details: { valid_models: string[] } } };
    expect(body.error.code).toBe('MODEL_NOT_FOUND');
    expect(body.error.message).toContain('pocketsphinx, whisper, upstream');
    expect(body.error.details.valid_models).toContain('whisper');
    // The hark route's `engine` field is checked the same way.
    const viaEngine = await postAudio(`${server.url}/transcriptions`, c.path, { engine: 'azure' });
    expect(viaEngine.status).toBe(400);
    expect(((await viaEngine.json()) as { error: { code: string } }).error.code).toBe('MODEL_NOT_FOUND');
  });

  it('refuses a language whisper does not know with 400 UNSUPPORTED_LANGUAGE', async () => {
    const res = await postAudio(`${server.url}/transcriptions?isolation=in-process`, c.path, { engine: 'whisper', language: 'klingon' });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('UNSUPPORTED_LANGUAGE');
    expect(await server.tempFiles()).toEqual([]);
  });
});

describe('an engine that fails to load', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hark-engines-'));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('is reported per engine in /readyz while the others serve; requests naming it get 503 ENGINE_NOT_READY', async () => {
    const corrupt = join(dir, 'ggml-corrupt.bin');
    await writeFile(corrupt, Buffer.from('<html>Not Found</html>'));
    const server = await startTestServer({ ENGINES: 'pocketsphinx,whisper', ENABLE_PROCESS_ISOLATED: 'true', WORKER_COUNT: '1', WHISPER_MODEL_PATH: corrupt });
    try {
      const { status, body } = await readyz(server.url);
      expect(status).toBe(200);
      expect(body.status).toBe('degraded');
      const whisper = body.engines.find((e) => e.name === 'whisper');
      expect(whisper).toMatchObject({ status: 'failed', isolation_modes: [] });
      expect(whisper?.error?.message).toContain(corrupt);
      expect(whisper?.error?.message).toMatch(/not a whisper\.cpp ggml model/);

      for (const mode of ['in-process', 'process']) {
        const res = await postAudio(`${server.url}/transcriptions?isolation=${mode}`, c.path, { engine: 'whisper' });
        expect(res.status, mode).toBe(503);
        const err = (await res.json()) as { error: { code: string; message: string } };
        expect(err.error.code).toBe('ENGINE_NOT_READY');
        expect(err.error.message).toContain('not a whisper.cpp ggml model');
      }
      // The pool's worker loaded PocketSphinx alone and serves it.
      const ok = await postAudio(`${server.url}/transcriptions?isolation=process`, c.path);
      expect(ok.status).toBe(200);
      expect(await server.tempFiles()).toEqual([]);
    } finally {
      await server.stop();
    }
  });

  it('makes /readyz fail when it is the default engine, naming the missing file and how to get one', async () => {
    const missing = join(dir, 'models');
    const server = await startTestServer({ ENGINES: 'whisper', MODELS_DIR: missing, WHISPER_MODEL_SIZE: 'small.en' });
    try {
      const { status, body } = await readyz(server.url);
      expect(status).toBe(503);
      expect(body.error?.code).toBe('ENGINE_NOT_READY');
      expect(body.error?.message).toContain(join(missing, 'ggml-small.en.bin'));
      expect(body.error?.message).toContain('hark models pull');
    } finally {
      await server.stop();
    }
  });
});

describe('an upstream that refuses the key', () => {
  let fake: FakeUpstream;
  let server: TestServer;
  const KEY = 'sk-test-5ecret-upstream-key';
  beforeAll(async () => {
    fake = await startFakeUpstream({ model: 'whisper-1' });
    server = await startTestServer({ ENGINES: 'upstream', OUTBOUND_ALLOW: '127.0.0.1/32', UPSTREAM_BASE_URL: fake.baseUrl('401'), UPSTREAM_API_KEY: KEY, UPSTREAM_MAX_RETRIES: '0' });
  });
  afterAll(async () => {
    await server?.stop();
    await fake?.close();
  });

  it('answers 502 UPSTREAM_AUTH_FAILED without the key, and keeps serving', async () => {
    const res = await postAudio(`${server.url}/v1/audio/transcriptions`, c.path, { model: 'whisper-1' });
    const text = await res.text();
    expect(res.status).toBe(502);
    expect(JSON.parse(text).error.code).toBe('UPSTREAM_AUTH_FAILED');
    expect(text).not.toContain(KEY);
    expect(text).not.toContain('5ecret');
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    expect(await server.tempFiles()).toEqual([]);
  });
});

describe('the CLI with another engine', () => {
  it('transcribes with whisper.cpp in this process and in a worker, and names a missing model file', async () => {
    const { hark } = await import('./support/cli.js');
    // The server tests above decode speech in both modes; here the CLI's own wiring is what counts:
    // a silent file succeeds in each mode, and in each mode a missing model is whisper's error.
    for (const isolation of ['in-process', 'process']) {
      const run = await hark(['transcribe', '--engine', 'whisper', '--isolation', isolation, '-f', 'json', silence], {
        WHISPER_MODEL_PATH: WHISPER_TEST_MODEL,
      });
      expect(run.code, `${isolation}: ${run.stderr}`).toBe(0);
      expect(JSON.parse(run.stdout)).toMatchObject({ duration_seconds: 2, text: '' });
      const missing = await hark(['transcribe', '--engine', 'whisper', '--isolation', isolation, silence], { WHISPER_MODEL_PATH: '/nowhere/ggml-base.en.bin' });
      expect(missing.code, isolation).toBe(1);
      expect(missing.stderr).toContain('/nowhere/ggml-base.en.bin');
      expect(missing.stderr).toContain('hark models pull');
    }
  }, 60_000);
});

describe('Azure Speech through the same API', () => {
  it('needs the key and where the resource is, then answers the openai client with Azure\'s transcript', async () => {
    const { FakeAzure } = await import('./support/fake-azure.js');
    const KEY = 'azure-test-key-0123456789';
    const fake = await FakeAzure.start({ key: KEY });
    // The fake stands where the region's host would be: AZURE_SPEECH_ENDPOINT instead of AZURE_SPEECH_REGION.
    const server = await startTestServer({ ENGINES: 'azure', OUTBOUND_ALLOW: '127.0.0.1/32', AZURE_SPEECH_KEY: KEY, AZURE_SPEECH_ENDPOINT: fake.url });
    try {
      const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'not-needed', maxRetries: 0 });
      const t = await client.audio.transcriptions.create({
        file: createReadStream(c.path),
        model: 'whisper-1',
        response_format: 'verbose_json',
        timestamp_granularities: ['word', 'segment'],
      });
      // The documentation's example phrases, as the fake answers them.
      expect(t.text).toContain('Good afternoon.');
      // The fake's times count from the start of the WAV it got: with the VAD, from where the clip's speech starts.
      expect(t.words?.[0]).toMatchObject({ word: 'Good' });
      expect(t.words![0]!.start).toBeGreaterThanOrEqual(0.96);
      expect(t.words![0]!.start).toBeLessThan(0.96 + 0.5);
      expect(fake.requests.map((r) => r.api)).toEqual(['fast']);
      expect(fake.requests[0]?.headers['ocp-apim-subscription-key']).toBe(KEY);
      const { body } = await readyz(server.url);
      expect(body.engines[0]).toMatchObject({ name: 'azure', status: 'ready', default_isolation: 'in-process' });
    } finally {
      await server.stop();
      await fake.close();
    }
  });
});
