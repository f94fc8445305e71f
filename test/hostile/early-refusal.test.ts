import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { ErrorCode } from '../../src/errors.js';
import {
  beginHeldUpload,
  BOUNDARY,
  expectAnsweredBeforeBody,
  expectHealthy,
  expectNoTempFiles,
  multipartBody,
  rawConnect,
  type RawConnection,
  requestHead,
  serveForHostileTests,
  SHORT,
  withTimeout,
} from '../support/hostile-http.js';
import { postForm, type TestServer } from '../support/server.js';

/*
 * One plan per request: engine and mode are decided, and the line looked at,
 * before the body is read; the place in line is taken once the upload is in.
 * Each request below declares a 50 MB body and sends only its first 64 KB:
 * the refusal must come back while the client still holds the rest, with
 * nothing of the upload stored.
 */

let server: TestServer;
serveForHostileTests((s) => (server = s), {
  // whisper with a model file that does not exist: configured, failed to load (not ready).
  // The one engine may be leased by a live stream (the tests that fill the line use one).
  STREAM_RESERVED_ENGINES: '0',
  ENGINES: 'pocketsphinx,whisper',
  WHISPER_MODEL_PATH: '/nonexistent/ggml-none.bin',
  IN_PROCESS_CONCURRENCY: '1',
  MAX_QUEUE_SIZE: '0',
});

/** Begins a held upload (see beginHeldUpload). */
function startUpload(path: string, opts: { headers?: Record<string, string>; fields?: Record<string, string> } = {}): Promise<RawConnection> {
  return beginHeldUpload(server.url, path, opts);
}

async function expectRefusedEarly(conn: RawConnection, status: number, code: ErrorCode): Promise<void> {
  try {
    const res = await withTimeout(conn.response, 5000, `the ${code} refusal`);
    expect(res.status).toBe(status);
    expect((JSON.parse(res.body) as { error: { code: string } }).error.code).toBe(code);
    // Refused on what arrived first.
    expectAnsweredBeforeBody(conn);
    expect(await server.tempFiles()).toEqual([]);
  } finally {
    conn.socket.destroy();
  }
}

describe('refusals decided before the body is read', () => {
  it.each([
    ['an unknown engine in ?engine=', '/transcriptions?engine=bogus', {}, 400, 'MODEL_NOT_FOUND'],
    ['an engine that failed to load, in ?engine=', '/transcriptions/sync?engine=whisper', {}, 503, 'ENGINE_NOT_READY'],
    ['an engine that failed to load, in X-Hark-Engine', '/transcriptions', { 'X-Hark-Engine': 'whisper' }, 503, 'ENGINE_NOT_READY'],
    ['an unknown model in ?model= on the OpenAI route', '/v1/audio/transcriptions?model=bogus', {}, 400, 'MODEL_NOT_FOUND'],
    ['a mode that is off', '/transcriptions/process-isolated', {}, 503, 'PROCESS_ISOLATION_DISABLED'],
    ['a mode that is off, in ?isolation=', '/transcriptions?isolation=process', {}, 503, 'PROCESS_ISOLATION_DISABLED'],
  ] as const)('%s', async (_what, path, headers, status, code) => {
    await expectRefusedEarly(await startUpload(path, { headers }), status, code);
  });

  it('refuses an engine named in a form field that comes before the file, before the file is stored', async () => {
    await expectRefusedEarly(await startUpload('/transcriptions', { fields: { engine: 'whisper' } }), 503, 'ENGINE_NOT_READY');
    await expectRefusedEarly(await startUpload('/v1/audio/transcriptions', { fields: { model: 'bogus' } }), 400, 'MODEL_NOT_FOUND');
  });

  it('refuses a form field that names another engine than the query, before the file is stored', async () => {
    await expectRefusedEarly(await startUpload('/transcriptions?engine=pocketsphinx', { fields: { engine: 'whisper' } }), 400, 'INVALID_REQUEST');
  });

  it('answers AT_CAPACITY before the body when the line is full, and frees the place when the holder goes away', async () => {
    // The one place (concurrency 1, no queue) is held by a live stream: an upload still arriving holds none.
    const holder = await holdEngine();
    const refused = await startUpload('/transcriptions?engine=pocketsphinx');
    try {
      const res = await withTimeout(refused.response, 5000, 'the AT_CAPACITY refusal');
      expect(res.status).toBe(503);
      expect((JSON.parse(res.body) as { error: { code: string } }).error.code).toBe('AT_CAPACITY');
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
      expect(await server.tempFiles()).toEqual([]);
    } finally {
      refused.socket.destroy();
      await holder.close();
    }
    const ok = await postForm(`${server.url}/transcriptions?engine=pocketsphinx`, { file: { path: SHORT.path } });
    expect(ok.status).toBe(200);
  });

  it('takes the place once the upload is in: a line that filled meanwhile answers AT_CAPACITY then, and the upload is removed', async () => {
    const body = multipartBody([{ headers: 'Content-Disposition: form-data; name="file"; filename="clip.wav"\r\nContent-Type: audio/wav', body: readFileSync(SHORT.path) }]);
    const conn = await rawConnect(server.url);
    let holder: { close(): Promise<void> } | undefined;
    try {
      await conn.write(requestHead('/transcriptions', { 'Content-Type': `multipart/form-data; boundary=${BOUNDARY}`, 'Content-Length': body.length }));
      await conn.write(body.subarray(0, body.length - 1000));
      const deadline = Date.now() + 3000;
      while ((await server.tempFiles()).length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      // The upload was let in (the line was empty); the line fills before it ends.
      holder = await holdEngine();
      await conn.write(body.subarray(body.length - 1000));
      const res = await withTimeout(conn.response, 5000, 'the AT_CAPACITY answer');
      expect(res.status, res.body).toBe(503);
      expect((JSON.parse(res.body) as { error: { code: string } }).error.code).toBe('AT_CAPACITY');
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
      await expectNoTempFiles(server);
    } finally {
      conn.socket.destroy();
      await holder?.close();
    }
  });

  it('lets an OpenAI client keep its required model=whisper-1 when the engine is named in X-Hark-Engine', async () => {
    const res = await fetch(`${server.url}/v1/audio/transcriptions`, {
      method: 'POST',
      headers: { 'X-Hark-Engine': 'pocketsphinx' },
      body: await form({ model: 'whisper-1', response_format: 'json' }),
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { text: string }).text.length).toBeGreaterThan(0);
    await expectHealthy(server);
  });
});

/** Holds the in-process engine with a live stream (it takes its slot at once) until `close()`, which waits for the slot to come back. */
async function holdEngine(): Promise<{ close(): Promise<void> }> {
  const ws = new WebSocket(`${server.url.replace('http', 'ws')}/v1/audio/stream`);
  await withTimeout(new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject)), 5000, 'the stream to open');
  const ready = new Promise<void>((resolve, reject) => {
    ws.on('message', (m: Buffer) => {
      const msg = JSON.parse(m.toString()) as { type: string };
      if (msg.type === 'ready') resolve();
      else if (msg.type === 'error') reject(new Error(m.toString()));
    });
  });
  ws.send(JSON.stringify({ type: 'config', engine: 'pocketsphinx', sample_rate: 16000 }));
  await withTimeout(ready, 5000, 'the stream to be ready');
  return {
    close: async () => {
      ws.close();
      const capacity = async () => ((await (await fetch(`${server.url}/api/v1/capacity`)).json()) as { available_capacity: number }).available_capacity;
      const deadline = Date.now() + 5000;
      while ((await capacity()) === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    },
  };
}

async function form(fields: Record<string, string>): Promise<FormData> {
  const { readFile } = await import('node:fs/promises');
  const f = new FormData();
  f.append('file', new Blob([await readFile(SHORT.path)]), 'clip.wav');
  for (const [k, v] of Object.entries(fields)) f.append(k, v);
  return f;
}
