import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { joinWavs } from './support/audio.js';
import { alive, waitFor } from './support/child-server.js';
import { clip, devClips } from './support/corpus.js';
import { poolView, postAudio } from './support/http.js';
import { getJob, submitJob, waitFinished, waitForJob, type JobView } from './support/jobs.js';
import { postForm, startTestServer, type TestServer } from './support/server.js';
import { parseTimes } from './support/captions.js';

const short = clip('1089-134686-0001'); // 3.3 s
const shortPath = short.path;
const scratch = mkdtempSync(join(tmpdir(), 'hark-jobs-audio-'));

/** ~65 s of speech: several seconds of decoding, long enough for others to queue behind it. */
const blocker = join(scratch, 'blocker.wav');
/** ~25 s of speech: a job that runs for a couple of seconds. */
const medium = join(scratch, 'medium.wav');
beforeAll(() => {
  joinWavs(devClips.slice(0, 8).map((c) => c.path), blocker);
  joinWavs(devClips.slice(0, 3).map((c) => c.path), medium);
});
afterAll(async () => rm(scratch, { recursive: true, force: true }));

interface ErrorBody {
  error: { code: string; message: string };
}

/** Every job, walking the list with `limit` per page; also returns the pages' sizes. */
async function listAll(base: string, limit: number, query = ''): Promise<{ ids: string[]; pages: number[] }> {
  const ids: string[] = [];
  const pages: number[] = [];
  let cursor: string | null = null;
  do {
    const res = await fetch(`${base}/api/v1/jobs?limit=${limit}${query}${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`);
    expect(res.status).toBe(200);
    const page = (await res.json()) as { jobs: JobView[]; next_cursor: string | null };
    ids.push(...page.jobs.map((j) => j.id));
    pages.push(page.jobs.length);
    cursor = page.next_cursor;
  } while (cursor !== null && pages.length < 100);
  return { ids, pages };
}

interface SseEvent {
  event: string;
  data: string;
  /** When the client read it (ms). */
  at: number;
}

/** Reads an SSE stream to its end (the server closes it after `end`). */
async function readSse(url: string, timeoutMs = 60_000): Promise<{ status: number; contentType: string | null; events: SseEvent[] }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  const events: SseEvent[] = [];
  if (res.body === null) return { status: res.status, contentType: res.headers.get('content-type'), events };
  const decoder = new TextDecoder();
  let buf = '';
  for await (const chunk of res.body) {
    buf += decoder.decode(chunk as Uint8Array, { stream: true });
    let cut: number;
    while ((cut = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, cut);
      buf = buf.slice(cut + 2);
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event: ')) event = line.slice(7);
        else if (line.startsWith('data: ')) data.push(line.slice(6));
      }
      if (data.length > 0) events.push({ event, data: data.join('\n'), at: Date.now() });
    }
  }
  return { status: res.status, contentType: res.headers.get('content-type'), events };
}

async function cancel(base: string, id: string): Promise<Response> {
  return fetch(`${base}/api/v1/jobs/${id}/cancel`, { method: 'POST' });
}

describe('jobs API on one in-process server', () => {
  let server: TestServer;
  let base: string;
  beforeAll(async () => {
    server = await startTestServer({ IN_PROCESS_CONCURRENCY: '1' });
    base = server.url;
  });
  afterAll(async () => server?.stop());

  it('runs a real clip to completion and serves the result as json, text, srt and vtt', async () => {
    const accepted = await submitJob(base, shortPath);
    expect(accepted.status).toBe('queued');
    expect(accepted.links['self']).toBe(`/api/v1/jobs/${accepted.job_id}`);
    const job = await waitFinished(base, accepted.job_id);
    expect(job).toMatchObject({ status: 'completed', progress: 1, attempts: 1, error: null, isolation: 'in-process', engine: 'pocketsphinx' });
    expect(job.process_id).toBe(process.pid); // in-process: the server (this test process) decoded
    expect(Date.parse(job.started_at!)).toBeGreaterThanOrEqual(Date.parse(job.created_at));
    expect(Date.parse(job.finished_at!)).toBeGreaterThanOrEqual(Date.parse(job.started_at!));
    expect(job.duration_seconds).toBeCloseTo(short.durationSeconds, 1);

    const json = await fetch(`${base}/api/v1/jobs/${job.id}/result?format=json`);
    expect(json.status).toBe(200);
    expect(json.headers.get('content-type')).toMatch(/^application\/json/);
    const body = (await json.json()) as { id: string; text: string; words: { word: string; start: number; end: number }[]; segments: { start: number; end: number; text: string }[] };
    expect(body.id).toBe(job.id);
    expect(body.text.length).toBeGreaterThan(5);
    expect(body.words.length).toBeGreaterThan(2);
    expect(body.segments.length).toBeGreaterThan(0);
    for (const w of body.words) expect(w.end).toBeGreaterThanOrEqual(w.start);
    // The default format is json.
    expect(await (await fetch(`${base}/api/v1/jobs/${job.id}/result`)).json()).toEqual(body);

    const text = await fetch(`${base}/api/v1/jobs/${job.id}/result?format=text`);
    expect(text.status).toBe(200);
    expect(text.headers.get('content-type')).toMatch(/^text\/plain/);
    expect((await text.text()).trim()).toBe(body.text.trim());

    for (const [format, sep, type] of [['srt', ',', /^application\/x-subrip/], ['vtt', '.', /^text\/vtt/]] as const) {
      const res = await fetch(`${base}/api/v1/jobs/${job.id}/result?format=${format}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(type);
      const out = await res.text();
      if (format === 'vtt') expect(out.startsWith('WEBVTT')).toBe(true);
      const times = parseTimes(out, sep);
      expect(times.length).toBeGreaterThanOrEqual(2);
      for (let i = 1; i < times.length; i++) expect(times[i]!).toBeGreaterThanOrEqual(times[i - 1]!);
      expect(times[times.length - 1]!).toBeLessThanOrEqual(short.durationSeconds + 0.5);
    }
  });

  it('accepts the seeds\' route /api/v1/transcribe/batch with field audio_file', async () => {
    const res = await postForm(`${base}/api/v1/transcribe/batch`, { audio_file: { path: shortPath }, priority: 'high' });
    expect(res.status).toBe(202);
    const { job_id } = (await res.json()) as { job_id: string };
    expect(res.headers.get('location')).toBe(`/api/v1/jobs/${job_id}`);
    expect(await waitFinished(base, job_id)).toMatchObject({ status: 'completed', priority: 'high' });
  });

  it('returns the same job for a repeated Idempotency-Key (200) and stores it once', async () => {
    const key = `key-${Date.now()}`;
    const first = await postAudio(`${base}/api/v1/jobs`, shortPath, {}, { headers: { 'idempotency-key': key } });
    expect(first.status).toBe(202);
    const a = (await first.json()) as { job_id: string };
    const again = await postAudio(`${base}/api/v1/jobs`, shortPath, {}, { headers: { 'idempotency-key': key } });
    expect(again.status).toBe(200);
    expect(((await again.json()) as { job_id: string }).job_id).toBe(a.job_id);
    await waitFinished(base, a.job_id);
    // Once it has finished, the key still names it.
    const late = await postAudio(`${base}/api/v1/jobs`, shortPath, {}, { headers: { 'idempotency-key': key } });
    expect(late.status).toBe(200);
    expect(((await late.json()) as { job_id: string }).job_id).toBe(a.job_id);
    // Two submits with one new key at the same moment: one job, both answers name it.
    const racing = `race-${Date.now()}`;
    const both = await Promise.all([0, 1].map(() => postAudio(`${base}/api/v1/jobs`, shortPath, {}, { headers: { 'idempotency-key': racing } })));
    expect(both.map((r) => r.status).sort()).toEqual([200, 202]);
    const [x, y] = (await Promise.all(both.map((r) => r.json()))) as { job_id: string }[];
    expect(x!.job_id).toBe(y!.job_id);
    await waitFinished(base, x!.job_id);
    const { ids } = await listAll(base, 200);
    expect(ids.filter((id) => id === a.job_id)).toHaveLength(1);
    expect(ids.filter((id) => id === x!.job_id)).toHaveLength(1);
    expect(ids).toHaveLength(new Set(ids).size);
    // Nothing of the repeated uploads is left behind.
    expect(await server.tempFiles()).toEqual([]);
    // Every folder left belongs to a stored job (a finished job's goes with its audio).
    expect(readdirSync(join(server.dataDir, 'jobs')).filter((d) => !ids.includes(d))).toEqual([]);
  });

  it('streams log lines while the job runs, then `end` with the final status; tail=N gives the last N lines', async () => {
    const { job_id } = await submitJob(base, medium);
    const stream = await readSse(`${base}/api/v1/jobs/${job_id}/logs/stream`);
    expect(stream.status).toBe(200);
    expect(stream.contentType).toMatch(/^text\/event-stream/);
    const job = await getJob(base, job_id);
    expect(job.status).toBe('completed');
    const logs = stream.events.filter((e) => e.event === 'log');
    const last = stream.events[stream.events.length - 1]!;
    expect(last.event).toBe('end');
    expect(JSON.parse(last.data)).toEqual({ status: 'completed' });
    expect(stream.events.filter((e) => e.event === 'end')).toHaveLength(1);
    // Lines arrived as they were written, not all at the end.
    expect(logs.length).toBeGreaterThanOrEqual(4);
    const finishedAt = Date.parse(job.finished_at!);
    expect(logs.filter((e) => e.at < finishedAt).map((e) => e.data).join('\n')).toMatch(/decoding in process \d+/);
    expect(logs.some((e) => /progress \d+%/.test(e.data))).toBe(true);

    const all = (await (await fetch(`${base}/api/v1/jobs/${job_id}/logs`)).json()) as { lines: string[]; status: string };
    expect(all.status).toBe('completed');
    expect(all.lines).toEqual(logs.map((e) => e.data)); // the stream carried every line, once
    expect(all.lines[0]).toMatch(/accepted/);
    expect(all.lines[all.lines.length - 1]).toMatch(/completed/);
    const tail = (await (await fetch(`${base}/api/v1/jobs/${job_id}/logs?tail=2`)).json()) as { lines: string[] };
    expect(tail.lines).toEqual(all.lines.slice(-2));

    // A stream opened after the end replays the log and ends at once.
    const replay = await readSse(`${base}/api/v1/jobs/${job_id}/logs/stream`, 10_000);
    expect(replay.events.filter((e) => e.event === 'log').map((e) => e.data)).toEqual(all.lines);
    expect(replay.events[replay.events.length - 1]).toMatchObject({ event: 'end' });
  });

  it('refuses result (409) and DELETE (409) while a job waits or runs, cancels it, then 409 on a second cancel', async () => {
    const { job_id } = await submitJob(base, medium);
    const early = await fetch(`${base}/api/v1/jobs/${job_id}/result`);
    expect(early.status).toBe(409);
    expect(((await early.json()) as ErrorBody).error.code).toBe('JOB_NOT_COMPLETED');
    const del = await fetch(`${base}/api/v1/jobs/${job_id}`, { method: 'DELETE' });
    expect(del.status).toBe(409);
    expect(((await del.json()) as ErrorBody).error.code).toBe('JOB_NOT_FINISHED');

    const res = await cancel(base, job_id);
    expect(res.status).toBe(200);
    expect(((await res.json()) as JobView).status).toBe('cancelled');
    const after = await waitForJob(base, job_id, (j) => j.status === 'cancelled');
    expect(after.error?.code).toBe('CANCELLED');
    const again = await cancel(base, job_id);
    expect(again.status).toBe(409);
    expect(((await again.json()) as ErrorBody).error.code).toBe('JOB_ALREADY_FINISHED');
    const result = await fetch(`${base}/api/v1/jobs/${job_id}/result`);
    expect(result.status).toBe(409);
    // The server is free again: the next job runs.
    const next = await submitJob(base, shortPath);
    expect((await waitFinished(base, next.job_id)).status).toBe('completed');
  });

  it('answers 409 JOB_ALREADY_FINISHED to cancelling a completed job, and it stays completed', async () => {
    const { job_id } = await submitJob(base, shortPath);
    await waitFinished(base, job_id);
    const res = await cancel(base, job_id);
    expect(res.status).toBe(409);
    expect(((await res.json()) as ErrorBody).error.code).toBe('JOB_ALREADY_FINISHED');
    expect((await getJob(base, job_id)).status).toBe('completed');
    expect((await fetch(`${base}/api/v1/jobs/${job_id}/result`)).status).toBe(200);
  });

  it('DELETE removes a finished job and its folder under DATA_DIR/jobs', async () => {
    const { job_id } = await submitJob(base, shortPath);
    await waitFinished(base, job_id);
    const dir = join(server.dataDir, 'jobs', job_id);
    // The log is in the job store now; it goes with the job.
    expect(((await (await fetch(`${base}/api/v1/jobs/${job_id}/logs`)).json()) as { lines: string[] }).lines.length).toBeGreaterThan(0);
    const res = await fetch(`${base}/api/v1/jobs/${job_id}`, { method: 'DELETE' });
    expect(res.status).toBe(204);
    expect(await res.text()).toBe('');
    expect(existsSync(dir)).toBe(false);
    expect((await fetch(`${base}/api/v1/jobs/${job_id}`)).status).toBe(404);
    expect((await fetch(`${base}/api/v1/jobs/${job_id}/logs`)).status).toBe(404);
    expect((await fetch(`${base}/api/v1/jobs/${job_id}`, { method: 'DELETE' })).status).toBe(404);
    expect((await listAll(base, 200)).ids).not.toContain(job_id);
  });

  it('deletes the uploaded audio as soon as a job ends (KEEP_JOB_AUDIO=false)', async () => {
    const { job_id } = await submitJob(base, shortPath);
    expect((await waitFinished(base, job_id)).status).toBe('completed');
    // Removed right after the result is stored (not before: a requeued run still needs it).
    await waitForJob(base, job_id, (j) => !j.audio_available, 5000);
    expect(existsSync(join(server.dataDir, 'jobs', job_id))).toBe(false); // its folder held only the audio
  });

  it('pages through every job exactly once, newest first, with limit=2 and next_cursor', async () => {
    for (let i = 0; i < 3; i++) await submitJob(base, shortPath, { priority: 'low' });
    const everything = await listAll(base, 200);
    expect(everything.pages).toEqual([everything.ids.length]);
    expect(everything.ids.length).toBeGreaterThanOrEqual(5);
    const paged = await listAll(base, 2);
    expect(paged.ids).toEqual(everything.ids);
    expect(paged.pages.slice(0, -1).every((n) => n === 2)).toBe(true);
    const res = (await (await fetch(`${base}/api/v1/jobs?limit=200`)).json()) as { jobs: JobView[] };
    const created = res.jobs.map((j) => Date.parse(j.created_at));
    for (let i = 1; i < created.length; i++) expect(created[i]!).toBeLessThanOrEqual(created[i - 1]!);
    // A status filter pages the same way.
    const cancelled = await listAll(base, 1, '&status=cancelled');
    expect(cancelled.ids).toEqual(res.jobs.filter((j) => j.status === 'cancelled').map((j) => j.id));
    for (const id of everything.ids.slice(0, 3)) await waitFinished(base, id);
  });

  it('answers 404 JOB_NOT_FOUND for an unknown id on every job route', async () => {
    const id = '00000000-0000-4000-8000-000000000000';
    const calls: [string, string][] = [
      ['GET', ''],
      ['GET', '/result'],
      ['GET', '/result?format=srt'],
      ['POST', '/cancel'],
      ['GET', '/logs'],
      ['GET', '/logs?tail=2'],
      ['GET', '/logs/stream'],
      ['DELETE', ''],
    ];
    for (const [method, path] of calls) {
      const res = await fetch(`${base}/api/v1/jobs/${id}${path}`, { method });
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(((await res.json()) as ErrorBody).error.code, `${method} ${path}`).toBe('JOB_NOT_FOUND');
    }
  });

  it('answers 400 INVALID_CURSOR to a cursor it did not give out', async () => {
    for (const cursor of ['garbage', '!!!', 'MTIz', Buffer.from('12:../../etc').toString('base64url')]) {
      const res = await fetch(`${base}/api/v1/jobs?cursor=${encodeURIComponent(cursor)}`);
      expect(res.status, cursor).toBe(400);
      expect(((await res.json()) as ErrorBody).error.code, cursor).toBe('INVALID_CURSOR');
    }
  });

  it('refuses a callback_url that is not an http(s) URL (400 INVALID_CALLBACK_URL), storing nothing', async () => {
    const before = (await listAll(base, 200)).ids.length;
    for (const url of ['ftp://x', 'not a url', 'http://user:pw@127.0.0.1/hook', 'file:///etc/passwd']) {
      const res = await postAudio(`${base}/api/v1/jobs`, shortPath, { callback_url: url });
      expect(res.status, url).toBe(400);
      expect(((await res.json()) as ErrorBody).error.code, url).toBe('INVALID_CALLBACK_URL');
    }
    expect((await listAll(base, 200)).ids.length).toBe(before);
    expect(await server.tempFiles()).toEqual([]);
  });

  it('refuses a file that is not audio at submit (400 INVALID_AUDIO), leaving nothing on disk', async () => {
    const jobsDir = join(server.dataDir, 'jobs');
    const foldersBefore = existsSync(jobsDir) ? readdirSync(jobsDir).length : 0;
    const before = (await listAll(base, 200)).ids.length;
    const notAudio = new Blob([Buffer.from('this is a text file, not audio\n'.repeat(200))], { type: 'audio/wav' });
    for (const route of ['/api/v1/jobs', '/api/v1/transcribe/batch']) {
      const field = route.endsWith('batch') ? 'audio_file' : 'file';
      const res = await postForm(`${base}${route}`, { [field]: notAudio });
      expect(res.status, route).toBe(400);
      expect(((await res.json()) as ErrorBody).error.code, route).toBe('INVALID_AUDIO');
    }
    expect((await listAll(base, 200)).ids.length).toBe(before);
    expect(existsSync(jobsDir) ? readdirSync(jobsDir).length : 0).toBe(foldersBefore);
    expect(await server.tempFiles()).toEqual([]);
  });

  it('refuses bad submit fields with 400, and process isolation on a server without the pool with 503, storing no job', async () => {
    const before = (await listAll(base, 200)).ids.length;
    const refusals: [Record<string, string>, string][] = [
      [{ priority: 'urgent' }, 'INVALID_REQUEST'],
      [{ isolation: 'sandbox' }, 'INVALID_REQUEST'],
      // An engine this server did not load, known to hark or not.
      [{ engine: 'nope' }, 'MODEL_NOT_FOUND'],
      [{ engine: 'whisper' }, 'MODEL_NOT_FOUND'],
    ];
    for (const [fields, code] of refusals) {
      const res = await postAudio(`${base}/api/v1/jobs`, shortPath, fields);
      expect(res.status, JSON.stringify(fields)).toBe(400);
      expect(((await res.json()) as ErrorBody).error.code).toBe(code);
    }
    const isolated = await postAudio(`${base}/api/v1/jobs`, shortPath, { isolation: 'process' });
    expect(isolated.status).toBe(503);
    expect(((await isolated.json()) as ErrorBody).error.code).toBe('PROCESS_ISOLATION_DISABLED');
    expect((await listAll(base, 200)).ids.length).toBe(before);
    expect(await server.tempFiles()).toEqual([]);
  });
});

describe('jobs queue order with one decoder', () => {
  // Short utterances: a cancelled in-process blocker stops at the next one (about a second).
  const oneDecoder = { IN_PROCESS_CONCURRENCY: '1', UTTERANCE_MAX_SECONDS: '5' };
  let server: TestServer | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  /** Waits for every listed job to end and returns them (cancelling leftovers keeps shutdown quick). */
  async function finishAll(base: string, ids: string[]): Promise<JobView[]> {
    return Promise.all(ids.map((id) => waitFinished(base, id)));
  }

  it('starts queued jobs by priority (high, normal, normal, low), FIFO within a priority', async () => {
    server = await startTestServer(oneDecoder);
    const base = server.url;
    const block = await submitJob(base, blocker);
    await waitForJob(base, block.job_id, (j) => j.status === 'running');
    const order: [string, string][] = [];
    for (const priority of ['low', 'normal', 'high', 'normal']) order.push([priority, (await submitJob(base, shortPath, { priority })).job_id]);
    // While the blocker decodes, the others wait: queued, not started.
    for (const [, id] of order) expect(await getJob(base, id)).toMatchObject({ status: 'queued', started_at: null });
    expect((await cancel(base, block.job_id)).status).toBe(200);
    const jobs = await finishAll(base, order.map(([, id]) => id));
    for (const j of jobs) expect(j.status).toBe('completed');
    const byStart = [...jobs].sort((a, b) => Date.parse(a.started_at!) - Date.parse(b.started_at!)).map((j) => j.id);
    expect(byStart).toEqual([order[2]![1], order[1]![1], order[3]![1], order[0]![1]]);
    // One decoder: each started once the previous one's decode was over. The decoder is free as soon
    // as the decode ends, a few ms before that job's result is stored with its finished_at, so the next
    // may be claimed in that gap; two decodes at once would overlap by most of a decode (hundreds of ms).
    const sorted = byStart.map((id) => jobs.find((j) => j.id === id)!);
    for (let i = 1; i < sorted.length; i++) expect(Date.parse(sorted[i]!.started_at!)).toBeGreaterThanOrEqual(Date.parse(sorted[i - 1]!.finished_at!) - 100);
  });

  it('lets a low job that waited past PRIORITY_AGING_SECONDS start before a newer normal one', async () => {
    server = await startTestServer({ ...oneDecoder, PRIORITY_AGING_SECONDS: '1' });
    const base = server.url;
    const block = await submitJob(base, blocker);
    await waitForJob(base, block.job_id, (j) => j.status === 'running');
    const low = await submitJob(base, shortPath, { priority: 'low' });
    await new Promise((r) => setTimeout(r, 2500));
    const normal = await submitJob(base, shortPath, { priority: 'normal' });
    expect((await getJob(base, low.job_id)).status).toBe('queued');
    expect((await cancel(base, block.job_id)).status).toBe(200);
    const [l, n] = await finishAll(base, [low.job_id, normal.job_id]);
    expect(Date.parse(l!.started_at!)).toBeLessThan(Date.parse(n!.started_at!));
  });

  it('counts the jobs waiting in the store on /api/v1/capacity, per mode, apart from the admission line', async () => {
    server = await startTestServer({ ...oneDecoder, ENABLE_PROCESS_ISOLATED: 'true', WORKER_COUNT: '1' });
    const base = server.url;
    type Fill = { active_jobs: number; queued_jobs: number; max_queue_size: number; store_queued_jobs: number };
    const capacity = async () => (await (await fetch(`${base}/api/v1/capacity`)).json()) as Fill & { modes: Record<string, Fill> };
    // Each mode's one decoder busy, then jobs that wait in the store behind them: two in-process, one process.
    const blocks = [await submitJob(base, blocker, { isolation: 'in-process' }), await submitJob(base, blocker, { isolation: 'process' })];
    for (const b of blocks) await waitForJob(base, b.job_id, (j) => j.status === 'running');
    const waiting: string[] = [];
    for (const isolation of ['in-process', 'process', 'in-process']) waiting.push((await submitJob(base, shortPath, { isolation })).job_id);
    const busy = await capacity();
    // The seeds' fields still count the admission line only; the store's jobs are beside them, per mode.
    expect(busy.modes['in-process']).toMatchObject({ active_jobs: 1, queued_jobs: 0, max_queue_size: 32, store_queued_jobs: 2 });
    expect(busy.modes['process']).toMatchObject({ active_jobs: 1, queued_jobs: 0, max_queue_size: 32, store_queued_jobs: 1 });
    const { default_isolation } = (await (await fetch(`${base}/api/v1/system`)).json()) as { default_isolation: string };
    expect(busy).toMatchObject(busy.modes[default_isolation]!);
    for (const id of [...waiting, ...blocks.map((b) => b.job_id)]) expect((await cancel(base, id)).status).toBe(200);
    const idle = await capacity();
    expect([idle.modes['in-process']!.store_queued_jobs, idle.modes['process']!.store_queued_jobs]).toEqual([0, 0]);
    await finishAll(base, blocks.map((b) => b.job_id));
  });

  it('answers 503 AT_CAPACITY with Retry-After once MAX_QUEUE_SIZE jobs wait, and accepts again once a waiting job is cancelled', async () => {
    server = await startTestServer({ ...oneDecoder, MAX_QUEUE_SIZE: '1' });
    const base = server.url;
    const block = await submitJob(base, blocker);
    await waitForJob(base, block.job_id, (j) => j.status === 'running');
    const waiting = await submitJob(base, shortPath, {}, { 'idempotency-key': 'waiting-1' });
    const full = await postAudio(`${base}/api/v1/jobs`, shortPath);
    expect(full.status).toBe(503);
    expect(((await full.json()) as ErrorBody).error.code).toBe('AT_CAPACITY');
    expect(Number(full.headers.get('retry-after'))).toBeGreaterThan(0);
    // A client retrying its own submit (same Idempotency-Key) gets its job, not the 503.
    const retried = await postAudio(`${base}/api/v1/jobs`, shortPath, {}, { headers: { 'idempotency-key': 'waiting-1' } });
    expect(retried.status).toBe(200);
    expect(((await retried.json()) as { job_id: string }).job_id).toBe(waiting.job_id);
    const listed = (await (await fetch(`${base}/api/v1/jobs?limit=200`)).json()) as { jobs: JobView[] };
    expect(listed.jobs).toHaveLength(2);
    // The refused upload is gone (what is left is the running blocker's PCM).
    expect((await server.tempFiles()).filter((f) => !f.endsWith('.pcm'))).toEqual([]);
    // Cancelling the waiting job frees its place at once, and its audio goes with it.
    expect((await cancel(base, waiting.job_id)).status).toBe(200);
    expect(await getJob(base, waiting.job_id)).toMatchObject({ status: 'cancelled', audio_available: false, started_at: null });
    expect(existsSync(join(server.dataDir, 'jobs', waiting.job_id))).toBe(false);
    const ok = await postAudio(`${base}/api/v1/jobs`, shortPath);
    expect(ok.status).toBe(202);
    expect((await cancel(base, block.job_id)).status).toBe(200);
    const [done] = await finishAll(base, [((await ok.json()) as { job_id: string }).job_id]);
    expect(done!.status).toBe('completed');
  });
});

describe('cancelling a process-isolated job', () => {
  let server: TestServer | undefined;
  afterAll(async () => server?.stop());

  it('kills the worker running it, marks it cancelled, and the pool refills', async () => {
    server = await startTestServer({ ENABLE_PROCESS_ISOLATED: 'true', WORKER_COUNT: '1' });
    const base = server.url;
    const first = (await poolView(base)).workers[0]!.pid;
    const { job_id } = await submitJob(base, blocker, { isolation: 'process' });
    const running = await waitForJob(base, job_id, (j) => j.status === 'running' && j.process_id !== null);
    expect(running.process_id).toBe(first);
    const res = await cancel(base, job_id);
    expect(res.status).toBe(200);
    expect(((await res.json()) as JobView).status).toBe('cancelled');
    await waitFor(() => !alive(first), 10_000);
    const job = await getJob(base, job_id);
    expect(job).toMatchObject({ status: 'cancelled', error: { code: 'CANCELLED' } });
    expect(job.finished_at).not.toBeNull();
    await waitFor(async () => {
      const view = await poolView(base);
      return view.ready_workers === 1 && view.workers.every((w) => w.pid !== first);
    }, 20_000);
    expect((await poolView(base)).totals.recycled.cancel).toBe(1);
    // The cancelled job's result never appears, and its log says why.
    await new Promise((r) => setTimeout(r, 300));
    expect((await getJob(base, job_id)).status).toBe('cancelled');
    const log = (await (await fetch(`${base}/api/v1/jobs/${job_id}/logs`)).json()) as { lines: string[] };
    expect(log.lines.join('\n')).toMatch(/cancel/);
    // The new worker takes the next job.
    const next = await submitJob(base, shortPath, { isolation: 'process' });
    const done = await waitFinished(base, next.job_id);
    expect(done.status).toBe('completed');
    expect(done.process_id).not.toBe(first);
  });
});

describe('retention and KEEP_JOB_AUDIO', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'hark-retention-'));
  let server: TestServer | undefined;
  afterAll(async () => {
    await server?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('keeps the audio with KEEP_JOB_AUDIO=true, and a restart past JOB_CLEANUP_MAX_AGE_HOURS deletes the expired job and its files', async () => {
    const env = { DATA_DIR: dataDir, KEEP_JOB_AUDIO: 'true', JOB_CLEANUP_MAX_AGE_HOURS: '1' };
    server = await startTestServer(env);
    const old = await waitFinished(server.url, (await submitJob(server.url, shortPath)).job_id);
    expect(old).toMatchObject({ status: 'completed', audio_available: true });
    const oldDir = join(dataDir, 'jobs', old.id);
    expect(readdirSync(oldDir)).toEqual(['audio']);
    const young = await waitFinished(server.url, (await submitJob(server.url, shortPath)).job_id);
    expect(young.audio_available).toBe(true);
    await server.stop();

    // The first job finished 61 minutes ago, as the store says while no server runs (no clock to wait for).
    const db = new Database(join(dataDir, 'hark.db'));
    db.prepare('UPDATE transcription_jobs SET finished_at = ? WHERE id = ?').run(Date.now() - 61 * 60_000, old.id);
    db.close();
    server = await startTestServer(env);
    await waitFor(async () => (await fetch(`${server!.url}/api/v1/jobs/${old.id}`)).status === 404, 10_000);
    expect(existsSync(oldDir)).toBe(false);
    // Only what had expired went.
    expect(await getJob(server.url, young.id)).toMatchObject({ status: 'completed', audio_available: true });
    expect(readdirSync(join(dataDir, 'jobs', young.id))).toEqual(['audio']);
    expect((await fetch(`${server.url}/api/v1/jobs/${young.id}/result`)).status).toBe(200);
  });
});
