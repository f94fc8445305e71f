import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectRawError, rawRequest, requestHead, SHORT, type RawResponse } from '../support/hostile-http.js';
import { createKeyWithCli } from '../support/keys-cli.js';
import { postForm, startTestServer, type TestServer } from '../support/server.js';

/*
 * What a web page on another site can make a browser do to hark: DNS rebinding
 * (the page's own name re-pointed at 127.0.0.1, so the browser sends
 * `Host: evil.example`), cross-site form POSTs, and WebSocket upgrades (which
 * CORS does not cover). Requests go out raw, so the Host, Origin and
 * Sec-Fetch-Site headers are exactly what a browser would send.
 */

const ALLOWED_ORIGIN = 'https://app.example';
const UPGRADE = { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==' };

/** One request with the given head, Host included (the default Host of requestHead is replaced). */
/** Opens the stream with `ws` (as a CLI or SDK does) and closes it: 101, or the status of the refusal. */
function upgrade(server: TestServer, headers: Record<string, string>, query = ''): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${server.url.replace(/^http/, 'ws')}/v1/audio/stream${query}`, { headers });
    ws.on('open', () => (ws.close(), resolve(101)));
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.on('error', () => resolve(0));
  });
}

function send(server: TestServer, method: string, target: string, headers: Record<string, string | number>, body = ''): Promise<RawResponse> {
  const head = requestHead(target, { ...headers, 'Content-Length': Buffer.byteLength(body), Connection: 'close' }, method);
  const withHost = 'Host' in headers ? head.replace('Host: 127.0.0.1\r\n', '') : head.replace('Host: 127.0.0.1', `Host: ${new URL(server.url).host}`);
  return rawRequest(server.url, withHost + body);
}

describe('AUTH_MODE=none: DNS rebinding and cross-site writes', () => {
  let server: TestServer;
  let own: string;
  beforeAll(async () => {
    server = await startTestServer({ ALLOWED_HOSTS: 'hark.internal,files.example:8443', CORS_ORIGINS: ALLOWED_ORIGIN });
    own = new URL(server.url).host;
    // One job, so a list that answers would show something.
    expect((await postForm(`${server.url}/api/v1/jobs`, { file: { path: SHORT.path } })).status).toBe(202);
  }, 60_000);
  afterAll(async () => server?.stop());

  it.each(['evil.example', 'evil.example:8000', 'localhost.evil.example', 'files.example:9000'])(
    'a rebound name (Host: %s) reads no job list: 403 HOST_NOT_ALLOWED',
    async (host) => {
      const res = await send(server, 'GET', '/api/v1/jobs', { Host: host });
      expectRawError(res, 403, 'HOST_NOT_ALLOWED', server, /ALLOWED_HOSTS/);
      expect(res.body).not.toContain('job_id');
      expect(res.body).not.toContain('"jobs"');
    },
  );

  it('a forwarded host does not stand in for the Host (no TRUST_PROXY)', async () => {
    expectRawError(await send(server, 'GET', '/api/v1/jobs', { Host: 'evil.example', 'X-Forwarded-Host': 'localhost' }), 403, 'HOST_NOT_ALLOWED', server);
  });

  it.each(['localhost', 'localhost:1234', '127.0.0.1', '127.0.0.5:80', '[::1]:8000', 'hark.internal', 'HARK.internal:9999', 'files.example:8443', '10.1.2.3:8000', '[fd00::7]'])(
    'answers Host: %s (loopback, an address, or ALLOWED_HOSTS)',
    async (host) => {
      const res = await send(server, 'GET', '/api/v1/jobs', { Host: host });
      expect(res.status, res.body).toBe(200);
    },
  );

  it('answers a Kubernetes probe that sends the pod IP as Host', async () => {
    for (const path of ['/healthz', '/readyz']) expect((await send(server, 'GET', path, { Host: '10.244.1.17:8000' })).status, path).toBe(200);
  });

  it('refuses a cross-site multipart POST (Origin: http://evil.example): 403 CROSS_SITE_REQUEST, no job made', async () => {
    const before = ((await (await fetch(`${server.url}/api/v1/jobs`)).json()) as { jobs: unknown[] }).jobs.length;
    const res = await postForm(`${server.url}/api/v1/jobs`, { file: { path: SHORT.path } }, { headers: { origin: 'http://evil.example' } });
    const body = await res.text();
    expect(res.status, body).toBe(403);
    expect(JSON.parse(body)).toMatchObject({ error: { code: 'CROSS_SITE_REQUEST' } });
    const after = ((await (await fetch(`${server.url}/api/v1/jobs`)).json()) as { jobs: unknown[] }).jobs.length;
    expect(after).toBe(before);
  });

  it.each([
    ['POST', '/transcriptions', { Origin: 'null' }],
    ['POST', '/api/v1/jobs/x/cancel', { Origin: 'http://127.0.0.1.evil.example' }],
    ['DELETE', '/api/v1/jobs/x', { Origin: 'http://evil.example' }],
    ['POST', '/api/v1/jobs', { 'Sec-Fetch-Site': 'cross-site' }],
    ['DELETE', '/api/v1/session', { 'Sec-Fetch-Site': 'same-site' }],
  ])('refuses %s %s sent from another site (%j): 403 CROSS_SITE_REQUEST', async (method, target, headers) => {
    expectRawError(await send(server, method, target, headers), 403, 'CROSS_SITE_REQUEST', server);
  });

  it('lets the page itself and CORS_ORIGINS write', async () => {
    for (const origin of [server.url, ALLOWED_ORIGIN]) {
      const res = await postForm(`${server.url}/api/v1/jobs`, { file: { path: SHORT.path } }, { headers: { origin, 'sec-fetch-site': origin === server.url ? 'same-origin' : 'cross-site' } });
      expect(res.status, `${origin}: ${await res.clone().text()}`).toBe(202);
    }
    // Reads stay as they were: CORS decides what another site may see.
    expect((await send(server, 'GET', '/api/v1/jobs', { Origin: 'http://evil.example' })).status).toBe(200);
  });

  it('refuses a WebSocket upgrade from a page on another site: 403 CROSS_SITE_REQUEST before the upgrade', async () => {
    for (const origin of ['http://evil.example', 'null', `http://${own}.evil.example`]) {
      const res = await send(server, 'GET', '/v1/audio/stream', { ...UPGRADE, Origin: origin });
      expectRawError(res, 403, 'CROSS_SITE_REQUEST', server, /CORS_ORIGINS/);
    }
  });

  it('upgrades without an Origin (CLI, SDKs), from its own origin and from CORS_ORIGINS', async () => {
    for (const headers of [{}, { Origin: server.url }, { Origin: ALLOWED_ORIGIN }] as Record<string, string>[]) expect(await upgrade(server, headers), JSON.stringify(headers)).toBe(101);
  });
});

describe('AUTH_MODE=api_key: the Origin of an upgrade, the Host, and TRUST_PROXY', () => {
  let server: TestServer;
  let proxied: TestServer;
  let key: string;
  let proxiedKey: string;
  beforeAll(async () => {
    [server, proxied] = await Promise.all([
      startTestServer({ AUTH_MODE: 'api_key' }),
      startTestServer({ AUTH_MODE: 'api_key', TRUST_PROXY: '127.0.0.1' }),
    ]);
    [key, proxiedKey] = await Promise.all([createKeyWithCli(server.dataDir, 'page', 'transcribe,jobs'), createKeyWithCli(proxied.dataDir, 'page', 'transcribe,jobs')]);
  }, 60_000);
  afterAll(async () => Promise.all([server?.stop(), proxied?.stop()]));

  it('refuses an upgrade from another site even with a valid key', async () => {
    const res = await send(server, 'GET', `/v1/audio/stream?api_key=${encodeURIComponent(key)}`, { ...UPGRADE, Origin: 'http://evil.example' });
    expectRawError(res, 403, 'CROSS_SITE_REQUEST', server);
  });

  it('checks no Host with keys on (ALLOWED_HOSTS is for AUTH_MODE=none)', async () => {
    expect((await send(server, 'GET', '/api/v1/jobs', { Host: 'hark.example.com', Authorization: `Bearer ${key}` })).status).toBe(200);
  });

  it('marks the session cookie Secure behind a trusted TLS proxy (TRUST_PROXY), and only then', async () => {
    const viaProxy = await send(proxied, 'POST', '/api/v1/session', { Authorization: `Bearer ${proxiedKey}`, 'X-Forwarded-Proto': 'https' });
    expect(viaProxy.status, viaProxy.body).toBe(204);
    expect(viaProxy.headers['set-cookie']).toMatch(/; Secure/);
    const plain = await send(proxied, 'POST', '/api/v1/session', { Authorization: `Bearer ${proxiedKey}` });
    expect(plain.headers['set-cookie']).not.toMatch(/Secure/);
    // Without TRUST_PROXY the header is anyone's to send, and is ignored.
    const untrusted = await send(server, 'POST', '/api/v1/session', { Authorization: `Bearer ${key}`, 'X-Forwarded-Proto': 'https' });
    expect(untrusted.status).toBe(204);
    expect(untrusted.headers['set-cookie']).toMatch(/^hark_session=/);
    expect(untrusted.headers['set-cookie']).not.toMatch(/Secure/);
  });
});
