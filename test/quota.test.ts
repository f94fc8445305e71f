import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { UsageMeter } from '../src/auth/usage.js';
import { wavData } from './support/audio.js';
import { clip } from './support/corpus.js';
import { createKeyWithCli } from './support/keys-cli.js';
import { postForm, startTestServer, type TestServer } from './support/server.js';

// 0.004 h = 14.4 s of audio per key and UTC day; the clips are 10.4 s and 1.1 s.
const LIMIT_HOURS = 0.004;
const c = clip('1089-134686-0000');
const short = clip('cmu-cards-001');

let server: TestServer;
let alice: string;
let bob: string;

const auth = (key: string) => ({ headers: { authorization: `Bearer ${key}` } });
const transcribe = (key: string) => postForm(`${server.url}/v1/audio/transcriptions`, { file: { path: c.path }, model: 'whisper-1' }, auth(key));

/** Streams `pcm` as one stream of `key`; resolves with the close code, or the HTTP status of a refused upgrade. */
function stream(key: string, pcm: Buffer): Promise<{ close?: number; status?: number; body?: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${server.url.replace('http', 'ws')}/v1/audio/stream?api_key=${encodeURIComponent(key)}`);
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    ws.once('error', (err) => (err.message.includes('Unexpected server response') ? undefined : reject(err)));
    ws.once('open', () => {
      ws.send(JSON.stringify({}));
      ws.send(pcm);
      ws.send(JSON.stringify({ type: 'end' }));
    });
    ws.once('close', (code) => resolve({ close: code }));
  });
}

/**
 * Usage is per UTC day, so the server's usage clock is pinned to noon of a fixed day and runs
 * at the wall clock's pace from there: no run can cross a midnight, whenever it starts.
 */
const NOON = Date.UTC(2030, 0, 15, 12);
const started = Date.now();
const clock = () => NOON + (Date.now() - started);

/** A key's audio hours today, by the server's clock (what `hark keys list` prints: a UsageMeter on the store's usage). */
async function usedHours(name: string): Promise<number> {
  const key = (await server.jobs.store.keys.listApiKeys()).find((k) => k.name === name);
  return (await new UsageMeter(server.jobs.store.usage, LIMIT_HOURS, clock).usedToday(key!.id)) / 3600;
}

beforeAll(async () => {
  server = await startTestServer({ AUTH_MODE: 'api_key', KEY_MAX_AUDIO_HOURS_PER_DAY: String(LIMIT_HOURS) }, { now: clock });
  [alice, bob] = await Promise.all([createKeyWithCli(server.dataDir, 'alice', 'transcribe,jobs'), createKeyWithCli(server.dataDir, 'bob', 'transcribe,jobs')]);
});
afterAll(async () => server?.stop());

describe('KEY_MAX_AUDIO_HOURS_PER_DAY', () => {
  it('counts what a key transcribes, and refuses audio that would pass its day\'s hours with 429 QUOTA_EXCEEDED until 00:00 UTC', async () => {
    expect((await transcribe(alice)).status).toBe(200);
    expect(await usedHours('alice')).toBeCloseTo(c.durationSeconds / 3600, 3);

    // 10.4 s more would make 20.8 s, over 14.4 s: refused once its length is known, not counted.
    const second = await transcribe(alice);
    expect(second.status).toBe(429);
    const body = (await second.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('QUOTA_EXCEEDED');
    expect(body.error.message).toMatch(/KEY_MAX_AUDIO_HOURS_PER_DAY/);
    // Retry-After: the seconds left until 00:00 UTC on the server's clock (12 h after NOON).
    const toMidnight = (NOON + 12 * 3600_000 - clock()) / 1000;
    const retryAfter = Number(second.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(Math.floor(toMidnight));
    expect(retryAfter).toBeLessThanOrEqual(12 * 3600);
    expect(await usedHours('alice')).toBeCloseTo(c.durationSeconds / 3600, 3);

    // A job whose WAV header gives its length is refused at submit; nothing is queued.
    const job = await postForm(`${server.url}/api/v1/jobs`, { file: { path: c.path } }, auth(alice));
    expect(job.status).toBe(429);
    expect(((await job.json()) as { error: { code: string } }).error.code).toBe('QUOTA_EXCEEDED');

    // Another key has its own day; a job's audio counts when it completes.
    expect((await transcribe(bob)).status).toBe(200);
    const submitted = await postForm(`${server.url}/api/v1/jobs`, { file: { path: short.path } }, auth(bob));
    expect(submitted.status).toBe(202);
    const { job_id: id } = (await submitted.json()) as { job_id: string };
    const status = async () => ((await (await fetch(`${server.url}/api/v1/jobs/${id}`, auth(bob))).json()) as { status: string }).status;
    // Polled once a second: RATE_LIMIT_PER_MINUTE (120 with keys) counts these too.
    await expect.poll(status, { timeout: 60_000, interval: 1000 }).toBe('completed');
    await expect.poll(() => usedHours('bob'), { timeout: 10_000 }).toBeCloseTo((c.durationSeconds + short.durationSeconds) / 3600, 3);
    expect(await server.tempFiles()).toEqual([]);
  });

  it('counts a live stream\'s audio; a key past its hours is refused before the WebSocket upgrade', async () => {
    // 5 s still fits (10.4 + 5 > 14.4 is only known once it is sent: a stream's length is not known up front);
    // it ends (`end` sent) before the charge that finds the day spent, so it ends cleanly. Mid-stream: test/hostile/streams.test.ts.
    const five = wavData(c.path).subarray(0, 5 * 16_000 * 2);
    expect(await stream(alice, five)).toEqual({ close: 1000 });
    await expect.poll(() => usedHours('alice'), { timeout: 10_000 }).toBeCloseTo((c.durationSeconds + 5) / 3600, 3);

    const refused = await stream(alice, five);
    expect(refused.status).toBe(429);
    expect(JSON.parse(refused.body!)).toMatchObject({ error: { code: 'QUOTA_EXCEEDED' } });
  });
});
