import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/index.js';
import { installErrorHandler } from '../src/http/error-handler.js';
import { createLogger } from '../src/logger.js';
import { startServer, type RunningServer } from '../src/server.js';
import { waitFor } from './support/child-server.js';
import { clip } from './support/corpus.js';
import { postAudio } from './support/http.js';
import { filesUnder } from './support/server.js';

const ALLOWED_ORIGIN = 'https://app.example';
const UPSTREAM_KEY = 'sk-upstream-secret-abc123';
const BEARER = 'secret-xyz';
const audio = clip('1089-134686-0001').path;

let server: RunningServer;
let dataDir: string;
const log: string[] = [];

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'hark-hygiene-'));
  const config = loadConfig({
    env: {
      HOST: '127.0.0.1',
      PORT: '0',
      DATA_DIR: dataDir,
      LOG_LEVEL: 'debug',
      ENABLE_PROCESS_ISOLATED: 'false',
      // The upstream is on loopback and OUTBOUND_ALLOW is empty: that engine must fail to load.
      ENGINES: 'pocketsphinx,upstream',
      ENGINE: 'pocketsphinx',
      UPSTREAM_BASE_URL: 'http://127.0.0.1:9/v1',
      UPSTREAM_API_KEY: UPSTREAM_KEY,
      CORS_ORIGINS: ALLOWED_ORIGIN,
      REQUEST_TIMEOUT_SECONDS: '2',
    },
  });
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      log.push(chunk.toString('utf8'));
      done();
    },
  });
  server = await startServer(config, createLogger(config.LOG_LEVEL, sink));
  await server.ready;
}, 60_000);

afterAll(async () => {
  await server?.close();
  if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
});

describe('outbound guard at the HTTP edge', () => {
  it('refuses a webhook to a private or loopback address at submit (400 INVALID_CALLBACK_URL), storing nothing', async () => {
    for (const url of ['http://127.0.0.1:9/hook', 'http://169.254.169.254/latest', 'http://[::1]/hook', 'http://localhost/hook', 'http://10.0.0.7/hook']) {
      const res = await postAudio(`${server.url}/api/v1/jobs`, audio, { callback_url: url });
      expect(res.status, url).toBe(400);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code, url).toBe('INVALID_CALLBACK_URL');
      expect(body.error.message, url).toMatch(/OUTBOUND_ALLOW/);
    }
    const list = (await (await fetch(`${server.url}/api/v1/jobs`)).json()) as { jobs: unknown[] };
    expect(list.jobs).toEqual([]);
  });

  it('fails to load an engine whose URL is refused, saying why in /readyz', async () => {
    const text = await (await fetch(`${server.url}/readyz`)).text();
    expect(text).toMatch(/UPSTREAM_BASE_URL refused: 127\.0\.0\.1 is a loopback address/);
  });
});

describe('security headers and CORS', () => {
  it('puts helmet headers on every answer, API, 404 and the page, and keeps the page\'s own CSP', async () => {
    for (const path of ['/healthz', '/no/such/path', '/v1/models']) {
      const res = await fetch(`${server.url}${path}`);
      expect(res.headers.get('x-content-type-options'), path).toBe('nosniff');
      expect(res.headers.get('x-frame-options'), path).toBe('SAMEORIGIN');
      expect(res.headers.get('strict-transport-security'), path).toMatch(/max-age=/);
      expect(res.headers.get('content-security-policy'), path).toContain("default-src 'none'");
    }
    const page = await fetch(`${server.url}/`);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(page.headers.get('content-security-policy')).not.toContain('unsafe');
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('serves /docs (swagger-ui) with a CSP that lets its own scripts and styles load', async () => {
    const res = await fetch(`${server.url}/docs/`, { redirect: 'follow' });
    expect(res.status).toBe(200);
    const html = await res.text();
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("style-src 'self' 'unsafe-inline'");
    // Every script the page names is served by hark itself, and answers.
    const scripts = [...html.matchAll(/<script src="([^"]+)"/g)].map((m) => m[1]!);
    expect(scripts.length).toBeGreaterThan(0);
    for (const src of scripts) {
      expect(src.startsWith('http')).toBe(false);
      expect((await fetch(new URL(src, `${server.url}/docs/`))).status, src).toBe(200);
    }
  });

  it('answers a CORS preflight from an allowed origin, and not from another', async () => {
    const preflight = (origin: string) =>
      fetch(`${server.url}/v1/audio/transcriptions`, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization' },
      });
    const ok = await preflight(ALLOWED_ORIGIN);
    expect(ok.status).toBeLessThan(300);
    expect(ok.headers.get('access-control-allow-origin')).toBe(ALLOWED_ORIGIN);
    expect(ok.headers.get('access-control-allow-methods')).toContain('POST');
    const refused = await preflight('https://evil.example');
    expect(refused.headers.get('access-control-allow-origin')).toBeNull();
    const simple = await fetch(`${server.url}/healthz`, { headers: { origin: 'https://evil.example' } });
    expect(simple.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('slow clients and errors', () => {
  it('cuts an upload whose body trickles in (slow loris) at REQUEST_TIMEOUT_SECONDS, leaving no temp file', async () => {
    const socket = connect(Number(new URL(server.url).port), '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    const boundary = 'slowloris';
    const head = `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\nContent-Type: audio/wav\r\n\r\n`;
    socket.write(
      `POST /v1/audio/transcriptions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=${boundary}\r\nContent-Length: 1000000\r\n\r\n${head}`,
    );
    socket.write(Buffer.alloc(4096, 1));
    let answer = '';
    socket.on('data', (d: Buffer) => (answer += d.toString('latin1')));
    const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now())));
    const started = Date.now();
    // One byte every 200 ms: the connection is never idle, the request never completes.
    const drip = setInterval(() => socket.writable && socket.write(Buffer.alloc(1, 1)), 200);
    await waitFor(async () => (await filesUnder(join(dataDir, 'tmp'))).length > 0, 5000, 20);
    const at = await Promise.race([closed, new Promise<number>((r) => setTimeout(() => r(-1), 10_000))]);
    clearInterval(drip);
    socket.destroy();
    expect(at).toBeGreaterThan(0);
    expect(at - started).toBeLessThan(5000);
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
    await waitFor(async () => (await filesUnder(join(dataDir, 'tmp'))).length === 0, 5000);
  }, 20_000);

  it('answers an unexpected error with a generic 500 body: no stack, no internal message', async () => {
    const app = Fastify();
    installErrorHandler(app);
    app.get('/boom', async () => {
      throw new Error('database password is hunter2 at /srv/secret/path.ts:12');
    });
    const res = await app.inject({ method: 'GET', url: '/boom' });
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual({ error: { code: 'INTERNAL_ERROR', message: 'internal server error' } });
    expect(res.body).not.toMatch(/hunter2|stack|\.ts:|at /);
    await app.close();
  });
});

describe('secrets in logs', () => {
  it('never writes the Authorization header or UPSTREAM_API_KEY to the log', async () => {
    const res = await fetch(`${server.url}/v1/models`, { headers: { authorization: `Bearer ${BEARER}`, 'x-api-key': BEARER, cookie: `s=${BEARER}` } });
    expect(res.status).toBe(200);
    await postAudio(`${server.url}/api/v1/jobs`, audio, { callback_url: 'http://127.0.0.1:9/' }, { headers: { authorization: `Bearer ${BEARER}` } });
    const text = log.join('');
    // The log did record those requests (at debug, with their headers).
    expect(text).toContain('/v1/models');
    expect(text).not.toContain(BEARER);
    expect(text).not.toContain(UPSTREAM_KEY);
  });

  it('redacts credentials wherever a logged object carries them (headers, the configuration)', () => {
    const lines: string[] = [];
    const logger = createLogger('info', { write: (line: string) => void lines.push(line) });
    const config = loadConfig({ env: { UPSTREAM_API_KEY: UPSTREAM_KEY, WEBHOOK_SECRET: BEARER, DATABASE_URL: 'postgres://hark:pw-123456@db/hark' } });
    logger.info({ req: { headers: { authorization: `Bearer ${BEARER}`, 'x-api-key': BEARER } }, config }, 'start');
    const text = lines.join('');
    expect(text).toContain('[redacted]');
    expect(text).toContain('"HOST":"127.0.0.1"');
    for (const secret of [BEARER, UPSTREAM_KEY, 'pw-123456']) expect(text).not.toContain(secret);
  });
});
