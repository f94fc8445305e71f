import { createHash } from 'node:crypto';
import { copyFile, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wavHeader } from './support/audio.js';
import { startFakeModelHost, type FakeModelHost } from './support/fake-model-host.js';
import { postAudio } from './support/http.js';
import { scrape } from './support/prometheus.js';
import { startTestServer, type TestServer } from './support/server.js';

/*
 * Models at runtime (issue 23): whisper models pulled over the API, picked per request, loaded on
 * first use in the process that decodes, kept for the next request, unloaded when idle or deleted.
 * whisper.cpp's own test model stands in for every model, under two catalogue names (test-a,
 * test-b), served by a local stand-in for the model host.
 */

const TEST_MODEL = join(import.meta.dirname, '../../shared/models/for-tests-ggml-tiny.en.bin');
/**
 * One second of silence. What is counted here is where models load, not what they hear: the
 * model is taken before the VAD runs, and whisper's untrained test model takes seconds on any
 * speech (decoding is tested in engines.test.ts).
 */
let CLIP: string;

interface ModelEntry {
  id: string;
  state?: string;
  bytes?: number | null;
  default?: boolean;
  loaded?: { isolation: string; pid: number; slot?: number; bytes: number; in_use: boolean }[];
  download?: { received_bytes: number; total_bytes: number };
  error?: { code: string; message: string };
}

let modelBytes: Buffer;
let work: string;
let catalogue: string;
let host: FakeModelHost;

beforeAll(async () => {
  modelBytes = await readFile(TEST_MODEL);
  const sha1 = createHash('sha1').update(modelBytes).digest('hex');
  work = await mkdtemp(join(tmpdir(), 'hark-models-'));
  catalogue = join(work, 'catalogue.json');
  CLIP = join(work, 'clip.wav');
  await writeFile(CLIP, Buffer.concat([wavHeader(32_000), Buffer.alloc(32_000)]));
  const entry = { bytes: modelBytes.length, sha1 };
  // test-huge: a petabyte, more than any disk here has.
  await writeFile(catalogue, JSON.stringify({ 'test-a': entry, 'test-b': entry, 'test-huge': { bytes: 1e15, sha1: null } }));
  host = await startFakeModelHost({ 'ggml-test-a.bin': modelBytes, 'ggml-test-b.bin': modelBytes });
});

afterAll(async () => {
  await host?.close();
  await rm(work, { recursive: true, force: true });
});

/** A server with pocketsphinx and whisper (its default model the test file), a MODELS_DIR of its own. */
async function serve(env: Record<string, string>, install: string[] = [], defaultName?: string): Promise<{ server: TestServer; modelsDir: string }> {
  const modelsDir = await mkdtemp(join(work, 'models-'));
  for (const name of install) await copyFile(TEST_MODEL, join(modelsDir, `ggml-${name}.bin`));
  const server = await startTestServer({
    ENGINES: 'pocketsphinx,whisper',
    WHISPER_MODEL_PATH: defaultName === undefined ? TEST_MODEL : join(modelsDir, `ggml-${defaultName}.bin`),
    MODELS_DIR: modelsDir,
    MODELS_CATALOGUE: catalogue,
    MODELS_BASE_URL: host.baseUrl,
    ...env,
  });
  return { server, modelsDir };
}

async function model(server: TestServer, id: string): Promise<ModelEntry> {
  const res = await fetch(`${server.url}/v1/models/${id}`);
  expect(res.status).toBe(200);
  return (await res.json()) as ModelEntry;
}

async function waitFor<T>(what: string, read: () => Promise<T>, done: (v: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (done(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function transcribe(server: TestServer, modelId: string, path = '/v1/audio/transcriptions'): Promise<Response> {
  return postAudio(`${server.url}${path}`, CLIP, path.startsWith('/v1/') ? { model: modelId } : { engine: modelId });
}

/** hark_model_loads_total per model, for one mode. */
async function loads(server: TestServer, isolation: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const s of (await scrape(server.url)).samples) {
    if (s.name === 'hark_model_loads_total' && s.labels['isolation'] === isolation) out[s.labels['model']!] = s.value;
  }
  return out;
}

function vmRssBytes(pid: number): Promise<number> {
  return readFile(`/proc/${pid}/status`, 'utf8').then((s) => Number(/VmRSS:\s+(\d+) kB/.exec(s)?.[1] ?? NaN) * 1024);
}

describe('pulling a model over the API', () => {
  let server: TestServer;
  let modelsDir: string;
  beforeAll(async () => ({ server, modelsDir } = await serve({})));
  afterAll(() => server?.stop());

  it('downloads a catalogue model with visible progress, and two pulls at once share one download', async () => {
    host.set({ pieceDelayMs: 100 });
    const before = host.requests.length;
    const [first, second] = await Promise.all([
      fetch(`${server.url}/v1/models/whisper-test-a`, { method: 'POST' }),
      fetch(`${server.url}/v1/models/whisper-test-a`, { method: 'POST' }),
    ]);
    expect([first.status, second.status]).toEqual([202, 202]);
    expect(((await first.json()) as ModelEntry).state).toBe('downloading');
    await second.body?.cancel();
    const partway = await waitFor('progress', () => model(server, 'whisper-test-a'), (m) => (m.download?.received_bytes ?? 0) > 0);
    expect(partway).toMatchObject({ state: 'downloading', download: { total_bytes: modelBytes.length } });
    expect(partway.download!.received_bytes).toBeLessThan(modelBytes.length);
    const done = await waitFor('the download', () => model(server, 'whisper-test-a'), (m) => m.state !== 'downloading');
    expect(done).toMatchObject({ state: 'available', bytes: modelBytes.length });
    expect(host.requests.slice(before).filter((r) => r.path.endsWith('ggml-test-a.bin'))).toHaveLength(1);
    expect(await readdir(modelsDir)).toEqual(['ggml-test-a.bin']);
    // Usable at once, without a restart.
    const res = await transcribe(server, 'whisper-test-a');
    expect(res.status).toBe(200);
    // Already here: 200, no new download.
    const again = await fetch(`${server.url}/v1/models/whisper-test-a`, { method: 'POST' });
    expect(again.status).toBe(200);
    host.set({});
  });

  it('runs a job with the model it was submitted with', async () => {
    const res = await postAudio(`${server.url}/api/v1/jobs`, CLIP, { engine: 'whisper-test-a' });
    expect(res.status).toBe(202);
    const { job_id } = (await res.json()) as { job_id: string };
    const job = await waitFor('the job', async () => (await (await fetch(`${server.url}/api/v1/jobs/${job_id}`)).json()) as { status: string; engine: string; model: string | null }, (j) => ['completed', 'failed'].includes(j.status));
    expect(job).toMatchObject({ status: 'completed', engine: 'whisper', model: 'whisper-test-a' });
    // Decoded by the model already loaded for the request above: no second load.
    expect(await loads(server, 'in-process')).toMatchObject({ 'whisper-test-a': 1 });
  });

  it('refuses a download that fails its checksum, and leaves no file to use', async () => {
    host.set({ corrupt: true });
    const res = await fetch(`${server.url}/v1/models/whisper-test-b`, { method: 'POST' });
    expect(res.status).toBe(202);
    const failed = await waitFor('the failed download', () => model(server, 'whisper-test-b'), (m) => m.state !== 'downloading');
    host.set({});
    expect(failed.state).toBe('failed');
    expect(failed.error?.message).toMatch(/SHA-1/);
    expect((await readdir(modelsDir)).filter((f) => f.includes('test-b'))).toEqual([]);
    const use = await transcribe(server, 'whisper-test-b');
    expect(use.status).toBe(409);
    expect(((await use.json()) as { error: { code: string } }).error.code).toBe('MODEL_NOT_DOWNLOADED');
  });

  it('refuses with 507 a model MODELS_DIR cannot take, before any download', async () => {
    const before = host.requests.length;
    const res = await fetch(`${server.url}/v1/models/whisper-test-huge`, { method: 'POST' });
    expect(res.status).toBe(507);
    const { error } = (await res.json()) as { error: { code: string; message: string; details: Record<string, number> } };
    expect(error.code).toBe('INSUFFICIENT_STORAGE');
    expect(error.message).toMatch(new RegExp(`^not enough disk space in ${modelsDir}: ggml-test-huge\\.bin needs 1000000000\\.0 MB more, \\d+\\.\\d MB is free$`));
    expect(error.details).toMatchObject({ needed_bytes: 1e15 });
    expect(host.requests.length).toBe(before);
    expect(await model(server, 'whisper-test-huge')).toMatchObject({ state: 'not_downloaded' });
  });

  it('answers 404 for a pull of an id no catalogue has, and 400 MODEL_NOT_FOUND listing valid ids for an unknown model', async () => {
    const pull = await fetch(`${server.url}/v1/models/whisper-nonesuch`, { method: 'POST' });
    expect(pull.status).toBe(404);
    expect(((await pull.json()) as { error: { code: string } }).error.code).toBe('MODEL_NOT_IN_CATALOGUE');
    const use = await transcribe(server, 'whisper-nonesuch');
    expect(use.status).toBe(400);
    const body = (await use.json()) as { error: { code: string; details: { valid_models: string[] } } };
    expect(body.error.code).toBe('MODEL_NOT_FOUND');
    expect(body.error.details.valid_models).toEqual(expect.arrayContaining(['pocketsphinx', 'whisper', 'whisper-test-a', 'whisper-1']));
  });
});

describe.each(['in-process', 'process'] as const)('two models used by alternate requests (%s)', (isolation) => {
  let server: TestServer;
  beforeAll(async () => ({ server } = await serve({ ENABLE_PROCESS_ISOLATED: String(isolation === 'process'), WORKER_COUNT: '2', DEFAULT_ISOLATION: isolation }, ['test-a', 'test-b'])));
  afterAll(() => server?.stop());

  it('loads each model once, on its first request, and keeps it for the next', async () => {
    const path = isolation === 'process' ? '/transcriptions/process-isolated' : '/transcriptions/sync';
    // Twice in a row first: with two workers, the second request goes to the worker that holds the
    // model, not to the one idle longest (which would load it again).
    for (const id of ['a', 'a', 'b', 'b', 'a', 'b', 'a'].map((m) => `whisper-test-${m}`)) {
      const res = await transcribe(server, id, path);
      expect(res.status).toBe(200);
      expect(((await res.json()) as { model: string }).model).toBe(id);
    }
    expect(await loads(server, isolation)).toMatchObject({ 'whisper-test-a': 1, 'whisper-test-b': 1 });
    const listed = await Promise.all(['whisper-test-a', 'whisper-test-b'].map((id) => model(server, id)));
    for (const m of listed) {
      expect(m.state).toBe('loaded');
      expect(m.loaded).toHaveLength(1);
      expect(m.loaded![0]).toMatchObject({ isolation, in_use: false });
      expect(m.loaded![0]!.bytes).toBeGreaterThanOrEqual(modelBytes.length);
    }
  });
});

describe('idle unload', () => {
  let server: TestServer;
  beforeAll(async () => ({ server } = await serve({ ENABLE_PROCESS_ISOLATED: 'true', WORKER_COUNT: '1', MODEL_IDLE_TTL_SECONDS: '1' }, ['test-b'])));
  afterAll(() => server?.stop());

  it('gives a worker back about the model\'s memory once it has gone unused for MODEL_IDLE_TTL_SECONDS', async () => {
    const heldBy = async () => (await (await fetch(`${server.url}/readyz`)).json()) as { models: { id: string; pid: number; bytes: number }[] };
    // The default model loaded at start goes idle too: wait until the worker holds nothing.
    await waitFor('an empty worker', heldBy, (r) => r.models.length === 0);
    const res = await transcribe(server, 'whisper-test-b', '/transcriptions/process-isolated');
    expect(res.status).toBe(200);
    const { pid } = (await res.json()) as { pid: number };
    const held = (await heldBy()).models.find((m) => m.id === 'whisper-test-b');
    expect(held?.pid).toBe(pid);
    const loadedRss = await vmRssBytes(pid);
    await waitFor('the idle unload', heldBy, (r) => r.models.length === 0, 10_000);
    const freed = loadedRss - (await vmRssBytes(pid));
    expect(freed).toBeGreaterThan(0.5 * held!.bytes);
    // Every reason is exported from the load on, at 0 until it happens.
    const unloads = (await scrape(server.url)).samples.filter((s) => s.name === 'hark_model_unloads_total' && s.labels['model'] === 'whisper-test-b');
    expect(unloads.map((s) => s.labels['reason']).sort()).toEqual(['deleted', 'idle', 'memory', 'shutdown']);
    expect(unloads.filter((s) => s.value > 0)).toMatchObject([{ labels: { reason: 'idle', isolation: 'process' }, value: 1 }]);
  });
});

describe('deleting a model', () => {
  let server: TestServer;
  let modelsDir: string;
  beforeAll(async () => ({ server, modelsDir } = await serve({ ENABLE_PROCESS_ISOLATED: 'true', WORKER_COUNT: '1' }, ['test-a'])));
  afterAll(() => server?.stop());

  it('unloads a loaded model everywhere first, then removes its file; later requests get 409', async () => {
    expect((await transcribe(server, 'whisper-test-a', '/transcriptions/process-isolated')).status).toBe(200);
    expect((await transcribe(server, 'whisper-test-a', '/transcriptions/sync')).status).toBe(200);
    expect((await model(server, 'whisper-test-a')).loaded).toHaveLength(2);
    const res = await fetch(`${server.url}/v1/models/whisper-test-a`, { method: 'DELETE' });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ id: 'whisper-test-a', object: 'model', deleted: true });
    expect(await model(server, 'whisper-test-a')).toMatchObject({ state: 'not_downloaded', loaded: [] });
    expect(await readdir(modelsDir)).toEqual([]);
    const use = await transcribe(server, 'whisper-test-a');
    expect(use.status).toBe(409);
  });

  it('refuses to delete an engine (400) and a model that is not here (404)', async () => {
    const engine = await fetch(`${server.url}/v1/models/pocketsphinx`, { method: 'DELETE' });
    expect(engine.status).toBe(400);
    const missing = await fetch(`${server.url}/v1/models/whisper-test-b`, { method: 'DELETE' });
    expect(missing.status).toBe(404);
  });
});

describe('the default model', () => {
  let server: TestServer;
  let modelsDir: string;
  beforeAll(async () => ({ server, modelsDir } = await serve({}, ['test-a'], 'test-a')));
  afterAll(() => server?.stop());

  it('is whisper-test-a when WHISPER_MODEL_PATH names MODELS_DIR/ggml-test-a.bin, shared with `whisper`, and cannot be deleted (409 MODEL_IN_USE)', async () => {
    expect(await model(server, 'whisper-test-a')).toMatchObject({ state: 'loaded', default: true });
    expect((await transcribe(server, 'whisper-test-a')).status).toBe(200);
    expect((await transcribe(server, 'whisper')).status).toBe(200);
    // One load, at start: both names are the same model.
    expect(await loads(server, 'in-process')).toEqual({ 'whisper-test-a': 1 });
    const res = await fetch(`${server.url}/v1/models/whisper-test-a`, { method: 'DELETE' });
    expect(res.status).toBe(409);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('MODEL_IN_USE');
    expect(await readdir(modelsDir)).toEqual(['ggml-test-a.bin']);
  });
});

describe('MODEL_MEMORY_LIMIT_MB', () => {
  let server: TestServer;
  let modelsDir: string;
  beforeAll(async () => ({ server, modelsDir } = await serve({ MODEL_MEMORY_LIMIT_MB: '1' })));
  afterAll(() => server?.stop());

  it('refuses a model larger than one process may hold with 503 MODEL_MEMORY_LIMIT before its upload is read', async () => {
    await writeFile(join(modelsDir, 'ggml-huge.bin'), Buffer.concat([modelBytes, Buffer.alloc(1_000_000)]));
    const res = await transcribe(server, 'whisper-huge');
    expect(res.status).toBe(503);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('MODEL_MEMORY_LIMIT');
    expect(body.error.message).toMatch(/MODEL_MEMORY_LIMIT_MB/);
  });
});
