import { describe, expect, it } from 'vitest';
import type { ErrorCode } from '../../src/errors.js';
import { waitFor } from '../support/child-server.js';
import {
  BOUNDARY,
  expectNoTempFiles,
  expectRawError,
  expectTranscribes,
  filePartHead,
  noise,
  rawConnect,
  rawRequest,
  requestHead,
  serveForHostileTests,
  withTimeout,
} from '../support/hostile-http.js';
import type { TestServer } from '../support/server.js';

/*
 * Bytes on the wire that are not a well-formed HTTP/1.1 request, sent on a raw
 * socket: Node's parser refuses them before Fastify sees a request, and hark
 * must still answer in its one shape and close the connection. Clients that
 * trickle (slow loris) are cut at REQUEST_TIMEOUT_SECONDS, freeing their place
 * and their temp file.
 */

let server: TestServer;
// The raw requests name the server `x` (ALLOWED_HOSTS: without keys, other names get 403 HOST_NOT_ALLOWED).
serveForHostileTests((s) => (server = s), { REQUEST_TIMEOUT_SECONDS: '2', ALLOWED_HOSTS: 'x' });

const bytes = (...parts: (string | number[])[]) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p))));

interface Capacity {
  available_capacity: number;
}
const capacity = async (): Promise<Capacity> => (await (await fetch(`${server.url}/api/v1/capacity`)).json()) as Capacity;

describe('requests the HTTP parser refuses: hark\'s shape, then the connection is closed', () => {
  const CASES: { kind: string; data: Buffer; status: number; code: ErrorCode; message: RegExp }[] = [
    { kind: 'a head over 16 KB', data: bytes(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`), status: 431, code: 'HEADERS_TOO_LARGE', message: /16 KB/ },
    { kind: 'a URL over 16 KB', data: bytes(`GET /api/v1/jobs?cursor=${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`), status: 431, code: 'HEADERS_TOO_LARGE', message: /16 KB/ },
    { kind: 'a request line that is not HTTP', data: bytes('HELLO THERE\r\n\r\n'), status: 400, code: 'INVALID_REQUEST', message: /not valid HTTP/ },
    { kind: 'an unknown method', data: bytes('BREW /healthz HTTP/1.1\r\nHost: x\r\n\r\n'), status: 400, code: 'INVALID_REQUEST', message: /not valid HTTP/ },
    { kind: 'a NUL byte in a header value', data: bytes('GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a', [0], 'b\r\n\r\n'), status: 400, code: 'INVALID_REQUEST', message: /not valid HTTP/ },
    { kind: 'a header name with a space', data: bytes('GET /healthz HTTP/1.1\r\nHost: x\r\nBad Name: 1\r\n\r\n'), status: 400, code: 'INVALID_REQUEST', message: /not valid HTTP/ },
    { kind: 'bytes that are not UTF-8 in the path', data: bytes('GET /api/v1/jobs/', [0xff, 0xc3], ' HTTP/1.1\r\nHost: x\r\n\r\n'), status: 400, code: 'INVALID_REQUEST', message: /not valid HTTP/ },
    // Request smuggling: a proxy and hark could disagree on where the body ends.
    {
      kind: 'Content-Length and Transfer-Encoding together',
      data: bytes(`POST /transcriptions HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`),
      status: 400,
      code: 'INVALID_REQUEST',
      message: /not valid HTTP/,
    },
    { kind: 'two different Content-Lengths', data: bytes('POST /transcriptions HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello'), status: 400, code: 'INVALID_REQUEST', message: /not valid HTTP/ },
    { kind: 'a Content-Length that is not a number', data: bytes('POST /transcriptions HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n'), status: 400, code: 'INVALID_REQUEST', message: /not valid HTTP/ },
    {
      kind: 'a chunk size that is not hex',
      data: bytes(`POST /transcriptions HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=${BOUNDARY}\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n`),
      status: 400,
      code: 'INVALID_REQUEST',
      message: /not valid HTTP/,
    },
  ];

  it.each(CASES)('answers $kind with $status $code', async ({ data, status, code, message }) => {
    const conn = await rawConnect(server.url);
    await conn.write(data);
    const res = await withTimeout(conn.response, 10_000, 'the refusal');
    expectRawError(res, status, code, server, message);
    expect(res.headers['connection']).toBe('close');
    await withTimeout(conn.closed, 5000, 'the server to close the connection');
    conn.socket.destroy();
  });

  it('answers a valid request, then refuses garbage pipelined after it on the same connection', async () => {
    const conn = await rawConnect(server.url);
    await conn.write(`GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGARBAGE\r\n\r\n`);
    expect((await withTimeout(conn.response, 5000, 'the first answer')).status).toBe(200);
    expectRawError(await withTimeout(conn.nextResponse(), 5000, 'the refusal'), 400, 'INVALID_REQUEST', server);
    conn.socket.destroy();
  });

  it('reads past more than 100 headers (the rest are dropped): 200', async () => {
    const many = Array.from({ length: 300 }, (_, i) => `X-H${i}: ${i}`).join('\r\n');
    const res = await rawRequest(server.url, `GET /healthz HTTP/1.1\r\nHost: x\r\n${many}\r\n\r\n`);
    expect(res.status).toBe(200);
  });
});

describe('bytes that are not UTF-8 in header values', () => {
  it('does not echo an X-Request-Id that is not plain ASCII: 200 with a fresh id', async () => {
    const res = await rawRequest(server.url, bytes('GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: ', [0xff, 0xfe, 0x41], '\r\n\r\n'));
    expect(res.status).toBe(200);
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('answers 400 INVALID_REQUEST to an Idempotency-Key that is not visible ASCII', async () => {
    const body = `--${BOUNDARY}--\r\n`;
    const head = requestHead('/api/v1/jobs', { 'Content-Type': `multipart/form-data; boundary=${BOUNDARY}`, 'Content-Length': body.length });
    const res = await rawRequest(server.url, bytes(head.replace('\r\n\r\n', '\r\nIdempotency-Key: '), [0xff, 0xfe, 0x41], '\r\n\r\n', body));
    expectRawError(res, 400, 'INVALID_REQUEST', server, /Idempotency-Key/);
  });

  it('answers 401/200, never 5xx, to an Authorization header that is not UTF-8 (AUTH_MODE=none ignores it)', async () => {
    const res = await rawRequest(server.url, bytes('GET /api/v1/capacity HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ', [0xc3, 0x28, 0xff], '\r\n\r\n'));
    expect(res.status).toBe(200);
  });
});

describe('slow clients (REQUEST_TIMEOUT_SECONDS=2)', () => {
  it('cuts a slow-loris upload with 408 REQUEST_TIMEOUT, having held no place in line, and removes its temp file', async () => {
    const before = (await capacity()).available_capacity;
    const conn = await rawConnect(server.url);
    await conn.write(requestHead('/transcriptions', { 'Content-Type': `multipart/form-data; boundary=${BOUNDARY}`, 'Content-Length': 1_000_000 }));
    await conn.write(filePartHead());
    await conn.write(noise(4096));
    // One byte every 200 ms: the connection is never idle, the request never completes.
    const drip = setInterval(() => void conn.write(Buffer.from([1])), 200);
    try {
      await waitFor(async () => (await server.tempFiles()).length === 1, 5000, 20);
      // An upload takes its place only once it is in: a trickling one holds none.
      expect((await capacity()).available_capacity).toBe(before);
      const res = await withTimeout(conn.response, 15_000, 'the 408');
      expectRawError(res, 408, 'REQUEST_TIMEOUT', server, /REQUEST_TIMEOUT_SECONDS/);
      await withTimeout(conn.closed, 5000, 'the server to close the connection');
    } finally {
      clearInterval(drip);
      conn.socket.destroy();
    }
    await expectNoTempFiles(server);
    await waitFor(async () => (await capacity()).available_capacity === before, 5000, 50);
  });

  it('cuts a client that never finishes its head with 408 REQUEST_TIMEOUT', async () => {
    const conn = await rawConnect(server.url);
    await conn.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
    const drip = setInterval(() => void conn.write(`X-Slow-${Date.now()}: 1\r\n`), 300);
    try {
      expectRawError(await withTimeout(conn.response, 15_000, 'the 408'), 408, 'REQUEST_TIMEOUT', server);
      await withTimeout(conn.closed, 5000, 'the server to close the connection');
    } finally {
      clearInterval(drip);
      conn.socket.destroy();
    }
  });

  it('cuts a chunked upload that trickles small chunks, the same way', async () => {
    const conn = await rawConnect(server.url);
    await conn.write(requestHead('/v1/audio/transcriptions', { 'Content-Type': `multipart/form-data; boundary=${BOUNDARY}`, 'Transfer-Encoding': 'chunked' }));
    const part = Buffer.from(filePartHead());
    await conn.write(`${part.length.toString(16)}\r\n${part.toString('latin1')}\r\n`);
    const drip = setInterval(() => void conn.write('1\r\nx\r\n'), 200);
    try {
      expectRawError(await withTimeout(conn.response, 15_000, 'the 408'), 408, 'REQUEST_TIMEOUT', server);
    } finally {
      clearInterval(drip);
      conn.socket.destroy();
    }
    await expectNoTempFiles(server);
  });
});

describe('router refusals', () => {
  // Fastify's router refuses these before any route; frameworkErrors puts them in hark's shape.
  it.each([
    ['a percent-encoding that is not UTF-8', '/api/v1/jobs/%ff%fe', 400],
    ['a path parameter over 200 characters', `/api/v1/jobs/${'a'.repeat(300)}`, 400],
  ])('answers %s with 400 INVALID_REQUEST in hark\'s shape', async (_kind, path, status) => {
    const res = await rawRequest(server.url, `GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
    expectRawError(res, status, 'INVALID_REQUEST', server);
  });
});

it('still transcribes real speech after all of the above', async () => {
  await expectTranscribes(server);
});
