import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import type { TranscriptionStreamEvent } from 'openai/resources/audio/transcriptions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tally, wer } from './support/eval/index.js';
import { joinWavs } from './support/audio.js';
import { waitFor } from './support/child-server.js';
import { clip } from './support/corpus.js';
import { postAudio } from './support/http.js';
import { parseExposition } from './support/prometheus.js';
import { startTestServer, type TestServer } from './support/server.js';

// stream=true on /v1/audio/transcriptions: OpenAI's transcript.text events over SSE,
// read by the official client and checked raw. One server has both modes; requests
// choose the pool with ?isolation=process.

const LONG = ['1089-134686-0000', '1089-134686-0005', '1089-134686-0006', '1089-134686-0009', '1089-134686-0012'];
const LONGER = [...LONG, '1089-134686-0018', '1089-134686-0020', '1089-134686-0022', '1089-134686-0024'];

let server: TestServer;
let client: OpenAI;
let dir: string;
let long: string;
let longer: string;
/** The long file's transcript without streaming: what the streamed text must equal. */
let plain: string;

beforeAll(async () => {
  server = await startTestServer({ ENABLE_PROCESS_ISOLATED: 'true', WORKER_COUNT: '1', DEFAULT_ISOLATION: 'in-process' });
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'not-needed', maxRetries: 0 });
  dir = await mkdtemp(join(tmpdir(), 'hark-stream-'));
  long = join(dir, 'long.wav');
  joinWavs(LONG.map((id) => clip(id).path), long);
  longer = join(dir, 'longer.wav');
  joinWavs(LONGER.map((id) => clip(id).path), longer);
  plain = (await client.audio.transcriptions.create({ file: createReadStream(long), model: 'pocketsphinx' })).text;
}, 120_000);

afterAll(async () => {
  await server?.stop();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

interface Received {
  events: TranscriptionStreamEvent[];
  /** ms since the request was sent, per event. */
  at: number[];
}

async function collect(stream: AsyncIterable<TranscriptionStreamEvent>): Promise<Received> {
  const t0 = performance.now();
  const out: Received = { events: [], at: [] };
  for await (const e of stream) {
    out.events.push(e);
    out.at.push(performance.now() - t0);
  }
  return out;
}

function deltasOf(events: TranscriptionStreamEvent[]): string[] {
  return events.flatMap((e) => (e.type === 'transcript.text.delta' ? [e.delta] : []));
}

async function transcriptions(outcome: string, isolation: string): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  return parseExposition(text)
    .samples.filter((s) => s.name === 'hark_transcriptions_total' && s.labels['outcome'] === outcome && s.labels['isolation'] === isolation)
    .reduce((sum, s) => sum + s.value, 0);
}

describe('stream=true on /v1/audio/transcriptions', () => {
  const url = () => `${server.url}/v1/audio/transcriptions`;

  it('the openai client iterates deltas as utterances are decoded, then done with the same text as without streaming', async () => {
    const { events, at } = await collect(
      await client.audio.transcriptions.create({ file: createReadStream(long), model: 'pocketsphinx', stream: true }),
    );
    const deltas = deltasOf(events);
    const done = events.at(-1);
    expect(deltas.length).toBeGreaterThan(1);
    expect(done?.type).toBe('transcript.text.done');
    expect(events.filter((e) => e.type === 'transcript.text.done')).toHaveLength(1);
    const text = done?.type === 'transcript.text.done' ? done.text : '';
    expect(deltas.join('')).toBe(text);
    expect(text).toBe(plain);
    const reference = LONG.map((id) => clip(id).transcript).join(' ');
    expect(wer([tally(reference, text)])).toBeLessThan(0.35);
    // The first delta arrives while later utterances are still being decoded, not with the rest at the end.
    expect(at.at(-1)! - at[0]!).toBeGreaterThan(200);
  });

  it('frames the answer as Server-Sent Events: text/event-stream, one JSON data line per event', async () => {
    const res = await postAudio(url(), clip('1089-134686-0000').path, { model: 'pocketsphinx', stream: 'true' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(res.headers.get('cache-control')).toBe('no-cache');
    expect(res.headers.get('x-request-id')).toBeTruthy();
    const body = await res.text();
    expect(body.endsWith('\n\n')).toBe(true);
    const blocks = body.slice(0, -2).split('\n\n');
    const events = blocks
      .filter((b) => !b.startsWith(':'))
      .map((b) => {
        expect(b).toMatch(/^data: \{[^\n]*\}$/);
        return JSON.parse(b.slice('data: '.length)) as Record<string, unknown>;
      });
    expect(events.length).toBeGreaterThan(1);
    for (const e of events.slice(0, -1)) expect(Object.keys(e).sort()).toEqual(['delta', 'type']);
    expect(events.slice(0, -1).every((e) => e['type'] === 'transcript.text.delta')).toBe(true);
    const done = events.at(-1)!;
    expect(Object.keys(done).sort()).toEqual(['text', 'type']);
    expect(done['type']).toBe('transcript.text.done');
    expect(String(done['text']).toLowerCase()).toContain('stew for dinner');
  });

  it('streams from a worker process too (segments cross IPC)', async () => {
    const before = await transcriptions('ok', 'process');
    const { events } = await collect(
      await client.audio.transcriptions.create(
        { file: createReadStream(long), model: 'pocketsphinx', stream: true },
        { query: { isolation: 'process' } },
      ),
    );
    const deltas = deltasOf(events);
    expect(deltas.length).toBeGreaterThan(1);
    const done = events.at(-1);
    expect(done?.type === 'transcript.text.done' && done.text).toBe(plain);
    expect(deltas.join('')).toBe(plain);
    expect(await transcriptions('ok', 'process')).toBe(before + 1);
  });

  it('answers a file that is not audio with a JSON 400, not a stream', async () => {
    const err = await client.audio.transcriptions
      .create({ file: new File(['just some text'], 'notes.txt', { type: 'text/plain' }), model: 'pocketsphinx', stream: true })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as { code: string }).code).toBe('INVALID_AUDIO');

    const form = new FormData();
    form.append('stream', 'true');
    form.append('file', new Blob(['just some text'], { type: 'text/plain' }), 'notes.txt');
    const res = await fetch(url(), { method: 'POST', body: form });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('INVALID_AUDIO');
  });

  it('refuses stream=true with a format that is not text (srt) before reading any audio', async () => {
    const res = await postAudio(url(), clip('1089-134686-0001').path, { stream: 'true', response_format: 'srt' });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('INVALID_REQUEST');
    expect(body.error.message).toContain('stream=true');
  });

  it('a client that goes away mid-stream stops the decode, leaves no temp file, and the server serves the next request', async () => {
    const aborted = await transcriptions('REQUEST_ABORTED', 'in-process');
    const ac = new AbortController();
    const res = await postAudio(url(), longer, { model: 'pocketsphinx', stream: 'true' }, { signal: ac.signal });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    let seen = '';
    while (!seen.includes('transcript.text.delta')) {
      const { value, done } = await reader.read();
      if (done) break;
      seen += new TextDecoder().decode(value);
    }
    expect(seen).toContain('transcript.text.delta');
    expect(seen).not.toContain('transcript.text.done');
    ac.abort();

    await waitFor(async () => (await transcriptions('REQUEST_ABORTED', 'in-process')) > aborted, 30_000);
    await waitFor(async () => (await server.tempFiles()).length === 0, 10_000);

    const next = await postAudio(url(), clip('1089-134686-0001').path, { model: 'pocketsphinx' });
    expect(next.status).toBe(200);
    expect(((await next.json()) as { text: string }).text.toLowerCase()).toContain('belly');
  });
});

describe('stream=true when decoding fails after the stream started', () => {
  let strict: TestServer;
  beforeAll(async () => {
    // A worker past its time limit is killed: an error that can only come mid-stream.
    strict = await startTestServer({ ENABLE_PROCESS_ISOLATED: 'true', WORKER_COUNT: '1', DEFAULT_ISOLATION: 'process', TASK_TIMEOUT_SECONDS: '2' });
  }, 60_000);
  afterAll(async () => strict?.stop());

  it('ends the stream with an error event carrying hark\'s code and message', async () => {
    const res = await postAudio(`${strict.url}/v1/audio/transcriptions`, longer, { model: 'pocketsphinx', stream: 'true' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = (await res.text())
      .split('\n\n')
      .filter((b) => b.startsWith('data: '))
      .map((b) => JSON.parse(b.slice('data: '.length)) as { type: string; error?: { code: string; message: string } });
    const last = events.at(-1);
    expect(last?.type).toBe('error');
    expect(last?.error?.code).toBe('TRANSCRIPTION_TIMEOUT');
    expect(last?.error?.message).toMatch(/time limit/);
    expect(events.some((e) => e.type === 'transcript.text.done')).toBe(false);
  });

  it('the openai client raises it as an APIError with that code', async () => {
    const strictClient = new OpenAI({ baseURL: `${strict.url}/v1`, apiKey: 'not-needed', maxRetries: 0 });
    const stream = await strictClient.audio.transcriptions.create({ file: createReadStream(longer), model: 'pocketsphinx', stream: true });
    const err = await collect(stream).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect((err as InstanceType<typeof OpenAI.APIError>).code).toBe('TRANSCRIPTION_TIMEOUT');
    expect(await strict.tempFiles()).toEqual([]);
  });
});
