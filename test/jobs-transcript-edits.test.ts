import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wavData, wavHeader } from './support/audio.js';
import { devClips } from './support/corpus.js';
import { postAudio } from './support/http.js';
import { startTestServer, type TestServer } from './support/server.js';

/*
 * Editing a completed job's transcript (issue 24, "Edit the transcript"): each edit is a revision,
 * the original is kept, downloads use the latest edit unless the original is asked for.
 */

interface Result {
  text: string;
  revision: number;
  segments: { start: number; end: number; text: string }[];
  words: { start: number; end: number; word: string }[];
}

let server: TestServer;
let work: string;
let jobId: string;
let original: Result;

async function json<T>(res: Response, status = 200): Promise<T> {
  const body = await res.text();
  expect(res.status, body).toBe(status);
  return JSON.parse(body) as T;
}

const put = (body: unknown) =>
  fetch(`${server.url}/api/v1/jobs/${jobId}/transcript`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

beforeAll(async () => {
  server = await startTestServer({ DEFAULT_ISOLATION: 'in-process' });
  // Two clips 2 s of silence apart: two utterances, so that one segment can change while the other stays.
  work = await mkdtemp(join(tmpdir(), 'hark-edits-'));
  const audio = join(work, 'two.wav');
  const pcm = Buffer.concat([wavData(devClips[0]!.path), Buffer.alloc(2 * 16_000 * 2), wavData(devClips[1]!.path)]);
  await writeFile(audio, Buffer.concat([wavHeader(pcm.length), pcm]));
  jobId = (await json<{ job_id: string }>(await postAudio(`${server.url}/api/v1/jobs`, audio), 202)).job_id;
  for (let i = 0; i < 600; i++) {
    const job = await json<{ status: string }>(await fetch(`${server.url}/api/v1/jobs/${jobId}`));
    if (job.status === 'completed') break;
    await new Promise((r) => setTimeout(r, 100));
  }
  original = await json<Result>(await fetch(`${server.url}/api/v1/jobs/${jobId}/result`));
}, 120_000);

afterAll(async () => {
  await server?.stop();
  await rm(work, { recursive: true, force: true });
});

describe('PUT /api/v1/jobs/{id}/transcript', () => {
  it('stores an edit as revision 1; every format downloads it, and the original stays at revision=original', async () => {
    expect(original.revision).toBe(0);
    expect(original.segments.length).toBeGreaterThan(1);
    const first = original.segments[0]!;
    const edit = await json<{ revision: number; transcript: Result }>(await put({ base_revision: 0, segments: [{ index: 0, text: 'Corrected opening words.' }] }));
    expect(edit.revision).toBe(1);

    const latest = await json<Result>(await fetch(`${server.url}/api/v1/jobs/${jobId}/result`));
    expect(latest.revision).toBe(1);
    expect(latest.segments[0]).toMatchObject({ start: first.start, end: first.end, text: 'Corrected opening words.' });
    expect(latest.segments.slice(1)).toEqual(original.segments.slice(1));
    expect(latest.text.startsWith('Corrected opening words. ')).toBe(true);
    // The edited segment's old word times are gone; the others' stay.
    expect(latest.words.some((w) => w.start >= first.start && w.end <= first.end)).toBe(false);
    expect(latest.words.length).toBeGreaterThan(0);

    const srt = await (await fetch(`${server.url}/api/v1/jobs/${jobId}/result?format=srt`)).text();
    expect(srt).toContain('Corrected opening words.');
    const text = await (await fetch(`${server.url}/api/v1/jobs/${jobId}/result?format=text`)).text();
    expect(text).toContain('Corrected opening words.');

    const kept = await json<Result>(await fetch(`${server.url}/api/v1/jobs/${jobId}/result?revision=original`));
    expect(kept).toEqual(original);
    const keptSrt = await (await fetch(`${server.url}/api/v1/jobs/${jobId}/result?format=srt&revision=original`)).text();
    expect(keptSrt).not.toContain('Corrected opening words.');
  });

  it('refuses an edit of a revision that another edit replaced (409 REVISION_CONFLICT), and stores nothing', async () => {
    const stale = await put({ base_revision: 0, segments: [{ index: 1, text: 'lost update' }] });
    const body = await json<{ error: { code: string; details: { latest_revision: number } } }>(stale, 409);
    expect(body.error).toMatchObject({ code: 'REVISION_CONFLICT', details: { latest_revision: 1 } });
    const second = await json<{ revision: number }>(await put({ base_revision: 1, segments: [{ index: 1, text: 'Second fix.' }] }));
    expect(second.revision).toBe(2);
    const revisions = await json<{ revisions: { revision: number }[] }>(await fetch(`${server.url}/api/v1/jobs/${jobId}/revisions`));
    expect(revisions.revisions.map((r) => r.revision)).toEqual([1, 2]);
    const one = await json<Result>(await fetch(`${server.url}/api/v1/jobs/${jobId}/result?revision=1`));
    expect(one.segments[1]).toEqual(original.segments[1]);
  });

  it.each([
    [{ base_revision: 2, segments: [{ index: 999, text: 'x' }] }, 'INVALID_EDIT'],
    [{ base_revision: 2, segments: [{ index: 0, text: 'a' }, { index: 0, text: 'b' }] }, 'INVALID_EDIT'],
    [{ base_revision: 2, segments: [] }, 'INVALID_REQUEST'],
    [{ segments: [{ index: 0, text: 'x' }] }, 'INVALID_REQUEST'],
  ])('answers 400 for %j', async (body, code) => {
    const res = await put(body);
    expect((await json<{ error: { code: string } }>(res, 400)).error.code).toBe(code);
  });

  it('answers 404 for a revision that does not exist, and the revisions go with a deleted job', async () => {
    await json(await fetch(`${server.url}/api/v1/jobs/${jobId}/result?revision=9`), 404);
    const del = await fetch(`${server.url}/api/v1/jobs/${jobId}`, { method: 'DELETE' });
    expect(del.status).toBe(204);
    await json(await fetch(`${server.url}/api/v1/jobs/${jobId}/revisions`), 404);
  });
});
