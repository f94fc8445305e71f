import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { tally, wer } from './support/eval/index.js';
import { wavData } from './support/audio.js';
import { clip } from './support/corpus.js';
import { startTestServer, type TestServer } from './support/server.js';

interface Msg {
  type: string;
  text?: string;
  code?: string;
  message?: string;
  start?: number;
  end?: number;
}

interface StreamRun {
  messages: Msg[];
  closeCode: number;
  /** Index in `messages` of the first message that arrived after the last audio frame was sent. */
  afterAudio: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function connect(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode, headers: res.headers })));
  });
}

/** Streams `audio` in `chunkBytes` frames, `paceMs` apart, then {"type":"end"}; collects everything until close. */
async function stream(base: string, config: Record<string, unknown>, audio: Buffer, chunkBytes: number, paceMs: number): Promise<StreamRun> {
  const ws = await connect(`${base.replace('http', 'ws')}/v1/audio/stream`);
  const messages: Msg[] = [];
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  ws.on('message', (data) => messages.push(JSON.parse(String(data)) as Msg));
  ws.send(JSON.stringify(config));
  for (let off = 0; off < audio.length && ws.readyState === WebSocket.OPEN; off += chunkBytes) {
    ws.send(audio.subarray(off, off + chunkBytes));
    if (paceMs > 0) await sleep(paceMs);
  }
  const afterAudio = messages.length;
  if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: 'end' }));
  return { messages, closeCode: await closed, afterAudio };
}

/** Sends `frames` after the config and returns the error message and close code. */
async function refused(base: string, frames: (string | Buffer)[]): Promise<{ error: Msg | undefined; code: number }> {
  const ws = await connect(`${base.replace('http', 'ws')}/v1/audio/stream`);
  const messages: Msg[] = [];
  ws.on('message', (data) => messages.push(JSON.parse(String(data)) as Msg));
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  for (const f of frames) ws.send(f);
  const code = await closed;
  return { error: messages.find((m) => m.type === 'error'), code };
}

const c = clip('1089-134686-0000');
const pcm = wavData(c.path);

describe('live streaming over WebSocket', () => {
  let server: TestServer;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hark-stream-'));
    server = await startTestServer({ MAX_STREAMS: '2', STREAM_MAX_BUFFER_SIZE: '64000', IN_PROCESS_CONCURRENCY: '2' });
  });
  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('turns a clip sent at real-time pace in 100 ms frames into partials, then finals close to the file transcript', async () => {
    const file = (await (await fetch(`${server.url}/transcriptions`, { method: 'POST', body: fileForm(c.path) })).json()) as { text: string };
    const run = await stream(server.url, { sample_rate: 16000, encoding: 'pcm_s16le' }, pcm, 3200, 100);
    expect(run.closeCode).toBe(1000);
    expect(run.messages[0]).toMatchObject({ type: 'ready', engine: 'pocketsphinx', isolation: 'in-process' });
    const partialsDuring = run.messages.slice(0, run.afterAudio).filter((m) => m.type === 'partial');
    expect(partialsDuring.length).toBeGreaterThan(2);
    const finals = run.messages.filter((m) => m.type === 'final');
    expect(finals.length).toBeGreaterThan(0);
    const text = finals.map((f) => f.text).join(' ');
    expect(wer([tally(c.transcript, text)])).toBeLessThan(wer([tally(c.transcript, file.text)]) + 0.08);
    expect(run.messages.at(-1)).toMatchObject({ type: 'done', audio_seconds: expect.closeTo(c.durationSeconds, 1) });
  });

  it('decodes webm/opus (as a browser records it) through one ffmpeg', async () => {
    const webm = join(dir, 'clip.webm');
    execFileSync('ffmpeg', ['-loglevel', 'error', '-y', '-i', c.path, '-c:a', 'libopus', '-b:a', '32k', '-f', 'webm', webm]);
    const run = await stream(server.url, { encoding: 'audio/webm;codecs=opus' }, readFileSync(webm), 4000, 0);
    expect(run.closeCode).toBe(1000);
    const text = run.messages.filter((m) => m.type === 'final').map((f) => f.text).join(' ');
    expect(wer([tally(c.transcript, text)])).toBeLessThan(0.45);
  });

  it.each(['webm', 'ogg', 'pcm_s16le'] as const)('ends a %s stream stopped before any audio with done and no error (a Stop pressed at once)', async (encoding) => {
    const run = await stream(server.url, { encoding, sample_rate: 48000 }, Buffer.alloc(0), 4000, 0);
    expect(run.messages.filter((m) => m.type === 'error')).toEqual([]);
    expect(run.messages.at(-1)).toMatchObject({ type: 'done', audio_seconds: 0 });
    expect(run.closeCode).toBe(1000);
  });

  it.each([
    ['a config that is not JSON', ['{sample_rate: 16000'], 'INVALID_REQUEST', 1008],
    ['an unknown encoding', [JSON.stringify({ encoding: 'flac' })], 'UNSUPPORTED_MEDIA_TYPE', 1003],
    ['an unknown config field', [JSON.stringify({ sample_rate: 16000, bitrate: 3 })], 'INVALID_REQUEST', 1008],
    ['audio before the config', [Buffer.alloc(320)], 'INVALID_REQUEST', 1008],
    ['a text frame where audio is expected', [JSON.stringify({}), 'hello'], 'INVALID_REQUEST', 1008],
    ['an oversize frame', [JSON.stringify({}), Buffer.alloc(64_001)], 'FRAME_TOO_LARGE', 1009],
    ['an unknown engine', [JSON.stringify({ engine: 'vosk' })], 'MODEL_NOT_FOUND', 1008],
  ] as const)('answers %s with an error message and a clean close', async (_what, frames, code, closeCode) => {
    const r = await refused(server.url, [...frames]);
    expect(r.error).toMatchObject({ type: 'error', code });
    expect(r.code).toBe(closeCode);
    await waitFor(async () => (await capacity(server.url)).streams.active === 0);
  });

  it('closes a client that sends faster than real time beyond the buffer with STREAM_TOO_FAST', async () => {
    const big = Buffer.concat([pcm, pcm, pcm]);
    const run = await stream(server.url, {}, big, 32_000, 0);
    expect(run.messages.find((m) => m.type === 'error')).toMatchObject({ code: 'STREAM_TOO_FAST' });
    expect(run.closeCode).toBe(1008);
    // Its engine instance and MAX_STREAMS place come back.
    await waitFor(async () => (await capacity(server.url)).streams.active === 0);
  });

  it('refuses the upgrade past MAX_STREAMS with 503 AT_CAPACITY and Retry-After, and frees places when clients vanish', async () => {
    const a = await connect(`${server.url.replace('http', 'ws')}/v1/audio/stream`);
    const b = await connect(`${server.url.replace('http', 'ws')}/v1/audio/stream`);
    const third = await connect(`${server.url.replace('http', 'ws')}/v1/audio/stream`).catch((e: { status?: number; headers?: Record<string, string> }) => e);
    expect((third as { status?: number }).status).toBe(503);
    expect((third as { headers: Record<string, string> }).headers['retry-after']).toBeDefined();
    // Two open (one will hold an engine, one never sends its config); of the two in-process engines one is kept for files.
    expect((await capacity(server.url)).streams).toEqual({ active: 2, max: 2, engines: 1 });
    // One vanishes mid-stream without a close frame, the other never said a word.
    a.send(JSON.stringify({}));
    a.send(pcm.subarray(0, 16_000));
    await sleep(200);
    a.terminate();
    b.terminate();
    await waitFor(async () => (await capacity(server.url)).streams.active === 0);
    const again = await stream(server.url, {}, pcm.subarray(0, 32_000), 3200, 0);
    expect(again.closeCode).toBe(1000);
    expect(await server.tempFiles()).toEqual([]);
  });
});

describe('live streams in a worker, and streams that go quiet', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({
      ENABLE_PROCESS_ISOLATED: 'true',
      WORKER_COUNT: '1',
      ENABLE_DEBUG_ENDPOINTS: 'true',
      MAX_STREAMS: '2',
      STREAM_IDLE_TIMEOUT_SECONDS: '1',
    });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('ends a stream whose worker is killed -9 with WORKER_CRASHED (close 1011); the server stays up and the next stream works', async () => {
    const ws = await connect(`${server.url.replace('http', 'ws')}/v1/audio/stream?isolation=process`);
    const messages: Msg[] = [];
    ws.on('message', (data) => messages.push(JSON.parse(String(data)) as Msg));
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    ws.send(JSON.stringify({}));
    await waitFor(async () => messages.some((m) => m.type === 'ready'));
    expect(messages[0]).toMatchObject({ type: 'ready', isolation: 'process' });
    // Real-time audio until a partial proves the worker is decoding it.
    let off = 0;
    for (; off < pcm.length && !messages.some((m) => m.type === 'partial' && m.text); off += 3200) {
      ws.send(pcm.subarray(off, off + 3200));
      await sleep(100);
    }
    const pool = (await (await fetch(`${server.url}/debug/pool`)).json()) as { workers: { pid: number; state: string }[] };
    const busy = pool.workers.find((w) => w.state === 'busy');
    expect(busy).toBeDefined();
    process.kill(busy!.pid, 'SIGKILL');
    // The client keeps talking: nothing it sends may reach a dead worker or hang the session.
    while (ws.readyState === WebSocket.OPEN && off < pcm.length) {
      ws.send(pcm.subarray(off, (off += 3200)));
      await sleep(20);
    }
    expect(await closed).toBe(1011);
    expect(messages.find((m) => m.type === 'error')).toMatchObject({ code: 'WORKER_CRASHED' });
    expect(messages.some((m) => m.type === 'done')).toBe(false);
    await waitFor(async () => (await capacity(server.url)).streams.active === 0);

    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    // The slot respawns; a new stream holds the new worker and finishes normally.
    await waitFor(async () => (await (await fetch(`${server.url}/readyz`)).status) === 200, 20_000);
    const again = await stream(`${server.url}`, {}, pcm.subarray(0, 48_000), 3200, 0);
    expect(again.messages[0]).toMatchObject({ type: 'ready', isolation: 'process' });
    expect(again.closeCode).toBe(1000);
    expect(again.messages.at(-1)).toMatchObject({ type: 'done' });
    expect(await server.tempFiles()).toEqual([]);
  });

  it.each([
    ['before the config', [] as Buffer[]],
    ['after some audio', [pcm.subarray(0, 16_000)]],
  ])('closes a stream that sends nothing for STREAM_IDLE_TIMEOUT_SECONDS %s with STREAM_IDLE_TIMEOUT (1008), freeing its place', async (what, audio) => {
    const ws = await connect(`${server.url.replace('http', 'ws')}/v1/audio/stream`);
    const messages: Msg[] = [];
    ws.on('message', (data) => messages.push(JSON.parse(String(data)) as Msg));
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    if (what !== 'before the config') ws.send(JSON.stringify({}));
    for (const a of audio) ws.send(a);
    expect((await capacity(server.url)).streams.active).toBe(1);
    expect(await closed).toBe(1008);
    expect(messages.find((m) => m.type === 'error')).toMatchObject({ code: 'STREAM_IDLE_TIMEOUT' });
    await waitFor(async () => (await capacity(server.url)).streams.active === 0);
  });

  it('keeps a stream open while audio keeps arriving, however long past the idle timeout', async () => {
    // 2.5 s of audio at real-time pace: longer than STREAM_IDLE_TIMEOUT_SECONDS=1, never idle.
    const run = await stream(server.url, {}, pcm.subarray(0, 80_000), 3200, 100);
    expect(run.messages.find((m) => m.type === 'error')).toBeUndefined();
    expect(run.closeCode).toBe(1000);
  });
});

function fileForm(path: string): FormData {
  const form = new FormData();
  form.append('file', new Blob([readFileSync(path)], { type: 'audio/wav' }), 'clip.wav');
  return form;
}

async function capacity(base: string): Promise<{ streams: { active: number; max: number } }> {
  return (await (await fetch(`${base}/api/v1/capacity`)).json()) as { streams: { active: number; max: number } };
}

async function waitFor(check: () => Promise<boolean>, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await sleep(50);
  }
}
