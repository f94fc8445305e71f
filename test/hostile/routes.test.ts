import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ErrorCode } from '../../src/errors.js';
import {
  BOUNDARY,
  expectRawError,
  expectTranscribes,
  multipartBody,
  rawRequest,
  requestHead,
  serveForHostileTests,
  SHORT,
} from '../support/hostile-http.js';
import { startTestServer, type TestServer } from '../support/server.js';

/*
 * Bytes that are not UTF-8 in form fields, file names and query strings of the
 * upload routes; path tricks against the web page's static files and the docs;
 * wrong methods on the probes; a Host header that tries to write the page's CSP.
 * Paths are sent raw, so no client normalises `..` first.
 */

let server: TestServer;
serveForHostileTests((s) => (server = s));

const NOT_UTF8 = Buffer.from([0xff, 0xfe, 0xc3, 0x28]).toString('latin1');

/** POSTs the short clip as `file` plus raw text fields (header and value bytes sent as they are). */
async function postRaw(path: string, fields: [string, string][], fileName = 'clip.wav'): Promise<{ status: number; body: string }> {
  const wav = await readFile(SHORT.path);
  const body = multipartBody([
    ...fields.map(([name, value]) => ({ headers: `Content-Disposition: form-data; name="${name}"`, body: Buffer.from(value, 'latin1') })),
    { headers: `Content-Disposition: form-data; name="file"; filename="${fileName}"\r\nContent-Type: audio/wav`, body: wav },
  ]);
  const head = requestHead(path, { 'Content-Type': `multipart/form-data; boundary=${BOUNDARY}`, 'Content-Length': body.length });
  return rawRequest(server.url, Buffer.concat([Buffer.from(head, 'latin1'), body]), 30_000);
}

describe('bytes that are not UTF-8 on the upload routes', () => {
  const REFUSED: [string, string, [string, string][], number, ErrorCode][] = [
    ['response_format', '/transcriptions', [['response_format', NOT_UTF8]], 400, 'INVALID_RESPONSE_FORMAT'],
    ['model', '/v1/audio/transcriptions', [['model', NOT_UTF8]], 400, 'MODEL_NOT_FOUND'],
    ['engine', '/transcriptions', [['engine', NOT_UTF8]], 400, 'MODEL_NOT_FOUND'],
    ['temperature', '/v1/audio/transcriptions', [['temperature', NOT_UTF8]], 400, 'INVALID_REQUEST'],
    ['stream', '/v1/audio/transcriptions', [['stream', NOT_UTF8]], 400, 'INVALID_REQUEST'],
    // pocketsphinx takes no prompt (src/http/openai-params.ts).
    ['prompt', '/v1/audio/transcriptions', [['prompt', NOT_UTF8.repeat(100)]], 400, 'UNSUPPORTED_PARAMETER'],
  ];

  it.each(REFUSED)('refuses a %s field that is not UTF-8 (%s): %i %s', async (_field, path, fields, status, code) => {
    const res = await postRaw(path, fields);
    expectRawError({ ...res, headers: { 'content-type': 'application/json' } }, status, code, server);
  });

  it.each([
    ['a language hint', '/transcriptions', [['language', NOT_UTF8]]],
    ['a field name', '/transcriptions', [[NOT_UTF8, 'x']]],
  ] as [string, string, [string, string][]][])('transcribes despite %s that is not UTF-8: 200', async (_kind, path, fields) => {
    const res = await postRaw(path, fields);
    expect(res.status, res.body).toBe(200);
    expect((JSON.parse(res.body) as { text: string }).text.length).toBeGreaterThan(0);
  });

  it.each([
    ['not UTF-8', `clip-${NOT_UTF8}.wav`],
    ['with a NUL and control characters', 'a\u0000b\u0007\u001bc.wav'],
    ['of 10 KB', `${'n'.repeat(10_000)}.wav`],
  ])('treats a file name %s as a label: 200', async (_kind, name) => {
    const res = await postRaw('/transcriptions', [], name);
    expect(res.status, res.body).toBe(200);
  });

  it.each([
    ['/transcriptions?isolation=%ff%fe', 'INVALID_REQUEST'],
    ['/v1/audio/transcriptions?isolation=%c3%28', 'INVALID_REQUEST'],
    ['/transcriptions?isolation=in-process&isolation=process', 'INVALID_REQUEST'],
  ] as [string, ErrorCode][])('answers %s with 400 %s before reading the upload', async (path, code) => {
    const res = await postRaw(path, []);
    expectRawError({ ...res, headers: { 'content-type': 'application/json' } }, 400, code, server, /isolation/);
  });
});

describe('path tricks against static files, the docs and the models', () => {
  it.each([
    '/ui/../../../../etc/passwd',
    '/ui/%2e%2e/%2e%2e/%2e%2e/etc/passwd',
    '/ui/..%2f..%2f..%2f..%2fetc%2fpasswd',
    '/ui/..%5c..%5c..%5cpackage.json',
    '/ui/%00/../package.json',
    '/ui/index.html%00.png',
    '/docs/static/..%2f..%2f..%2fpackage.json',
    '/docs/../package.json',
    '//etc/passwd',
    '/v1/models/..%2f..%2f..%2fetc%2fpasswd',
  ])('answers GET %s with a 4xx in hark\'s shape, serving no file from outside', async (path) => {
    const res = await rawRequest(server.url, `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
    expect(res.status, res.body).toBeGreaterThanOrEqual(400);
    expect(res.status, res.body).toBeLessThan(500);
    expect(res.body).not.toMatch(/root:x:0|"name": "hark"|"devDependencies"/);
    const body = JSON.parse(res.body) as object;
    expect(Object.keys(body)).toEqual(['error']);
    expect(body).toMatchObject({ error: { code: expect.any(String), message: expect.any(String) } });
  });
});

describe('the probes and read-only routes', () => {
  it.each([
    ['POST', '/healthz'],
    ['DELETE', '/readyz'],
    ['PUT', '/metrics'],
    ['POST', '/api/v1/capacity'],
    ['POST', '/debug/pool'],
    ['PATCH', '/api/v1/jobs'],
  ])('answers %s %s with 405 METHOD_NOT_ALLOWED and an Allow header', async (method, path) => {
    const res = await rawRequest(server.url, `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n`);
    expectRawError(res, 405, 'METHOD_NOT_ALLOWED', server);
    expect(res.headers['allow']).toMatch(/GET|POST/);
  });

  describe('a hostile Host header', () => {
    // Without keys such a Host is refused (403 HOST_NOT_ALLOWED, the DNS-rebinding guard); with keys
    // any Host reaches the page, which is public, so that is where its CSP is checked.
    let keyed: TestServer;
    beforeAll(async () => {
      keyed = await startTestServer({ AUTH_MODE: 'api_key' });
    });
    afterAll(async () => keyed?.stop());

    it.each([
      'evil.example; script-src *',
      "127.0.0.1 'unsafe-inline'",
      'evil.example:80 wss://evil.example',
    ])('%j is refused without keys, and kept out of the page\'s CSP with keys', async (host) => {
      expectRawError(await rawRequest(server.url, `GET / HTTP/1.1\r\nHost: ${host}\r\n\r\n`), 403, 'HOST_NOT_ALLOWED', server);
      const res = await rawRequest(keyed.url, `GET / HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
      expect(res.status).toBe(200);
      const csp = res.headers['content-security-policy'] ?? '';
      expect(csp).toContain("script-src 'self'");
      expect(csp).not.toContain('evil');
      expect(csp).not.toContain('unsafe-inline');
    });
  });
});

it('still transcribes real speech after all of the above', async () => {
  await expectTranscribes(server);
  await expectTranscribes(server, '/v1/audio/transcriptions');
});
