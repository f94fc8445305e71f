import { connect, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import type { ConfigInput } from '../../src/config/index.js';
import { ERROR_CODES, type ErrorCode } from '../../src/errors.js';
import { transcriptionResponseSchema } from '../../src/transcription/index.js';
import { clip } from './corpus.js';
import { postForm, startTestServer, type TestServer } from './server.js';

/*
 * What every hostile-input test asserts, and a raw HTTP/1.1 client for what
 * fetch cannot send (part of a body, a broken head, bytes that are not UTF-8).
 */

/** 1.1 s of real speech: the cheapest clip that still transcribes. */
export const SHORT = clip('cmu-cards-001');

export const BOUNDARY = 'hark-test-boundary-7d1f';

/** Deterministic noise: the same "random" bytes every run, so a failure reproduces. */
export function noise(bytes: number, seed = 12345): Buffer {
  const out = Buffer.alloc(bytes);
  let s = seed;
  for (let i = 0; i < bytes; i++) {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    out[i] = s >> 16;
  }
  return out;
}

export interface ErrorBody {
  error: { code: string; message: string; details?: Record<string, unknown> };
}

/** Checks a body text is hark's one error shape with `code`, a readable message, and no leak; returns the message. */
export function expectErrorBody(text: string, code: ErrorCode, server: TestServer, message?: RegExp): ErrorBody['error'] {
  const body = JSON.parse(text) as ErrorBody;
  expect(Object.keys(body)).toEqual(['error']);
  expect(body.error.code, text).toBe(code);
  expect(typeof body.error.message).toBe('string');
  expect(body.error.message.length).toBeGreaterThan(10);
  if (message !== undefined) expect(body.error.message).toMatch(message);
  expectNoLeak(text, server);
  return body.error;
}

/**
 * Asserts a refusal: exact status and code, the one error shape, a readable
 * message that leaks neither a stack nor hark's temp paths.
 */
export async function expectError(res: Response, status: number, code: ErrorCode, server: TestServer, message?: RegExp): Promise<string> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  expect(res.headers.get('content-type')).toContain('application/json');
  return expectErrorBody(text, code, server, message).message;
}

/** The same for an answer read off a raw socket. */
export function expectRawError(res: RawResponse, status: number, code: ErrorCode, server: TestServer, message?: RegExp): string {
  expect(res.status, res.body).toBe(status);
  expect(res.headers['content-type']).toContain('application/json');
  return expectErrorBody(res.body, code, server, message).message;
}

/** A 4xx whose code is one of hark's: for fuzzing, where the exact refusal varies. */
export function expectKnown4xx(status: number, text: string): void {
  expect(status, text).toBeGreaterThanOrEqual(400);
  expect(status, text).toBeLessThan(500);
  const body = JSON.parse(text) as ErrorBody;
  expect(ERROR_CODES as readonly string[]).toContain(body.error.code);
}

export function expectNoLeak(text: string, server: TestServer): void {
  expect(text).not.toMatch(/\n\s+at |node_modules|\.[jt]s:\d+/);
  expect(text).not.toContain(server.dataDir);
  expect(text).not.toMatch(/[0-9a-f-]{36}\.(upload|pcm)/);
}

/** Cleanup after an aborted request runs after the answer (or without one): poll briefly. */
export async function expectNoTempFiles(server: TestServer, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  let left = await server.tempFiles();
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    left = await server.tempFiles();
  }
  expect(left).toEqual([]);
}

export async function expectHealthy(server: TestServer): Promise<void> {
  const res = await fetch(`${server.url}/healthz`);
  expect(res.status).toBe(200);
  await expectNoTempFiles(server);
}

/** The end of every hostile file: real speech still turns into text, and nothing is left in DATA_DIR/tmp. */
export async function expectTranscribes(server: TestServer, path = '/transcriptions'): Promise<void> {
  const res = await postForm(`${server.url}${path}`, { file: { path: SHORT.path } });
  expect(res.status).toBe(200);
  const json: unknown = await res.json();
  // hark's own routes answer its full transcript; the OpenAI route, OpenAI's `{ text, usage }`.
  const text = path.startsWith('/v1/') ? (json as { text: string }).text : transcriptionResponseSchema.parse(json).text;
  expect(text.length).toBeGreaterThan(0);
  await expectNoTempFiles(server);
}

export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    }),
  ]);
}

/**
 * One server for the enclosing describe block (or file): started before its
 * tests, stopped after them, and checked healthy after each test (a bad input
 * must never take it down). `use` receives it for the test file's own variable.
 */
export function serveForHostileTests(use: (server: TestServer) => void, env: ConfigInput = {}): void {
  let server: TestServer | undefined;
  beforeAll(async () => {
    server = await startTestServer(env);
    use(server);
  });
  afterAll(async () => server?.stop());
  afterEach(async () => {
    if (server !== undefined) await expectHealthy(server);
  });
}

// --- A raw HTTP/1.1 client ---

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface RawConnection {
  socket: Socket;
  /** The first complete response on the connection. */
  response: Promise<RawResponse>;
  /** The next response not yet taken (the first one is `response`). */
  nextResponse(): Promise<RawResponse>;
  /** Resolves when the server ends or resets the connection. */
  closed: Promise<void>;
  /** Writes and waits for the kernel to take it; false once the connection is gone. */
  write(data: Buffer | string): Promise<boolean>;
  bytesWritten(): number;
}

/** `localAddress`: the client's own address (any 127.x on Linux), to be another client for per-address limits. */
export async function rawConnect(url: string, localAddress?: string): Promise<RawConnection> {
  const { hostname, port } = new URL(url);
  const socket = connect({ host: hostname, port: Number(port), localAddress });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  // Writes after the server has refused the body may fail with EPIPE/ECONNRESET: expected here.
  socket.on('error', () => undefined);
  let received = Buffer.alloc(0);
  let gone = false;
  let written = 0;
  const parsed: RawResponse[] = [];
  const waiting: { resolve: (r: RawResponse) => void; reject: (e: Error) => void }[] = [];
  const closed = new Promise<void>((resolve) => {
    const done = () => {
      gone = true;
      resolve();
    };
    socket.once('end', done);
    socket.once('close', done);
  });
  /** Takes complete responses (hark always sends Content-Length) off the front of the buffer. */
  const parse = (atEnd: boolean): void => {
    for (;;) {
      const end = received.indexOf('\r\n\r\n');
      if (end < 0) break;
      const [statusLine = '', ...lines] = received.toString('latin1', 0, end).split('\r\n');
      const headers: Record<string, string> = {};
      for (const l of lines) {
        const i = l.indexOf(':');
        headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
      }
      const declared = Number(headers['content-length'] ?? NaN);
      const length = Number.isFinite(declared) ? declared : atEnd ? received.length - end - 4 : NaN;
      if (!Number.isFinite(length) || received.length - end - 4 < length) break;
      parsed.push({ status: Number(statusLine.split(' ')[1]), headers, body: received.toString('utf8', end + 4, end + 4 + length) });
      received = received.subarray(end + 4 + length);
    }
    while (parsed.length > 0 && waiting.length > 0) waiting.shift()!.resolve(parsed.shift()!);
  };
  socket.on('data', (d: Buffer) => {
    received = Buffer.concat([received, d]);
    parse(false);
  });
  void closed.then(() => {
    parse(true);
    for (const w of waiting.splice(0)) w.reject(new Error(`connection closed without a complete response (${received.length} bytes left)`));
  });
  const nextResponse = () =>
    new Promise<RawResponse>((resolve, reject) => {
      const ready = parsed.shift();
      if (ready !== undefined) resolve(ready);
      else if (gone) reject(new Error('connection closed'));
      else waiting.push({ resolve, reject });
    });
  const response = nextResponse();
  response.catch(() => undefined);
  return {
    socket,
    response,
    nextResponse,
    closed,
    bytesWritten: () => written,
    write: (data) =>
      new Promise<boolean>((resolve) => {
        if (gone || socket.destroyed) return resolve(false);
        written += typeof data === 'string' ? Buffer.byteLength(data) : data.length;
        socket.write(data, (err) => resolve(err == null));
      }),
  };
}

/** Sends `data` on a fresh connection and returns the first answer (bounded wait). */
export async function rawRequest(url: string, data: Buffer | string, ms = 10_000): Promise<RawResponse> {
  const conn = await rawConnect(url);
  try {
    await conn.write(data);
    return await withTimeout(conn.response, ms, 'the answer');
  } finally {
    conn.socket.destroy();
  }
}

/** A request head; `lines` are raw header lines (so tests can send what a client library would refuse). */
export function requestHead(path: string, headers: Record<string, string | number>, method = 'POST'): string {
  const lines = [`${method} ${path} HTTP/1.1`, 'Host: 127.0.0.1', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  return `${lines.join('\r\n')}\r\n\r\n`;
}

export function filePartHead(field = 'file', name = 'big.wav'): string {
  return `--${BOUNDARY}\r\nContent-Disposition: form-data; name="${field}"; filename="${name}"\r\nContent-Type: audio/wav\r\n\r\n`;
}

/** A held upload declares this many bytes and sends only the first HELD_UPLOAD_SENT of them. */
export const HELD_UPLOAD_DECLARED = 50_000_000;
export const HELD_UPLOAD_SENT = 64 * 1024;

/** A text field part, to place before the file part. */
export function fieldPart(name: string, value: string): string {
  return `--${BOUNDARY}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
}

/**
 * Begins a multipart upload of HELD_UPLOAD_DECLARED bytes on a raw connection
 * (from a chosen local address): its head, any text fields, a file part's head
 * (field `fileField`) and the first HELD_UPLOAD_SENT bytes. The rest is held.
 */
export async function beginHeldUpload(
  url: string,
  path: string,
  opts: { headers?: Record<string, string>; fields?: Record<string, string>; fileField?: string; from?: string } = {},
): Promise<RawConnection> {
  const conn = await rawConnect(url, opts.from);
  const fields = Object.entries(opts.fields ?? {})
    .map(([k, v]) => fieldPart(k, v))
    .join('');
  await conn.write(requestHead(path, { 'Content-Type': `multipart/form-data; boundary=${BOUNDARY}`, 'Content-Length': HELD_UPLOAD_DECLARED, ...opts.headers }));
  await conn.write(fields + filePartHead(opts.fileField));
  await conn.write(noise(HELD_UPLOAD_SENT));
  return conn;
}

/** The answer came on what arrived first: most of a held upload's declared body was never sent. */
export function expectAnsweredBeforeBody(conn: RawConnection): void {
  expect(conn.bytesWritten()).toBeLessThan(HELD_UPLOAD_DECLARED / 10);
}

export function chunk(data: Buffer | string): Buffer {
  const b = typeof data === 'string' ? Buffer.from(data) : data;
  return Buffer.concat([Buffer.from(`${b.length.toString(16)}\r\n`), b, Buffer.from('\r\n')]);
}

/** A multipart body from parts given as raw bytes, for bodies FormData cannot express. */
export function multipartBody(parts: { headers: string; body: Buffer | string }[], boundary = BOUNDARY): Buffer {
  const out: Buffer[] = [];
  for (const p of parts) out.push(Buffer.from(`--${boundary}\r\n${p.headers}\r\n\r\n`), Buffer.from(p.body), Buffer.from('\r\n'));
  out.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(out);
}
