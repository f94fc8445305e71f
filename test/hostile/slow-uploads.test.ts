import { readFileSync } from 'node:fs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  beginHeldUpload,
  BOUNDARY,
  expectAnsweredBeforeBody,
  expectRawError,
  multipartBody,
  rawConnect,
  type RawConnection,
  requestHead,
  serveForHostileTests,
  SHORT,
  withTimeout,
} from '../support/hostile-http.js';
import { createKeyWithCli } from '../support/keys-cli.js';
import { postForm, type TestServer } from '../support/server.js';

/*
 * Finding 3 of issue 18: slow uploads held the sync lanes. A place in line was
 * taken before the body was read, so a few uploads sent slowly (the body begun
 * and then held) put a mode at capacity for every other client until
 * REQUEST_TIMEOUT_SECONDS. Now the place is taken once the upload is in, and
 * uploads in flight are capped per key (KEY_MAX_UPLOADS) and per client
 * address (ADDRESS_MAX_UPLOADS), before the body is read.
 */

/** Connections a test holds open. */
const held: RawConnection[] = [];
/** Registered in each block after its server: after-hooks run last-registered first, so before the health check. */
const dropHeld = () => {
  for (const c of held.splice(0)) c.socket.destroy();
};

/** Begins a held upload (see beginHeldUpload), closed after the test. */
async function holdUpload(server: TestServer, path: string, headers: Record<string, string> = {}, from?: string, fileField?: string): Promise<RawConnection> {
  const conn = await beginHeldUpload(server.url, path, { headers, from, fileField });
  held.push(conn);
  return conn;
}

/** Waits until `conns` are all being stored (their file parts on disk), failing with the answer any of them got instead. */
async function expectReceiving(server: TestServer, conns: RawConnection[]): Promise<void> {
  const answered = Promise.race(conns.map((c) => c.response)).then((r) => {
    throw new Error(`a held upload was answered ${r.status}: ${r.body}`);
  });
  answered.catch(() => undefined);
  const stored = (async () => {
    while ((await server.tempFiles()).length < conns.length) await new Promise((r) => setTimeout(r, 20));
  })();
  await withTimeout(Promise.race([stored, answered]), 5000, `${conns.length} uploads being received`);
}

async function expectRefusedEarly(server: TestServer, conn: RawConnection, setting: RegExp): Promise<void> {
  const res = await withTimeout(conn.response, 5000, 'the 429 refusal');
  expectRawError(res, 429, 'RATE_LIMITED', server, setting);
  expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
  // Refused on the head.
  expectAnsweredBeforeBody(conn);
}

/** A whole upload of SHORT on a raw connection (from a chosen local address), and its answer. */
async function rawTranscribe(server: TestServer, path: string, from: string): Promise<{ status: number; body: string }> {
  const body = multipartBody([{ headers: 'Content-Disposition: form-data; name="file"; filename="clip.wav"\r\nContent-Type: audio/wav', body: readFileSync(SHORT.path) }]);
  const conn = await rawConnect(server.url, from);
  held.push(conn);
  await conn.write(requestHead(path, { 'Content-Type': `multipart/form-data; boundary=${BOUNDARY}`, 'Content-Length': body.length }));
  await conn.write(body);
  return withTimeout(conn.response, 20_000, 'the transcript');
}

describe('with API keys: KEY_MAX_UPLOADS', () => {
  let server: TestServer;
  // Two places in line (one engine, one waiting), fewer than one key's uploads in flight.
  serveForHostileTests((s) => (server = s), {
    AUTH_MODE: 'api_key',
    IN_PROCESS_CONCURRENCY: '1',
    MAX_QUEUE_SIZE: '1',
    KEY_MAX_UPLOADS: '3',
    ADDRESS_MAX_UPLOADS: '0',
  });
  afterEach(dropHeld);
  let slow: Record<string, string>;
  let other: Record<string, string>;
  beforeAll(async () => {
    slow = { Authorization: `Bearer ${await createKeyWithCli(server.dataDir, 'slow', 'transcribe,jobs')}` };
    other = { Authorization: `Bearer ${await createKeyWithCli(server.dataDir, 'other', 'transcribe')}` };
  });

  it('one key\'s slow uploads take no place in line: another key\'s request is transcribed', async () => {
    const conns = [];
    for (let i = 0; i < 3; i++) conns.push(await holdUpload(server, '/transcriptions/sync', slow));
    await expectReceiving(server, conns);
    const res = await postForm(`${server.url}/transcriptions/sync`, { file: { path: SHORT.path } }, { headers: other });
    expect(res.status, await res.clone().text()).toBe(200);
    expect(((await res.json()) as { text: string }).text.length).toBeGreaterThan(0);
  });

  it('refuses an upload past KEY_MAX_UPLOADS with 429 before its body, and not another key\'s', async () => {
    const conns = [];
    for (let i = 0; i < 3; i++) conns.push(await holdUpload(server, '/transcriptions', slow));
    await expectReceiving(server, conns);
    await expectRefusedEarly(server, await holdUpload(server, '/transcriptions', slow), /KEY_MAX_UPLOADS=3/);
    expect((await server.tempFiles()).length).toBe(3);
    await expectReceiving(server, [...conns, await holdUpload(server, '/transcriptions', other)]);
  });

  it('counts every route that takes an upload: sync, OpenAI and job submission', async () => {
    const conns = [
      await holdUpload(server, '/transcriptions/sync', slow),
      await holdUpload(server, '/v1/audio/transcriptions', slow),
      await holdUpload(server, '/api/v1/jobs', slow),
    ];
    await expectReceiving(server, conns);
    await expectRefusedEarly(server, await holdUpload(server, '/api/v1/transcribe/batch', slow), /KEY_MAX_UPLOADS/);
    await expectRefusedEarly(server, await holdUpload(server, '/v1/audio/transcriptions', slow), /KEY_MAX_UPLOADS/);
  });

  it('gives the count back however an upload ends: client gone, refused, malformed, completed', async () => {
    for (let round = 0; round < 3; round++) {
      // Client gone mid-body.
      const gone = await holdUpload(server, '/transcriptions', slow);
      await expectReceiving(server, [gone]);
      gone.socket.destroy();
      // Refused before the body (an unknown engine), and a refusal mid-body (a file part under another name).
      const unknown = await holdUpload(server, '/transcriptions?engine=bogus', slow);
      expect((await withTimeout(unknown.response, 5000, 'MODEL_NOT_FOUND')).status).toBe(400);
      const malformed = await holdUpload(server, '/transcriptions', slow, undefined, 'other');
      expect((await withTimeout(malformed.response, 5000, 'INVALID_REQUEST')).status).toBe(400);
      // Not multipart at all.
      const text = await fetch(`${server.url}/transcriptions`, { method: 'POST', headers: { ...slow, 'Content-Type': 'text/plain' }, body: 'hello' });
      expect(text.status).toBe(415);
      // Completed (the count is given back when the upload is in, before the transcript).
      const done = await postForm(`${server.url}/transcriptions`, { file: { path: SHORT.path } }, { headers: slow });
      expect(done.status).toBe(200);
      for (const c of held.splice(0)) c.socket.destroy();
      await waitNoTempFiles(server);
    }
    // Nothing leaked: the key still has all of its KEY_MAX_UPLOADS, and not one more.
    const conns = [];
    for (let i = 0; i < 3; i++) conns.push(await holdUpload(server, '/transcriptions', slow));
    await expectReceiving(server, conns);
    await expectRefusedEarly(server, await holdUpload(server, '/transcriptions', slow), /KEY_MAX_UPLOADS/);
  });
});

describe('without keys: ADDRESS_MAX_UPLOADS', () => {
  let server: TestServer;
  serveForHostileTests((s) => (server = s), { IN_PROCESS_CONCURRENCY: '1', MAX_QUEUE_SIZE: '1', ADDRESS_MAX_UPLOADS: '3' });
  afterEach(dropHeld);

  it('caps one address\'s uploads in flight; another address is transcribed meanwhile', async () => {
    const conns = [];
    for (let i = 0; i < 3; i++) conns.push(await holdUpload(server, '/transcriptions/sync', {}, '127.0.0.1'));
    await expectReceiving(server, conns);
    await expectRefusedEarly(server, await holdUpload(server, '/v1/audio/transcriptions', {}, '127.0.0.1'), /ADDRESS_MAX_UPLOADS=3/);
    const res = await rawTranscribe(server, '/transcriptions/sync', '127.0.0.2');
    expect(res.status, res.body).toBe(200);
    for (const c of held.splice(0)) c.socket.destroy();
    await waitNoTempFiles(server);
    // The address's count came back with the connections.
    const again = [];
    for (let i = 0; i < 3; i++) again.push(await holdUpload(server, '/api/v1/jobs', {}, '127.0.0.1'));
    await expectReceiving(server, again);
  });
});

describe('an upload cut at REQUEST_TIMEOUT_SECONDS', () => {
  let server: TestServer;
  serveForHostileTests((s) => (server = s), { ADDRESS_MAX_UPLOADS: '1', REQUEST_TIMEOUT_SECONDS: '1' });
  afterEach(dropHeld);

  it('gives its count back', async () => {
    const first = await holdUpload(server, '/transcriptions');
    await expectReceiving(server, [first]);
    await withTimeout(first.closed, 5000, 'the request timeout');
    await waitNoTempFiles(server);
    // The connection is cut, not answered: the next upload from the same address is accepted.
    await expectReceiving(server, [await holdUpload(server, '/transcriptions')]);
  });
});

async function waitNoTempFiles(server: TestServer): Promise<void> {
  const deadline = Date.now() + 5000;
  while ((await server.tempFiles()).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  expect(await server.tempFiles()).toEqual([]);
}
