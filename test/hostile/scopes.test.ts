import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireRouteScopes, routeScopes } from '../../src/http/auth.js';
import { expectRawError, rawRequest, requestHead, type RawResponse } from '../support/hostile-http.js';
import { createKeyWithCli } from '../support/keys-cli.js';
import { startTestServer, type TestServer } from '../support/server.js';

/*
 * Authorization is read from the route the router matched, so every spelling of
 * a path the router accepts (percent-encoded, absolute-form, cut at `#`) needs
 * the scope of the route it reaches. Each of these got through with any valid key
 * while the scope came from regexes over the raw request target. Requests go out
 * raw, so no client normalises the path first.
 */

const METRICS_TOKEN = 'prometheus-scrape-token-0123456789';

let server: TestServer;
let transcribeKey: string;
let jobsKey: string;
let bothKey: string;
let adminKey: string;

beforeAll(async () => {
  server = await startTestServer({ AUTH_MODE: 'api_key', ENABLE_DEBUG_ENDPOINTS: 'true', ENABLE_DOCS: 'true', ROLE: 'all', METRICS_TOKEN });
  [transcribeKey, jobsKey, bothKey, adminKey] = await Promise.all([
    createKeyWithCli(server.dataDir, 'transcriber', 'transcribe'),
    createKeyWithCli(server.dataDir, 'batch', 'jobs'),
    createKeyWithCli(server.dataDir, 'page', 'transcribe,jobs'),
    createKeyWithCli(server.dataDir, 'ops', 'admin'),
  ]);
}, 60_000);
afterAll(async () => server?.stop());

/** One request with the target exactly as given; no body (a refusal comes before any body is read). */
function send(method: string, target: string, headers: Record<string, string> = {}): Promise<RawResponse> {
  return rawRequest(server.url, requestHead(target, { ...headers, 'Content-Length': 0, Connection: 'close' }, method));
}

const bearer = (key: string) => ({ Authorization: `Bearer ${key}` });

describe('a key without the scope of the route the router matches', () => {
  it.each([
    ['GET', '/%6Detrics', 'transcribe', 'admin'],
    ['GET', '/%64ebug/pool', 'transcribe', 'admin'],
    ['GET', 'http://x/debug/pool', 'transcribe', 'admin'],
    ['GET', 'http://x/metrics', 'jobs', 'admin'],
    ['GET', '/metrics#', 'transcribe', 'admin'],
    ['GET', '/debug/pool#x', 'jobs', 'admin'],
    ['POST', '/api/v1/%6Aobs', 'transcribe', 'jobs'],
    ['GET', '/api/v1/jobs/x/%61udio', 'transcribe', 'jobs'],
    ['POST', '/%74ranscriptions/sync', 'jobs', 'transcribe'],
    ['POST', '/v1/audio/%74ranscriptions', 'jobs', 'transcribe'],
  ])('%s %s with a %s-only key: 403 FORBIDDEN (needs %s)', async (method, target, has, needs) => {
    const res = await send(method, target, bearer(has === 'transcribe' ? transcribeKey : jobsKey));
    const message = expectRawError(res, 403, 'FORBIDDEN', server, new RegExp(`"${needs}" scope`));
    expect(JSON.parse(res.body)).toMatchObject({ error: { details: { required_scope: needs } } });
    // The message names the route's pattern, not the raw target.
    expect(message).not.toContain('%');
  });

  it.each([
    ['GET', '/%6Detrics'],
    ['GET', 'http://x/debug/pool'],
    ['GET', '/metrics#'],
    ['POST', '/api/v1/%6Aobs'],
    ['POST', '/%74ranscriptions/sync'],
  ])('%s %s with no key: 401 UNAUTHORIZED', async (method, target) => {
    expectRawError(await send(method, target), 401, 'UNAUTHORIZED', server);
  });

  it('lets the scope the route needs through, however the path is spelled', async () => {
    for (const target of ['/%6Detrics', 'http://x/metrics', '/metrics#']) {
      const res = await send('GET', target, bearer(adminKey));
      expect(res.status, `${target}: ${res.body}`).toBe(200);
      expect(res.body).toContain('hark_');
    }
    expect((await send('GET', '/%6Detrics', bearer(METRICS_TOKEN))).status).toBe(200);
    // METRICS_TOKEN opens /metrics only.
    expectRawError(await send('GET', '/%64ebug/pool', bearer(METRICS_TOKEN)), 401, 'UNAUTHORIZED', server);
    expect((await send('GET', '/%64ebug/pool', bearer(adminKey))).status).toBe(200);
  });
});

describe('the page\'s session cookie', () => {
  let cookie: string;
  beforeAll(async () => {
    const res = await fetch(`${server.url}/api/v1/session`, { method: 'POST', headers: bearer(bothKey) });
    expect(res.status).toBe(204);
    cookie = (res.headers.get('set-cookie') ?? '').split(';')[0]!;
    expect(cookie).toMatch(/^hark_session=.+/);
  });

  it('stands for its key on GET (the control)', async () => {
    expect((await send('GET', '/api/v1/jobs', { Cookie: cookie })).status).toBe(200);
  });

  it.each(['/v1/audio/stream', '/v1/audio/%73tream', 'http://x/v1/audio/stream'])('never opens the WebSocket at %s: 401', async (target) => {
    const upgrade = { Cookie: cookie, Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==' };
    expectRawError(await send('GET', target, upgrade), 401, 'UNAUTHORIZED', server);
  });

  it('never authorises a write, however the path is spelled: 401', async () => {
    expectRawError(await send('POST', '/api/v1/%6Aobs', { Cookie: cookie }), 401, 'UNAUTHORIZED', server);
  });
});

describe('every route declares its scope', () => {
  it('lists every route of a full server (api_key, debug, docs, ROLE=all) with its scope', () => {
    const table = routeScopes(server.app).filter((r) => r.method !== 'HEAD');
    const page = table.filter((r) => r.url.startsWith('/ui/') || r.url.startsWith('/docs'));
    expect(page.length).toBeGreaterThan(3);
    expect(page.every((r) => r.scope === 'public'), JSON.stringify(page)).toBe(true);
    const scopes = Object.fromEntries(table.filter((r) => !page.includes(r)).map((r) => [`${r.method} ${r.url}`, r.scope]));
    expect(scopes).toEqual({
      'OPTIONS *': 'public',
      'GET /': 'public',
      'GET /healthz': 'public',
      'GET /readyz': 'public',
      'GET /metrics': 'admin',
      'GET /debug/pool': 'admin',
      'POST /transcriptions': 'transcribe',
      'POST /transcriptions/sync': 'transcribe',
      'POST /transcriptions/process-isolated': 'transcribe',
      'POST /v1/audio/transcriptions': 'transcribe',
      'POST /v1/audio/diarization': 'transcribe',
      'GET /v1/audio/stream': 'transcribe',
      'GET /v1/realtime': 'transcribe',
      'POST /v1/audio/translations': 'transcribe',
      'GET /v1/models': 'transcribe',
      'GET /v1/models/:model': 'transcribe',
      'POST /v1/models/:model': 'admin',
      'DELETE /v1/models/:model': 'admin',
      'POST /api/v1/jobs': 'jobs',
      'POST /api/v1/transcribe/batch': 'jobs',
      'GET /api/v1/jobs': 'jobs',
      'GET /api/v1/jobs/:id': 'jobs',
      'GET /api/v1/jobs/:id/result': 'jobs',
      'PUT /api/v1/jobs/:id/speakers': 'jobs',
      'PUT /api/v1/jobs/:id/transcript': 'jobs',
      'PATCH /api/v1/jobs/:id': 'jobs',
      'POST /api/v1/jobs/delete': 'jobs',
      'POST /api/v1/jobs/export': 'jobs',
      'GET /api/v1/jobs/:id/revisions': 'jobs',
      'POST /api/v1/jobs/:id/cancel': 'jobs',
      'POST /api/v1/jobs/:id/retry': 'jobs',
      'DELETE /api/v1/jobs/:id': 'jobs',
      'GET /api/v1/jobs/:id/logs': 'jobs',
      'GET /api/v1/jobs/:id/logs/stream': 'jobs',
      'GET /api/v1/jobs/:id/audio': 'jobs',
      'GET /api/v1/capacity': 'any',
      'GET /api/v1/system': 'any',
      'GET /api/v1/system/memory': 'any',
      'POST /api/v1/session': 'any',
      'DELETE /api/v1/session': 'any',
      'POST /api/v1/stream-ticket': 'transcribe',
    });
    // HEAD routes (Fastify's, beside each GET) included.
    expect(routeScopes(server.app).filter((r) => r.scope === undefined)).toEqual([]);
  });

  it('refuses to start with a route that declares none', async () => {
    const app = Fastify();
    requireRouteScopes(app);
    app.get('/declared', { config: { scope: 'any' } }, async () => 'ok');
    app.post('/forgotten', async () => 'ok');
    await expect(app.ready()).rejects.toThrow(/without an authorization scope.*POST \/forgotten/);
    await app.close();
  });
});
