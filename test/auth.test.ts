import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import Fastify, { type FastifyBaseLogger } from 'fastify';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { loadConfig } from '../src/config/index.js';
import { installErrorHandler } from '../src/http/error-handler.js';
import { installAccess } from '../src/http/auth.js';
import { createLogger } from '../src/logger.js';
import { clip } from './support/corpus.js';
import { keysCli } from './support/keys-cli.js';
import { postForm, startTestServer, type TestServer } from './support/server.js';

const METRICS_TOKEN = 'prometheus-scrape-token-0123456789';

async function createKey(name: string, scopes: string): Promise<string> {
  const r = await keysCli(['create', '--name', name, '--scopes', scopes], server.dataDir);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.trim();
}

const c = clip('1089-134686-0000');
let server: TestServer;
let user: string; // transcribe, jobs
let other: string; // jobs
let admin: string;

const get = (path: string, key?: string, header: 'bearer' | 'x-api-key' = 'bearer') =>
  fetch(`${server.url}${path}`, { headers: key === undefined ? {} : header === 'bearer' ? { authorization: `Bearer ${key}` } : { 'x-api-key': key } });
const submit = (key: string) => postForm(`${server.url}/api/v1/jobs`, { file: { path: c.path } }, { headers: { authorization: `Bearer ${key}` } });

beforeAll(async () => {
  // ROLE=api claims no job, so submitted jobs stay queued (the active-jobs cap is then exact).
  server = await startTestServer({ AUTH_MODE: 'api_key', METRICS_TOKEN, ROLE: 'api', RATE_LIMIT_PER_MINUTE: '40', KEY_MAX_ACTIVE_JOBS: '2' });
  [user, other, admin] = await Promise.all([createKey('user', 'transcribe,jobs'), createKey('other', 'jobs'), createKey('ops', 'admin')]);
}, 60_000);
afterAll(async () => server?.stop());

describe('hark keys (CLI)', () => {
  it('prints a hark_ key once, lists keys, and stores only its SHA-256', async () => {
    expect(user).toMatch(/^hark_[\w-]{43}$/);
    const list = await keysCli(['list'], server.dataDir);
    expect(list.stdout).toMatch(/ user {2}transcribe,jobs {2}.* active {2}today 0.000 h\n/);
    expect(list.stdout).toMatch(/ ops {2}admin /);
    expect(list.stdout).not.toContain('hark_');
    const files = (await readdir(server.dataDir)).filter((f) => f.startsWith('hark.db'));
    // Read by another process: closing a file descriptor of the database in the server's own
    // process would drop SQLite's POSIX locks there (see sqlite.org/howtocorrupt.html, 2.2).
    const bytes = execFileSync('cat', files.map((f) => join(server.dataDir, f)), { maxBuffer: 64 * 1024 * 1024 });
    expect(bytes.includes(createHash('sha256').update(user).digest('hex'))).toBe(true);
    expect(bytes.includes(user)).toBe(false);
    expect(bytes.includes(user.slice(5))).toBe(false);
  });

  it('refuses unknown scopes', async () => {
    const r = await keysCli(['create', '--name', 'x', '--scopes', 'transcribe,root'], server.dataDir);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('not root');
  });
});

describe('API keys over HTTP', () => {
  it('lets the openai client in with its apiKey, and gives a clear 401 without one', async () => {
    const ok = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: user, maxRetries: 0 });
    const t = await ok.audio.transcriptions.create({ file: createReadStream(c.path), model: 'whisper-1' });
    expect(t.text.length).toBeGreaterThan(10);
    const bad = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'hark_not-a-key', maxRetries: 0 });
    const err: unknown = await bad.models.list().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.AuthenticationError);
    expect((err as InstanceType<typeof OpenAI.AuthenticationError>).code).toBe('UNAUTHORIZED');
  }, 60_000);

  it('answers 401 UNAUTHORIZED with WWW-Authenticate when no key is sent', async () => {
    const r = await get('/api/v1/jobs');
    expect(r.status).toBe(401);
    expect(r.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(((await r.json()) as { error: { code: string } }).error.code).toBe('UNAUTHORIZED');
  });

  it('accepts X-API-Key as well as Bearer', async () => {
    expect((await get('/api/v1/jobs', user, 'x-api-key')).status).toBe(200);
  });

  it('keeps probes, the web page and the docs open', async () => {
    for (const path of ['/healthz', '/readyz', '/docs/json']) expect((await get(path)).status, path).toBe(200);
    expect([200, 503]).toContain((await get('/')).status);
  });

  it('says so in the OpenAPI document: Bearer and X-API-Key schemes, required but on the open paths', async () => {
    const doc = (await (await get('/docs/json')).json()) as {
      components: { securitySchemes: Record<string, { type: string; scheme?: string; in?: string; name?: string }> };
      security: Record<string, string[]>[];
      paths: Record<string, Record<string, { security?: unknown[] }>>;
    };
    expect(doc.components.securitySchemes['bearer']).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.components.securitySchemes['apiKeyHeader']).toMatchObject({ type: 'apiKey', in: 'header', name: 'X-API-Key' });
    expect(doc.security).toEqual([{ bearer: [] }, { apiKeyHeader: [] }]);
    expect(doc.paths['/healthz']!['get']!.security).toEqual([]);
    expect(doc.paths['/v1/audio/transcriptions']!['post']!.security).toBeUndefined();
  });

  it('checks scopes: 403 FORBIDDEN for a key without the route\'s scope', async () => {
    const r = await postForm(`${server.url}/v1/audio/transcriptions`, { file: { path: c.path }, model: 'whisper-1' }, { headers: { authorization: `Bearer ${other}` } });
    expect(r.status).toBe(403);
    expect(await r.json()).toMatchObject({ error: { code: 'FORBIDDEN', details: { required_scope: 'transcribe' } } });
    expect((await get('/debug/pool', user)).status).toBe(403);
    expect((await get('/api/v1/jobs', admin)).status).toBe(403);
  });

  it('opens /metrics to METRICS_TOKEN or an admin key only', async () => {
    expect((await get('/metrics')).status).toBe(401);
    expect((await get('/metrics', user)).status).toBe(403);
    expect((await get('/metrics', METRICS_TOKEN)).status).toBe(200);
    const r = await get('/metrics', admin);
    expect(r.status).toBe(200);
    expect(await r.text()).toContain('hark_');
  });

  it('shows a job only to the key that submitted it, and caps its active jobs', async () => {
    const first = await submit(user);
    expect(first.status).toBe(202);
    const { job_id: id } = (await first.json()) as { job_id: string };
    expect((await get(`/api/v1/jobs/${id}`, user)).status).toBe(200);
    const hidden = await get(`/api/v1/jobs/${id}`, other);
    expect(hidden.status).toBe(404);
    expect((await get(`/api/v1/jobs/${id}/result`, other)).status).toBe(404);
    const mine = (await (await get('/api/v1/jobs', user)).json()) as { jobs: { id: string }[] };
    const theirs = (await (await get('/api/v1/jobs', other)).json()) as { jobs: { id: string }[] };
    expect(mine.jobs.map((j) => j.id)).toContain(id);
    expect(theirs.jobs.map((j) => j.id)).not.toContain(id);

    // KEY_MAX_ACTIVE_JOBS=2: the third queued job of one key is refused; another key is not affected.
    expect((await submit(user)).status).toBe(202);
    const third = await submit(user);
    expect(third.status).toBe(429);
    expect(third.headers.get('retry-after')).toBe('10');
    expect(await third.json()).toMatchObject({ error: { code: 'RATE_LIMITED', details: { active_jobs: 2, max_active_jobs: 2 } } });
    expect((await submit(other)).status).toBe(202);
  }, 30_000);

  it('takes the WebSocket stream key from ?api_key= (browsers cannot set headers)', async () => {
    const url = `${server.url.replace(/^http/, 'ws')}/v1/audio/stream`;
    const refused = await new Promise<number>((resolve) => {
      const ws = new WebSocket(url);
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => resolve(101));
    });
    expect(refused).toBe(401);
    const opened = await new Promise<boolean>((resolve) => {
      const ws = new WebSocket(`${url}?api_key=${encodeURIComponent(user)}`);
      ws.on('open', () => (ws.close(), resolve(true)));
      ws.on('unexpected-response', () => resolve(false));
    });
    expect(opened).toBe(true);
  });

  it('stops accepting a key once it is revoked', async () => {
    const key = await createKey('temp', 'jobs');
    expect((await get('/api/v1/jobs', key)).status).toBe(200);
    const id = /^(\S+) {2}temp /m.exec((await keysCli(['list'], server.dataDir)).stdout)?.[1];
    expect(id).toBeDefined();
    const r = await keysCli(['revoke', id!], server.dataDir);
    expect(r.stdout).toBe(`revoked ${id}\n`);
    const after = await get('/api/v1/jobs', key);
    expect(after.status).toBe(401);
    expect(((await after.json()) as { error: { message: string } }).error.message).toContain('revoked');
    expect((await keysCli(['revoke', id!], server.dataDir)).code).toBe(1);
  }, 30_000);

  it('limits requests per key with RateLimit headers, then 429 RATE_LIMITED with Retry-After', async () => {
    const key = await createKey('busy', 'jobs');
    const first = await get('/api/v1/jobs', key);
    expect(first.headers.get('ratelimit-limit')).toBe('40');
    expect(first.headers.get('ratelimit-remaining')).toBe('39');
    let last: Response = first;
    for (let i = 1; i < 41; i++) last = await get('/api/v1/jobs', key);
    expect(last.status).toBe(429);
    expect(Number(last.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await last.json()).toMatchObject({ error: { code: 'RATE_LIMITED', details: { limit_per_minute: 40 } } });
    // Counted per key: another key is still served.
    expect((await get('/api/v1/jobs', other)).status).toBe(200);
    // Probes are never limited.
    expect((await get('/healthz')).status).toBe(200);
  }, 30_000);
});

describe('AUTH_MODE=none', () => {
  async function openApp(env: Record<string, string>, loopback: boolean) {
    const lines: string[] = [];
    const logger = createLogger('info', { write: (l: string) => void lines.push(l) });
    const app = Fastify({ loggerInstance: logger as FastifyBaseLogger });
    installErrorHandler(app);
    await installAccess(app, loadConfig({ env }), undefined, loopback);
    app.get('/api/v1/jobs', async () => ({ jobs: [] }));
    return { app, warnings: () => lines.map((l) => JSON.parse(l) as { level: number; msg: string }).filter((l) => l.level === 40) };
  }

  it('warns loudly when listening beyond loopback, and not on loopback', async () => {
    const open = await openApp({ HOST: '0.0.0.0' }, false);
    expect(open.warnings().map((w) => w.msg).join('\n')).toMatch(/AUTH_MODE=none on a non-loopback address: ANYONE/);
    await open.app.close();
    const local = await openApp({ HOST: '127.0.0.1' }, true);
    expect(local.warnings()).toEqual([]);
    await local.app.close();
  });

  it('limits per client IP only when RATE_LIMIT_PER_MINUTE is set', async () => {
    const off = await openApp({}, true);
    for (let i = 0; i < 130; i++) expect((await off.app.inject('/api/v1/jobs')).statusCode).toBe(200);
    await off.app.close();
    const on = await openApp({ RATE_LIMIT_PER_MINUTE: '2' }, true);
    const codes = [];
    for (let i = 0; i < 3; i++) codes.push((await on.app.inject('/api/v1/jobs')).statusCode);
    expect(codes).toEqual([200, 200, 429]);
    await on.app.close();
  });
});
