import { readFile } from 'node:fs/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ErrorCode } from '../../src/errors.js';
import {
  BOUNDARY,
  expectError,
  expectHealthy,
  expectRawError,
  expectTranscribes,
  multipartBody,
  rawRequest,
  requestHead,
  SHORT,
} from '../support/hostile-http.js';
import { submitJob, waitFinished } from '../support/jobs.js';
import { startTestServer, type TestServer } from '../support/server.js';

/*
 * The jobs API under hostile ids, query strings, headers and bodies. Every job
 * route is tried; ids are sent raw (no client-side normalisation of `..`).
 */

let server: TestServer;
let done: string;
beforeAll(async () => {
  server = await startTestServer();
  // One finished job, for the routes that need a real id.
  done = (await submitJob(server.url, SHORT.path)).job_id;
  expect((await waitFinished(server.url, done)).status).toBe('completed');
});
afterAll(async () => server?.stop());
afterEach(async () => {
  if (server !== undefined) await expectHealthy(server);
});

/** Every route that takes a job id, with its method. */
const JOB_ROUTES: [string, (id: string) => string][] = [
  ['GET', (id) => `/api/v1/jobs/${id}`],
  ['GET', (id) => `/api/v1/jobs/${id}/result`],
  ['GET', (id) => `/api/v1/jobs/${id}/logs`],
  ['GET', (id) => `/api/v1/jobs/${id}/logs/stream`],
  ['GET', (id) => `/api/v1/jobs/${id}/audio`],
  ['POST', (id) => `/api/v1/jobs/${id}/cancel`],
  ['DELETE', (id) => `/api/v1/jobs/${id}`],
];

const get = (method: string, path: string, headers: Record<string, string> = {}) =>
  rawRequest(server.url, `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`);

describe('job ids that try to be paths', () => {
  const IDS: [string, string][] = [
    ['encoded ../ climbing out', '..%2f..%2f..%2fetc%2fpasswd'],
    ['a NUL byte', 'abc%00def'],
    ['a backslash traversal', '..%5c..%5cwindows'],
    ['a SQL fragment', "x'%20OR%20'1'='1"],
    ['an id of 64 spaces', '%20'.repeat(64)],
  ];

  it.each(IDS)('answers 404 JOB_NOT_FOUND to %s on every job route, touching nothing', async (_kind, id) => {
    for (const [method, path] of JOB_ROUTES) {
      const res = await get(method, path(id));
      expectRawError(res, 404, 'JOB_NOT_FOUND', server);
      expect(res.body, `${method} ${path(id)}`).not.toMatch(/root:|passwd:/);
    }
    // The finished job is still there.
    expect((await fetch(`${server.url}/api/v1/jobs/${done}`)).status).toBe(200);
  });

  it('answers 400 INVALID_REQUEST to an id over 64 characters on every job route', async () => {
    for (const [method, path] of JOB_ROUTES) expectRawError(await get(method, path('a'.repeat(65))), 400, 'INVALID_REQUEST', server, /id/);
  });

  it.each([
    ['a literal ../ in the path', '/api/v1/jobs/../../../etc/passwd'],
    ['an encoded dot segment', '/api/v1/jobs/%2e%2e/%2e%2e/etc/passwd'],
  ])('answers 404 to %s (routes never resolve dot segments to files)', async (_kind, path) => {
    const res = await get('GET', path);
    expect(res.status).toBe(404);
    expect(res.body).not.toMatch(/root:/);
    expect(JSON.parse(res.body)).toMatchObject({ error: { code: expect.stringMatching(/^(NOT_FOUND|JOB_NOT_FOUND)$/) } });
  });
});

describe('query strings', () => {
  const QUERIES: [string, string, ErrorCode][] = [
    ['limit=0', '/api/v1/jobs?limit=0', 'INVALID_REQUEST'],
    ['limit=-1', '/api/v1/jobs?limit=-1', 'INVALID_REQUEST'],
    ['limit=abc', '/api/v1/jobs?limit=abc', 'INVALID_REQUEST'],
    ['limit=1.5', '/api/v1/jobs?limit=1.5', 'INVALID_REQUEST'],
    ['limit=1e9', '/api/v1/jobs?limit=1e9', 'INVALID_REQUEST'],
    ['limit given twice', '/api/v1/jobs?limit=1&limit=2', 'INVALID_REQUEST'],
    ['an unknown status', '/api/v1/jobs?status=bogus', 'INVALID_REQUEST'],
    ['a cursor over 200 characters', `/api/v1/jobs?cursor=${'x'.repeat(201)}`, 'INVALID_REQUEST'],
    ['a cursor that is not UTF-8', '/api/v1/jobs?cursor=%ff%fe%fd', 'INVALID_CURSOR'],
    ['a forged base64 cursor', `/api/v1/jobs?cursor=${Buffer.from('{"createdAt":"x","id":null}').toString('base64url')}`, 'INVALID_CURSOR'],
    ['tail=0', '/api/v1/jobs/ID/logs?tail=0', 'INVALID_REQUEST'],
    ['tail=abc', '/api/v1/jobs/ID/logs?tail=abc', 'INVALID_REQUEST'],
    ['an unknown result format', '/api/v1/jobs/ID/result?format=xml', 'INVALID_REQUEST'],
    ['a result format that is not UTF-8', '/api/v1/jobs/ID/result?format=%ff', 'INVALID_REQUEST'],
  ];

  it.each(QUERIES)('answers %s with 400 %s', async (_kind, path, code) => {
    const res = await get('GET', path.replace('ID', done));
    expectRawError(res, 400, code, server);
  });

  it('ignores query parameters it does not know (and ones that are not UTF-8) on the probes', async () => {
    for (const path of ['/healthz?%ff=%fe', '/readyz?x=%00', '/api/v1/capacity?limit=-1', '/metrics?format=%ff', '/debug/pool?%c3%28']) {
      expect((await get('GET', path)).status, path).toBe(200);
    }
  });
});

describe('the log stream and Last-Event-ID', () => {
  async function readStream(headers: Record<string, string>): Promise<{ status: number; ids: number[]; ended: boolean }> {
    const res = await fetch(`${server.url}/api/v1/jobs/${done}/logs/stream`, { headers });
    const text = await res.text();
    const ids = [...text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
    return { status: res.status, ids, ended: /^event: end$/m.test(text) };
  }

  it.each(['abc', '-5', '1e309', '0x10', '99999999999999999999999', ' ', '1.5'])(
    'replays the whole log for a Last-Event-ID of %j (not a line number), then ends',
    async (lastEventId) => {
      const all = await readStream({});
      expect(all.ids.length).toBeGreaterThan(2);
      const res = await readStream({ 'last-event-id': lastEventId });
      expect(res).toEqual({ status: 200, ids: all.ids, ended: true });
    },
  );

  it('sends nothing but the end for a Last-Event-ID past the last line', async () => {
    expect(await readStream({ 'last-event-id': '1000000' })).toEqual({ status: 200, ids: [], ended: true });
  });
});

describe('bodies and headers the submit routes do not expect', () => {
  it.each([
    ['a JSON body', 'application/json', JSON.stringify({ file: 'UklGRg==', priority: 'high' })],
    ['a JSON body that is not UTF-8', 'application/json', Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d])],
    ['a urlencoded form', 'application/x-www-form-urlencoded', 'file=%00&priority=high'],
  ])('answers 415 UNSUPPORTED_MEDIA_TYPE to %s on both submit routes', async (_kind, type, body) => {
    for (const route of ['/api/v1/jobs', '/api/v1/transcribe/batch']) {
      const res = await fetch(`${server.url}${route}`, { method: 'POST', headers: { 'content-type': type }, body });
      await expectError(res, 415, 'UNSUPPORTED_MEDIA_TYPE', server);
    }
  });

  it.each([
    ['not JSON', '{"reason":'],
    ['JSON that is not UTF-8', Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d])],
  ])('answers a cancel with a body that is %s: 400 INVALID_REQUEST or the job\'s own answer, never 5xx', async (_kind, body) => {
    const res = await fetch(`${server.url}/api/v1/jobs/${done}/cancel`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const text = await res.text();
    // Invalid JSON is refused; JSON whose strings hold U+FFFD parses and reaches the route (409: already finished).
    expect([400, 409], text).toContain(res.status);
    expect(JSON.parse(text)).toMatchObject({ error: { code: res.status === 400 ? 'INVALID_REQUEST' : 'JOB_ALREADY_FINISHED' } });
  });

  it('answers 413 FILE_TOO_LARGE to a JSON body over 1 MB on a route that takes none', async () => {
    const res = await fetch(`${server.url}/api/v1/jobs/${done}/cancel`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: `{"x":"${'a'.repeat(2_000_000)}"}` });
    await expectError(res, 413, 'FILE_TOO_LARGE', server);
  });

  it.each([
    ['an Idempotency-Key over 255 characters', 'k'.repeat(256)],
    ['an Idempotency-Key with a space', 'two words'],
  ])('answers 400 INVALID_REQUEST to %s, storing nothing', async (_kind, key) => {
    const form = new FormData();
    form.append('file', new Blob([await readFile(SHORT.path)], { type: 'audio/wav' }), 'a.wav');
    const res = await fetch(`${server.url}/api/v1/jobs`, { method: 'POST', body: form, headers: { 'idempotency-key': key } });
    await expectError(res, 400, 'INVALID_REQUEST', server, /Idempotency-Key/);
  });

  it('keeps a file name and field names that are not UTF-8 as labels: 202, the job shows U+FFFD, and it completes', async () => {
    const wav = await readFile(SHORT.path);
    const name = Buffer.concat([Buffer.from('voice-'), Buffer.from([0xff, 0xfe]), Buffer.from('.wav')]);
    const body = multipartBody([
      { headers: `Content-Disposition: form-data; name="${Buffer.from([0xc3, 0x28]).toString('latin1')}"`, body: 'x' },
      { headers: `Content-Disposition: form-data; name="file"; filename="${name.toString('latin1')}"\r\nContent-Type: audio/wav`, body: wav },
    ]);
    const head = requestHead('/api/v1/jobs', { 'Content-Type': `multipart/form-data; boundary=${BOUNDARY}`, 'Content-Length': body.length });
    const res = await rawRequest(server.url, Buffer.concat([Buffer.from(head, 'latin1'), body]));
    expect(res.status, res.body).toBe(202);
    const { job_id } = JSON.parse(res.body) as { job_id: string };
    const job = await waitFinished(server.url, job_id);
    expect(job.status).toBe('completed');
    expect(job.file_name.startsWith('voice-')).toBe(true);
    expect(job.file_name.endsWith('.wav')).toBe(true);
  });
});

it('still runs a job and transcribes real speech after all of the above', async () => {
  const { job_id } = await submitJob(server.url, SHORT.path);
  expect((await waitFinished(server.url, job_id)).status).toBe('completed');
  await expectTranscribes(server);
});
