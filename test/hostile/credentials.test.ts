import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { loadConfig, type Config } from '../../src/config/index.js';
import { createLogger } from '../../src/logger.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { waitFor } from '../support/child-server.js';
import { expectNoLeak, expectRawError, rawRequest, requestHead, type RawResponse } from '../support/hostile-http.js';
import { createKeyWithCli, keysCli } from '../support/keys-cli.js';
import type { TestServer } from '../support/server.js';

/*
 * How credentials can leak or be guessed: a key in a logged URL, a client that
 * forges the request id other lines are found by, keys guessed one 401 at a time,
 * a copied session cookie that outlives its logout, and a public probe that names
 * files. One server with TRUST_PROXY=127.0.0.1, so each test can speak from an
 * address of its own (X-Forwarded-For) and one test's refusals do not reach another's.
 */

const LIMIT = 50;
let server: RunningServer & { dataDir: string; config: Config };
let transcribe: string;
let jobsOnly: string;
let admin: string;
const log: string[] = [];
let dataDir: string;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'hark-credentials-'));
  const config = loadConfig({
    env: {
      HOST: '127.0.0.1',
      PORT: '0',
      DATA_DIR: dataDir,
      LOG_LEVEL: 'info',
      ENABLE_PROCESS_ISOLATED: 'false',
      IN_PROCESS_CONCURRENCY: '1',
      AUTH_MODE: 'api_key',
      RATE_LIMIT_PER_MINUTE: String(LIMIT),
      TRUST_PROXY: '127.0.0.1',
      ENABLE_DOCS: 'true',
      // whisper has no model here: it fails to load, and its error names the missing file.
      ENGINES: 'pocketsphinx,whisper',
      ENGINE: 'pocketsphinx',
      MODELS_DIR: join(dataDir, 'models'),
      WHISPER_MODEL_SIZE: 'small.en',
    },
  });
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      log.push(chunk.toString('utf8'));
      done();
    },
  });
  const running = await startServer(config, createLogger(config.LOG_LEVEL, sink));
  await running.ready;
  server = Object.assign(running, { dataDir, config });
  [transcribe, jobsOnly, admin] = await Promise.all([
    createKeyWithCli(dataDir, 'mic', 'transcribe,jobs'),
    createKeyWithCli(dataDir, 'batch', 'jobs'),
    createKeyWithCli(dataDir, 'ops', 'admin'),
  ]);
}, 60_000);

afterAll(async () => {
  await server?.close();
  if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
});

const asTest = () => server as unknown as TestServer;
let nextAddress = 10;
/** A client address of its own (TRUST_PROXY=127.0.0.1 believes X-Forwarded-For). */
const address = () => ({ 'X-Forwarded-For': `203.0.113.${nextAddress++}` });

function send(method: string, target: string, headers: Record<string, string>): Promise<RawResponse> {
  const head = requestHead(target, { ...headers, 'Content-Length': 0, Connection: 'close' }, method);
  return rawRequest(server.url, head.replace('Host: 127.0.0.1', `Host: ${new URL(server.url).host}`));
}

function upgrade(query: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${server.url.replace(/^http/, 'ws')}/v1/audio/stream${query}`, { headers });
    ws.on('open', () => (ws.close(), resolve(101)));
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.on('error', () => resolve(0));
  });
}

describe('keys in the log', () => {
  it('writes no ?api_key= (nor ?ticket=) of a stream URL to the log', async () => {
    const from = address();
    expect(await upgrade(`?api_key=${encodeURIComponent(transcribe)}&isolation=in-process`, from)).toBe(101);
    expect(await upgrade(`?ticket=not-a-ticket-0123456789`, from)).toBe(401);
    await waitFor(() => log.join('').includes('not-a-ticket') || log.join('').split('/v1/audio/stream').length > 2, 3000, 20);
    const text = log.join('');
    expect(text).toContain('/v1/audio/stream?api_key=[redacted]&isolation=in-process');
    expect(text).not.toContain(transcribe);
    expect(text).not.toContain(transcribe.slice(5));
    expect(text).not.toContain('not-a-ticket');
  });
});

describe('stream tickets (the page opens streams without its key in the URL)', () => {
  const ticketFor = async (key: string) => {
    const res = await fetch(`${server.url}/api/v1/stream-ticket`, { method: 'POST', headers: { authorization: `Bearer ${key}`, ...address() } });
    return { status: res.status, body: (await res.json()) as { ticket: string; expires_in: number } };
  };

  it('POST /api/v1/stream-ticket gives a short-lived ticket that opens one stream, once', async () => {
    const { status, body } = await ticketFor(transcribe);
    expect(status).toBe(200);
    expect(body.expires_in).toBeGreaterThan(0);
    expect(body.expires_in).toBeLessThanOrEqual(60);
    expect(body.ticket).not.toContain(transcribe);
    expect(await upgrade(`?ticket=${encodeURIComponent(body.ticket)}`, address())).toBe(101);
    // Single use: a copy (from a log, a proxy, the browser's history) opens nothing.
    expect(await upgrade(`?ticket=${encodeURIComponent(body.ticket)}`, address())).toBe(401);
  });

  it('refuses a forged ticket, a ticket off the stream, and a ticket for a key without transcribe', async () => {
    const { body } = await ticketFor(transcribe);
    const [id, expires, nonce] = body.ticket.split('.');
    const forged = `${id}.${Number(expires) + 3_600_000}.${nonce}.AAAA`;
    expect(await upgrade(`?ticket=${encodeURIComponent(forged)}`, address())).toBe(401);
    // Not a key: it opens no other route.
    expect((await send('GET', `/api/v1/jobs?ticket=${encodeURIComponent(body.ticket)}`, address())).status).toBe(401);
    expect((await send('GET', '/api/v1/jobs', { ...address(), Authorization: `Bearer ${body.ticket}` })).status).toBe(401);
    expect((await ticketFor(jobsOnly)).status).toBe(403);
  });

  it('refuses a ticket whose key was revoked after it was made', async () => {
    const key = await createKeyWithCli(dataDir, 'short-lived', 'transcribe');
    const { status, body } = await ticketFor(key);
    expect(status).toBe(200);
    const id = /^(\S+) {2}short-lived /m.exec((await keysCli(['list'], dataDir)).stdout)![1]!;
    expect((await keysCli(['revoke', id], dataDir)).code).toBe(0);
    expect(await upgrade(`?ticket=${encodeURIComponent(body.ticket)}`, address())).toBe(401);
  }, 30_000);
});

describe('guessing keys', () => {
  it(`answers 429 RATE_LIMITED past ${LIMIT} failed keys a minute from one address, before looking at the key`, async () => {
    const from = address();
    const statuses: number[] = [];
    for (let i = 0; i < 200; i++) {
      const res = await send('GET', '/api/v1/jobs', { ...from, Authorization: `Bearer hark_guess${String(i).padStart(39, '0')}` });
      statuses.push(res.status);
    }
    expect(statuses.slice(0, LIMIT).every((s) => s === 401), statuses.join(',')).toBe(true);
    expect(statuses.slice(LIMIT).every((s) => s === 429), statuses.join(',')).toBe(true);
    const last = await send('GET', '/api/v1/jobs', { ...from, Authorization: 'Bearer hark_wrong' });
    expectRawError(last, 429, 'RATE_LIMITED', asTest());
    expect(Number(last.headers['retry-after'])).toBeGreaterThan(0);
    // No oracle: a right key from that address is refused the same way until the minute is over.
    expect((await send('GET', '/api/v1/jobs', { ...from, Authorization: `Bearer ${jobsOnly}` })).status).toBe(429);
    // Other addresses and the probes are not affected.
    expect((await send('GET', '/api/v1/jobs', { ...address(), Authorization: `Bearer ${jobsOnly}` })).status).toBe(200);
    expect((await send('GET', '/healthz', from)).status).toBe(200);
  }, 30_000);
});

describe('the API document', () => {
  it('/docs/json and /docs/yaml count against RATE_LIMIT_PER_MINUTE', async () => {
    const from = address();
    const statuses: number[] = [];
    for (let i = 0; i < LIMIT + 2; i++) statuses.push((await send('GET', i % 2 === 0 ? '/docs/json' : '/docs/yaml', from)).status);
    expect(statuses.slice(0, LIMIT).every((s) => s === 200), statuses.join(',')).toBe(true);
    expect(statuses.slice(LIMIT)).toEqual([429, 429]);
  }, 30_000);
});

describe('X-Request-Id from the client', () => {
  it('is not taken as the request id: the server makes its own and logs the client\'s beside it', async () => {
    const res = await send('GET', '/healthz', { ...address(), 'X-Request-Id': 'forged-correlation-id' });
    const id = res.headers['x-request-id'];
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    await waitFor(() => log.some((l) => l.includes('forged-correlation-id')), 3000, 20);
    const lines = log.flatMap((l) => l.split('\n')).filter((l) => l !== '').map((l) => JSON.parse(l) as { requestId?: string; clientRequestId?: string; msg: string });
    expect(lines.some((l) => l.requestId === 'forged-correlation-id')).toBe(false);
    expect(lines.find((l) => l.clientRequestId === 'forged-correlation-id')).toMatchObject({ requestId: id, msg: 'incoming request' });
  });
});

describe('DELETE /api/v1/session', () => {
  it('ends the cookie on the server: a copy taken before the logout opens nothing', async () => {
    const from = address();
    const made = await send('POST', '/api/v1/session', { ...from, Authorization: `Bearer ${jobsOnly}` });
    const cookie = (made.headers['set-cookie'] ?? '').split(';')[0]!;
    expect(cookie).toMatch(/^hark_session=.+/);
    expect((await send('GET', '/api/v1/jobs', { ...from, Cookie: cookie })).status).toBe(200);
    expect((await send('DELETE', '/api/v1/session', { ...from, Authorization: `Bearer ${jobsOnly}` })).status).toBe(204);
    expectRawError(await send('GET', '/api/v1/jobs', { ...from, Cookie: cookie }), 401, 'UNAUTHORIZED', asTest());
    // Logging in again works at once (same second included).
    const again = await send('POST', '/api/v1/session', { ...from, Authorization: `Bearer ${jobsOnly}` });
    expect((await send('GET', '/api/v1/jobs', { ...from, Cookie: (again.headers['set-cookie'] ?? '').split(';')[0]! })).status).toBe(200);
  });
});

describe('/readyz', () => {
  it('shows a public probe its status only: no engine errors, no file paths', async () => {
    const res = await send('GET', '/readyz', address());
    expect(res.status).toBe(200);
    expectNoLeak(res.body, asTest());
    expect(res.body).not.toContain('ggml-small.en.bin');
    expect(res.body).not.toContain(dataDir);
    const body = JSON.parse(res.body) as Record<string, unknown>;
    expect(body['status']).toBe('degraded');
    expect(body['engines']).toBeUndefined();
    // A wrong key is no way in either.
    expect(JSON.parse((await send('GET', '/readyz', { ...address(), Authorization: 'Bearer hark_wrong' })).body)).not.toHaveProperty('engines');
    expect(JSON.parse((await send('GET', '/readyz', { ...address(), Authorization: `Bearer ${jobsOnly}` })).body)).not.toHaveProperty('engines');
  });

  it('shows an admin key the detail', async () => {
    const res = await send('GET', '/readyz', { ...address(), Authorization: `Bearer ${admin}` });
    const body = JSON.parse(res.body) as { engines: { name: string; error?: { message: string } }[] };
    expect(body.engines.find((e) => e.name === 'whisper')?.error?.message).toContain('ggml-small.en.bin');
  });
});
