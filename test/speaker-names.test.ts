import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { joinWavs } from './support/audio.js';
import { waitFor } from './support/child-server.js';
import { clip } from './support/corpus.js';
import { postAudio } from './support/http.js';
import { createKeyWithCli } from './support/keys-cli.js';
import { startTestServer, type TestServer } from './support/server.js';

/**
 * Issue 21, item 6 on the API: PUT /api/v1/jobs/:id/speakers names a completed
 * job's speakers (stored in the job's SQLite file), every download format uses
 * the names, and what it refuses, with which code. Two clearly different
 * LibriSpeech speakers one after the other, num_speakers=2: the result is A then B.
 */

const dir = mkdtempSync(join(tmpdir(), 'hark-speaker-names-'));
const twoSpeakers = join(dir, 'two-speakers.wav');
const oneSpeaker = clip('1221-135766-0002').path; // 4.8 s

interface Result {
  segments: { text: string; speaker?: string }[];
  words: { word: string; speaker?: string }[];
}
interface ErrorBody {
  error: { code: string; message: string; details?: Record<string, unknown> };
}
interface View {
  id: string;
  status: string;
  speaker_names: Record<string, string>;
}

let server: TestServer;
let alice: string;
let mallory: string;
let reader: string;
/** Alice's diarized job (A then B), completed. */
let job: string;

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

async function submit(path: string, fields: Record<string, string> = {}): Promise<string> {
  const res = await postAudio(`${server.url}/api/v1/jobs`, path, fields, { headers: bearer(alice) });
  expect(res.status).toBe(202);
  return ((await res.json()) as { job_id: string }).job_id;
}

async function view(id: string): Promise<View> {
  return (await (await fetch(`${server.url}/api/v1/jobs/${id}`, { headers: bearer(alice) })).json()) as View;
}

async function finished(id: string): Promise<View> {
  await waitFor(async () => ['completed', 'failed', 'cancelled'].includes((await view(id)).status), 60_000, 50);
  return view(id);
}

function rename(id: string, body: unknown, key = alice): Promise<Response> {
  return fetch(`${server.url}/api/v1/jobs/${id}/speakers`, {
    method: 'PUT',
    headers: { ...bearer(key), 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

async function download(id: string, format: string, query = ''): Promise<string> {
  const res = await fetch(`${server.url}/api/v1/jobs/${id}/result?format=${format}${query}`, { headers: bearer(alice) });
  expect(res.status).toBe(200);
  return res.text();
}

/** The speaker prefix of each SRT cue ("Ann" of "Ann: text"). */
const srtSpeakers = (srt: string) =>
  srt
    .trim()
    .split('\n\n')
    .map((cue) => /^(.+?): /.exec(cue.split('\n')[2] ?? '')?.[1]);

const distinct = (xs: (string | undefined)[]) => [...new Set(xs)];

beforeAll(async () => {
  joinWavs([clip('1089-134686-0000').path, clip('1221-135766-0002').path], twoSpeakers);
  // No rate limit: the test polls its jobs every 50 ms.
  server = await startTestServer({ AUTH_MODE: 'api_key', RATE_LIMIT_PER_MINUTE: '0' });
  [alice, mallory, reader] = await Promise.all([
    createKeyWithCli(server.dataDir, 'alice', 'jobs'),
    createKeyWithCli(server.dataDir, 'mallory', 'jobs'),
    createKeyWithCli(server.dataDir, 'reader', 'transcribe'),
  ]);
  job = await submit(twoSpeakers, { diarize: 'true', num_speakers: '2' });
  expect((await finished(job)).status).toBe('completed');
}, 90_000);

afterAll(async () => {
  await server?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('PUT /api/v1/jobs/:id/speakers', () => {
  it('names the speakers: stored with the job, and json, text, srt and vtt all use the names', async () => {
    expect((await view(job)).speaker_names).toEqual({});
    expect(distinct(srtSpeakers(await download(job, 'srt')))).toEqual(['A', 'B']);

    const res = await rename(job, { names: { A: 'Ann', B: '  Bob Ó Briain ' } });
    expect(res.status).toBe(200);
    // The answer is the job's view, names trimmed.
    expect(((await res.json()) as View).speaker_names).toEqual({ A: 'Ann', B: 'Bob Ó Briain' });
    expect((await view(job)).speaker_names).toEqual({ A: 'Ann', B: 'Bob Ó Briain' });

    const json = JSON.parse(await download(job, 'json')) as Result;
    expect(distinct(json.segments.map((s) => s.speaker))).toEqual(['Ann', 'Bob Ó Briain']);
    expect(distinct(json.words.map((w) => w.speaker))).toEqual(['Ann', 'Bob Ó Briain']);
    expect(distinct(srtSpeakers(await download(job, 'srt')))).toEqual(['Ann', 'Bob Ó Briain']);
    const vtt = await download(job, 'vtt');
    expect(vtt).toContain('<v Ann>');
    expect(vtt).toContain('<v Bob Ó Briain>');
    expect(vtt).not.toMatch(/<v [AB]>/);
    const text = (await download(job, 'text')).split('\n').filter((l) => l !== '');
    expect(text[0]).toMatch(/^Ann: \S/);
    expect(text.at(-1)).toMatch(/^Bob Ó Briain: \S/);
    // The labels as diarized, for a client that renames (the page).
    const raw = JSON.parse(await download(job, 'json', '&speaker_names=false')) as Result;
    expect(distinct(raw.segments.map((s) => s.speaker))).toEqual(['A', 'B']);
    expect(raw.segments.map((s) => s.text)).toEqual(json.segments.map((s) => s.text));
  });

  it('replaces the whole map: a label left out keeps its letter, and {} clears every name', async () => {
    expect((await rename(job, { names: { B: 'Bea' } })).status).toBe(200);
    expect((await view(job)).speaker_names).toEqual({ B: 'Bea' });
    expect(distinct(srtSpeakers(await download(job, 'srt')))).toEqual(['A', 'Bea']);
    expect((await rename(job, { names: {} })).status).toBe(200);
    expect((await view(job)).speaker_names).toEqual({});
    expect(distinct(srtSpeakers(await download(job, 'srt')))).toEqual(['A', 'B']);
  });

  it.each([
    [{ C: 'Cy' }, 400, 'UNKNOWN_SPEAKER', '"C"'],
    [{ a: 'Ann' }, 400, 'UNKNOWN_SPEAKER', '"A", "B"'],
    [{ A: '' }, 400, 'INVALID_SPEAKER_NAME', 'empty'],
    [{ A: '   ' }, 400, 'INVALID_SPEAKER_NAME', 'empty'],
    [{ A: 'x'.repeat(65) }, 400, 'INVALID_SPEAKER_NAME', '64'],
    [{ A: 'Ann\nBob' }, 400, 'INVALID_SPEAKER_NAME', 'line break'],
    [{ A: 'Ann\u0007' }, 400, 'INVALID_SPEAKER_NAME', 'control'],
    [{ A: 'Ann\u2028Bob' }, 400, 'INVALID_SPEAKER_NAME', 'line break'],
    [Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`S${i}`, 'x'])), 400, 'TOO_MANY_SPEAKER_NAMES', '64'],
    [{ A: 7 }, 400, 'INVALID_REQUEST', 'names'],
  ])('refuses names %j with %i %s, and keeps the names stored before', async (names, status, code, said) => {
    expect((await rename(job, { names: { A: 'Ann' } })).status).toBe(200);
    const res = await rename(job, { names });
    expect(res.status).toBe(status);
    const body = (await res.json()) as ErrorBody;
    expect(body.error.code).toBe(code);
    expect(body.error.message).toContain(said);
    expect((await view(job)).speaker_names).toEqual({ A: 'Ann' });
    expect(distinct(srtSpeakers(await download(job, 'srt')))).toEqual(['Ann', 'B']);
  });

  it('takes a name of 64 characters, counted as characters (not UTF-16 units)', async () => {
    const name = '🎙'.repeat(64);
    expect((await rename(job, { names: { A: name } })).status).toBe(200);
    expect(distinct(srtSpeakers(await download(job, 'srt')))).toEqual([name, 'B']);
  });

  it('answers 409 NO_SPEAKERS for a result without speakers, 409 JOB_NOT_COMPLETED before a result', async () => {
    const plain = await submit(oneSpeaker);
    expect((await finished(plain)).status).toBe('completed');
    const res = await rename(plain, { names: { A: 'Ann' } });
    expect(res.status).toBe(409);
    expect(((await res.json()) as ErrorBody).error.code).toBe('NO_SPEAKERS');

    const stopped = await submit(twoSpeakers, { diarize: 'true' });
    await fetch(`${server.url}/api/v1/jobs/${stopped}/cancel`, { method: 'POST', headers: bearer(alice) });
    expect((await finished(stopped)).status).toBe('cancelled');
    const early = await rename(stopped, { names: { A: 'Ann' } });
    expect(early.status).toBe(409);
    expect(((await early.json()) as ErrorBody).error.code).toBe('JOB_NOT_COMPLETED');
  });

  it("is another key's job as if it did not exist (404), needs the jobs scope, and 404s an unknown job", async () => {
    const theirs = await rename(job, { names: { A: 'Mallory was here' } }, mallory);
    expect(theirs.status).toBe(404);
    expect(((await theirs.json()) as ErrorBody).error.code).toBe('JOB_NOT_FOUND');
    expect((await rename(job, { names: { A: 'x' } }, reader)).status).toBe(403);
    const unknown = await rename('no-such-job', { names: { A: 'Ann' } });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as ErrorBody).error.code).toBe('JOB_NOT_FOUND');
    expect((await view(job)).speaker_names).not.toHaveProperty('A', 'Mallory was here');
  });
});
