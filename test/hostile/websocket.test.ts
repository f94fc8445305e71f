import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { wavData } from '../support/audio.js';
import { childPids, waitFor } from '../support/child-server.js';
import { expectHealthy, expectRawError, noise, rawConnect, rawRequest, SHORT, withTimeout } from '../support/hostile-http.js';
import { startTestServer, type TestServer } from '../support/server.js';

/*
 * GET /v1/audio/stream under hostile clients: configs that are not what they
 * should be, audio that is not audio, frames past every limit, and frames that
 * break RFC 6455 itself (sent on a raw socket). Each ends with an error message
 * and/or the right close code; the stream's place and its ffmpeg are freed.
 */

const MAX_BUFFER = 64_000;
/** ws's own frame limit in hark: STREAM_MAX_BUFFER_SIZE * 4 + 64 KB. */
const WS_MAX_PAYLOAD = MAX_BUFFER * 4 + 65_536;

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ MAX_STREAMS: '2', STREAM_MAX_BUFFER_SIZE: String(MAX_BUFFER), STREAM_IDLE_TIMEOUT_SECONDS: '5' });
});
afterAll(async () => server?.stop());
afterEach(async () => {
  if (server === undefined) return;
  // Every stream's place comes back, and no decoder outlives its stream.
  await waitFor(async () => (await activeStreams()) === 0, 5000, 50);
  await waitFor(() => ffmpegChildren().length === 0, 5000, 50);
  await expectHealthy(server);
});

async function activeStreams(): Promise<number> {
  return ((await (await fetch(`${server.url}/api/v1/capacity`)).json()) as { streams: { active: number } }).streams.active;
}

function ffmpegChildren(): number[] {
  return childPids(process.pid).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'ffmpeg';
    } catch {
      return false;
    }
  });
}

const wsUrl = () => `${server.url.replace('http', 'ws')}/v1/audio/stream`;

interface Outcome {
  error?: { code: string; message: string };
  messages: { type: string; code?: string }[];
  closeCode: number;
}

/** Opens a stream, sends `frames` (strings as text frames), and collects everything until the server closes. */
async function run(frames: (string | Buffer)[]): Promise<Outcome> {
  const ws = new WebSocket(wsUrl());
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const messages: Outcome['messages'] = [];
  ws.on('message', (data) => messages.push(JSON.parse(String(data)) as Outcome['messages'][number]));
  ws.on('error', () => undefined);
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  for (const f of frames) if (ws.readyState === WebSocket.OPEN) ws.send(f);
  const closeCode = await withTimeout(closed, 15_000, 'the server to close the stream');
  const error = messages.find((m) => m.type === 'error') as Outcome['error'] | undefined;
  return { error, messages, closeCode };
}

const PCM = wavData(SHORT.path);

describe('configs that are not what they should be', () => {
  it.each([
    ['JSON null', 'null'],
    ['a JSON array', '[{"sample_rate":16000}]'],
    ['a JSON number', '16000'],
    ['a JSON string', '"pcm_s16le"'],
    ['a sample rate of 0', JSON.stringify({ sample_rate: 0 })],
    ['a sample rate of a billion', JSON.stringify({ sample_rate: 1e9 })],
    ['a fractional sample rate', JSON.stringify({ sample_rate: 44_100.5 })],
    ['a sample rate as a string', JSON.stringify({ sample_rate: '16000' })],
    ['an encoding of 10 KB', JSON.stringify({ encoding: 'x'.repeat(10_000) })],
    ['a __proto__ key', '{"__proto__":{"admin":true},"sample_rate":16000}'],
    ['a config nested 10,000 deep', `${'['.repeat(10_000)}${']'.repeat(10_000)}`],
  ])('refuses %s with INVALID_REQUEST and close 1008', async (_kind, config) => {
    const r = await run([config]);
    expect(r.error).toMatchObject({ code: 'INVALID_REQUEST' });
    expect(r.closeCode).toBe(1008);
  });

  it('refuses a second config once streaming with INVALID_REQUEST (1008)', async () => {
    const r = await run([JSON.stringify({}), PCM.subarray(0, 3200), JSON.stringify({ sample_rate: 8000 })]);
    expect(r.error).toMatchObject({ code: 'INVALID_REQUEST' });
    expect(r.closeCode).toBe(1008);
  });
});

describe('audio that is not audio', () => {
  it.each([
    ['webm', 'audio/webm;codecs=opus'],
    ['ogg', 'ogg'],
  ])('ends a stream of random bytes declared %s with INVALID_AUDIO (1007), killing its ffmpeg', async (_kind, encoding) => {
    const r = await run([JSON.stringify({ encoding }), noise(16_000, 7), noise(16_000, 8), JSON.stringify({ type: 'end' })]);
    expect(r.error).toMatchObject({ code: 'INVALID_AUDIO' });
    expect(r.closeCode).toBe(1007);
  });

  it('takes PCM in odd-sized frames (1 to 7 bytes) and ends cleanly: done, close 1000', async () => {
    const frames: Buffer[] = [];
    for (let off = 0, n = 1; off < 6400; off += n, n = (n % 7) + 1) frames.push(PCM.subarray(off, off + n));
    const r = await run([JSON.stringify({}), ...frames, JSON.stringify({ type: 'end' })]);
    expect(r.error).toBeUndefined();
    expect(r.messages.at(-1)).toMatchObject({ type: 'done' });
    expect(r.closeCode).toBe(1000);
  });
});

describe('frames past the limits', () => {
  it('closes a frame over ws\'s own limit with 1009 before reading it', async () => {
    const r = await run([JSON.stringify({}), randomBytes(WS_MAX_PAYLOAD + 1)]);
    expect(r.closeCode).toBe(1009);
  });

  it('closes a text frame that is not UTF-8 with 1007', async () => {
    const ws = new WebSocket(wsUrl());
    await new Promise((resolve) => ws.once('open', resolve));
    ws.on('error', () => undefined);
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    // ws validates UTF-8 on send too; a raw frame is what a hostile client sends.
    (ws as unknown as { _sender: { sendFrame(list: Buffer[], cb?: () => void): void } })._sender.sendFrame([maskedFrame(0x1, Buffer.from([0xc3, 0x28, 0xff]))]);
    expect(await withTimeout(closed, 10_000, 'the close')).toBe(1007);
  });
});

/** One client frame: FIN set, `opcode`, masked with a zero key (RFC 6455 5.2), `flags` ORed into the first byte. */
function maskedFrame(opcode: number, payload: Buffer, flags = 0x80, masked = true): Buffer {
  const len = payload.length;
  const head = len < 126 ? Buffer.from([flags | opcode, (masked ? 0x80 : 0) | len]) : Buffer.from([flags | opcode, (masked ? 0x80 : 0) | 126, len >> 8, len & 0xff]);
  return Buffer.concat([head, masked ? Buffer.alloc(4) : Buffer.alloc(0), payload]);
}

describe('frames that break RFC 6455, on a raw socket', () => {
  async function rawStream(frame: Buffer): Promise<number | 'closed'> {
    const conn = await rawConnect(server.url);
    const key = randomBytes(16).toString('base64');
    await conn.write(`GET /v1/audio/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    const got: Buffer[] = [];
    conn.socket.on('data', (d: Buffer) => got.push(d));
    await waitFor(() => Buffer.concat(got).includes('\r\n\r\n'), 5000, 10);
    expect(Buffer.concat(got).toString('latin1')).toMatch(/^HTTP\/1\.1 101/);
    got.length = 0;
    await conn.write(frame);
    await withTimeout(conn.closed, 10_000, 'the server to close the connection');
    conn.socket.destroy();
    // The server's close frame: opcode 8, then the 2-byte code.
    const all = Buffer.concat(got);
    const at = all.indexOf(0x88);
    return at >= 0 && all.length >= at + 4 ? all.readUInt16BE(at + 2) : 'closed';
  }

  it.each([
    ['an unmasked client frame', maskedFrame(0x2, Buffer.alloc(10), 0x80, false)],
    ['a reserved opcode', maskedFrame(0x3, Buffer.alloc(10))],
    ['a continuation with no frame to continue', maskedFrame(0x0, Buffer.alloc(10))],
    ['a control frame over 125 bytes', maskedFrame(0x9, Buffer.alloc(200))],
    ['a fragmented control frame', maskedFrame(0x9, Buffer.alloc(4), 0x00)],
    ['RSV bits without an extension', maskedFrame(0x2, Buffer.alloc(10), 0xf0)],
  ])('closes %s with 1002 (protocol error)', async (_kind, frame) => {
    expect(await rawStream(frame)).toBe(1002);
  });
});

describe('upgrade requests that are refused before the socket is a WebSocket', () => {
  it('answers 400 INVALID_REQUEST to an unknown ?isolation=', async () => {
    const key = randomBytes(16).toString('base64');
    const res = await rawRequest(
      server.url,
      `GET /v1/audio/stream?isolation=sandbox HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
    expectRawError(res, 400, 'INVALID_REQUEST', server, /isolation/);
  });

  it.each([
    ['an unsupported WebSocket version', { 'Sec-WebSocket-Version': '99', 'Sec-WebSocket-Key': randomBytes(16).toString('base64') }],
    ['no Sec-WebSocket-Key', { 'Sec-WebSocket-Version': '13' }],
    ['a Sec-WebSocket-Key that is not 16 bytes', { 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'short' }],
  ])('refuses %s with a 4xx, never a 101 or a 5xx', async (_kind, headers) => {
    const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
    const res = await rawRequest(server.url, `GET /v1/audio/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n${lines}\r\n`).catch(() => undefined);
    // ws answers these itself (400/426, its own body) or just closes: either way no stream is opened.
    if (res !== undefined) {
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
    }
  });

  it('answers a plain GET (no upgrade) on the stream route with a 4xx in hark\'s shape', async () => {
    const res = await rawRequest(server.url, 'GET /v1/audio/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    if (res.headers['content-type']?.includes('json')) expectRawError(res, res.status, JSON.parse(res.body).error.code, server);
  });
});

it('still streams real speech to a final transcript after all of the above', async () => {
  const frames: Buffer[] = [];
  for (let off = 0; off < PCM.length; off += 3200) frames.push(PCM.subarray(off, off + 3200));
  const ws = new WebSocket(wsUrl());
  await new Promise((resolve) => ws.once('open', resolve));
  const messages: { type: string; text?: string }[] = [];
  ws.on('message', (d) => messages.push(JSON.parse(String(d)) as { type: string; text?: string }));
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  ws.send(JSON.stringify({}));
  for (const f of frames) {
    ws.send(f);
    await new Promise((r) => setTimeout(r, 20));
  }
  ws.send(JSON.stringify({ type: 'end' }));
  expect(await withTimeout(closed, 20_000, 'the end of the stream')).toBe(1000);
  expect(messages.filter((m) => m.type === 'final').map((m) => m.text).join(' ').trim().length).toBeGreaterThan(0);
});
