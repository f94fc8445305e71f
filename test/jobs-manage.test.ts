import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { devClips } from './support/corpus.js';
import { postAudio } from './support/http.js';
import { startTestServer, type TestServer } from './support/server.js';

/*
 * Managing many jobs (issue 24, "Job management", the API part): rename, list by date and in either
 * order, delete several, export several transcripts as one ZIP.
 */

let server: TestServer;
let work: string;
const ids: string[] = [];

async function json<T>(res: Response, status = 200): Promise<T> {
  const body = await res.text();
  expect(res.status, body).toBe(status);
  return JSON.parse(body) as T;
}

const send = (method: string, path: string, body: unknown) =>
  fetch(`${server.url}${path}`, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

async function completed(id: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if ((await json<{ status: string }>(await fetch(`${server.url}/api/v1/jobs/${id}`))).status === 'completed') return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`job ${id} did not complete`);
}

beforeAll(async () => {
  server = await startTestServer({ DEFAULT_ISOLATION: 'in-process' });
  work = await mkdtemp(join(tmpdir(), 'hark-manage-'));
  const clips = [...devClips].sort((a, b) => a.durationSeconds - b.durationSeconds).slice(0, 3);
  for (const clip of clips) {
    ids.push((await json<{ job_id: string }>(await postAudio(`${server.url}/api/v1/jobs`, clip.path), 202)).job_id);
    // Distinct creation times, so that the order and the date window are unambiguous.
    await new Promise((r) => setTimeout(r, 20));
  }
  for (const id of ids) await completed(id);
}, 120_000);

afterAll(async () => {
  await server?.stop();
  await rm(work, { recursive: true, force: true });
});

describe('managing jobs', () => {
  it('renames a job, and the name is what the list and search show', async () => {
    const job = await json<{ file_name: string }>(await send('PATCH', `/api/v1/jobs/${ids[0]}`, { file_name: '  Board meeting 3 March ' }));
    expect(job.file_name).toBe('Board meeting 3 March');
    const found = await json<{ jobs: { id: string }[] }>(await fetch(`${server.url}/api/v1/jobs?q=board%20meeting`));
    expect(found.jobs.map((j) => j.id)).toEqual([ids[0]]);
    for (const bad of ['', 'a/b', 'two\nlines', 'x'.repeat(256)]) {
      expect((await json<{ error: { code: string } }>(await send('PATCH', `/api/v1/jobs/${ids[0]}`, { file_name: bad }), 400)).error.code).toBe('INVALID_REQUEST');
    }
  });

  it('lists oldest first and within a creation-time window', async () => {
    const oldest = await json<{ jobs: { id: string; created_at: string }[]; next_cursor: string | null }>(await fetch(`${server.url}/api/v1/jobs?order=oldest&limit=2`));
    expect(oldest.jobs.map((j) => j.id)).toEqual(ids.slice(0, 2));
    const rest = await json<{ jobs: { id: string }[] }>(await fetch(`${server.url}/api/v1/jobs?order=oldest&limit=2&cursor=${oldest.next_cursor}`));
    expect(rest.jobs.map((j) => j.id)).toEqual([ids[2]]);
    const from = encodeURIComponent(oldest.jobs[1]!.created_at);
    const windowed = await json<{ jobs: { id: string }[] }>(await fetch(`${server.url}/api/v1/jobs?from=${from}`));
    expect(windowed.jobs.map((j) => j.id)).toEqual([ids[2], ids[1]]);
    const before = await json<{ jobs: { id: string }[] }>(await fetch(`${server.url}/api/v1/jobs?to=2000-01-01`));
    expect(before.jobs).toEqual([]);
    expect((await fetch(`${server.url}/api/v1/jobs?from=yesterday`)).status).toBe(400);
  });

  it('exports several transcripts as one ZIP, one file per job named after it, in the chosen format', async () => {
    const res = await send('POST', '/api/v1/jobs/export', { ids, format: 'srt' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/zip');
    expect(res.headers.get('content-disposition')).toBe('attachment; filename="hark-transcripts-srt.zip"');
    const file = join(work, 'export.zip');
    await writeFile(file, Buffer.from(await res.arrayBuffer()));
    const script = 'import sys, zipfile, json\nz = zipfile.ZipFile(sys.argv[1])\nassert z.testzip() is None\nprint(json.dumps({i.filename: z.read(i).decode() for i in z.infolist()}))\n';
    const files = JSON.parse(execFileSync('python3', ['-c', script, file], { encoding: 'utf8' })) as Record<string, string>;
    expect(Object.keys(files)).toHaveLength(3);
    expect(Object.keys(files)).toContain('Board meeting 3 March.srt');
    for (const [i, id] of ids.entries()) {
      const srt = await (await fetch(`${server.url}/api/v1/jobs/${id}/result?format=srt`)).text();
      expect(Object.values(files)[i]).toBe(srt);
    }
  });

  it('refuses an export naming a job that is not completed or does not exist, whole', async () => {
    const missing = await send('POST', '/api/v1/jobs/export', { ids: [ids[0], 'no-such-job'], format: 'text' });
    expect((await json<{ error: { code: string } }>(missing, 404)).error.code).toBe('JOB_NOT_FOUND');
    expect((await send('POST', '/api/v1/jobs/export', { ids: [], format: 'text' })).status).toBe(400);
  });

  it('deletes several jobs at once, listing those it could not delete', async () => {
    const res = await json<{ deleted: string[]; kept: { id: string; code: string }[] }>(await send('POST', '/api/v1/jobs/delete', { ids: [ids[1], ids[2], 'no-such-job'] }));
    expect(res.deleted).toEqual([ids[1], ids[2]]);
    expect(res.kept).toEqual([expect.objectContaining({ id: 'no-such-job', code: 'JOB_NOT_FOUND' })]);
    expect((await fetch(`${server.url}/api/v1/jobs/${ids[1]}`)).status).toBe(404);
    expect((await fetch(`${server.url}/api/v1/jobs/${ids[0]}`)).status).toBe(200);
  });
});
