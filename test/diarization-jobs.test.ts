import { mkdtempSync, readdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { joinWavs } from './support/audio.js';
import { waitFor } from './support/child-server.js';
import { hark } from './support/cli.js';
import { clip } from './support/corpus.js';
import { postAudio } from './support/http.js';
import { getJob, submitJob, waitFinished } from './support/jobs.js';
import { startTestServer, type TestServer } from './support/server.js';

/**
 * Issue 21 on jobs and the CLI: a job stores what it asked of diarization,
 * shows it in its view and runs every attempt with it; its result carries the
 * speakers in every format; `--diarize` on `hark transcribe` and `hark jobs
 * submit`. Assertions hold for any diarizer that tells two clearly different
 * speakers one after the other apart and honours an exact count.
 */

const first = clip('1089-134686-0000'); // speaker 1089, 10.4 s
const second = clip('1221-135766-0002'); // speaker 1221, 4.8 s
const dir = mkdtempSync(join(tmpdir(), 'hark-diarize-jobs-'));
const files = {
  two: join(dir, 'two-speakers.wav'),
  /** 35 s, speaker 1089 then 1221: a few seconds of decoding, time to kill the worker in the middle. */
  long: join(dir, 'long-two-speakers.wav'),
};

interface Result {
  text: string;
  speakers?: number;
  segments: { start: number; end: number; text: string; speaker?: string }[];
  words: { start: number; end: number; word: string; speaker?: string }[];
}

interface ErrorBody {
  error: { code: string; message: string };
}

beforeAll(() => {
  joinWavs([first.path, second.path], files.two);
  joinWavs([first.path, clip('1089-134686-0005').path, clip('1089-134686-0006').path, second.path], files.long);
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

/** The text of each SRT cue (its third line). */
const cueTexts = (srt: string) =>
  srt
    .trim()
    .split('\n\n')
    .map((cue) => cue.split('\n')[2]!);

/** The non-empty lines of a text transcript. */
const lines = (text: string) => text.split('\n').filter((l) => l !== '');

describe('diarize=true on jobs', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ ENABLE_PROCESS_ISOLATED: 'true', WORKER_COUNT: '1' });
  });
  afterAll(async () => server?.stop());

  const result = async (id: string, format = 'json') => {
    const res = await fetch(`${server.url}/api/v1/jobs/${id}/result?format=${format}`);
    expect(res.status).toBe(200);
    return format === 'json' ? ((await res.json()) as Result) : res.text();
  };
  const jobCount = async () => ((await (await fetch(`${server.url}/api/v1/jobs?limit=200`)).json()) as { jobs: unknown[] }).jobs.length;

  it('stores num_speakers=2 with the job, shows it, and labels the result A then B in json, srt, vtt and text', async () => {
    // In the worker: the request crosses to it with the task.
    const { job_id: id } = await submitJob(server.url, files.two, { diarize: 'true', num_speakers: '2', isolation: 'process' });
    expect((await getJob(server.url, id)).diarize).toEqual({ num_speakers: 2, min_speakers: null, max_speakers: null });
    expect(await waitFinished(server.url, id)).toMatchObject({ status: 'completed', isolation: 'process', diarize: { num_speakers: 2 } });

    const json = (await result(id)) as Result;
    expect(json.speakers).toBe(2);
    expect(json.words.length).toBeGreaterThan(20);
    expect(json.words.every((w) => w.speaker === 'A' || w.speaker === 'B')).toBe(true);
    expect(json.segments.every((s) => s.speaker === 'A' || s.speaker === 'B')).toBe(true);
    // The first clip's words are A's, the second's B's.
    const join = first.durationSeconds;
    const before = json.words.filter((w) => (w.start + w.end) / 2 < join - 0.5);
    const after = json.words.filter((w) => (w.start + w.end) / 2 > join + 0.5);
    expect(before.filter((w) => w.speaker === 'A').length).toBeGreaterThanOrEqual(0.9 * before.length);
    expect(after.filter((w) => w.speaker === 'B').length).toBeGreaterThanOrEqual(0.9 * after.length);

    const srt = cueTexts((await result(id, 'srt')) as string);
    expect(srt.length).toBeGreaterThan(2);
    expect(srt.every((line) => /^[AB]: \S/.test(line))).toBe(true);
    expect(srt[0]).toMatch(/^A: /);
    expect(srt.at(-1)).toMatch(/^B: /);
    const vtt = (await result(id, 'vtt')) as string;
    expect(vtt).toContain('<v A>');
    expect(vtt).toContain('<v B>');
    const text = lines((await result(id, 'text')) as string);
    expect(text[0]).toMatch(/^A: \S/);
    expect(text.at(-1)).toMatch(/^B: \S/);

    const listed = (await (await fetch(`${server.url}/api/v1/jobs`)).json()) as { jobs: { id: string; diarize: unknown }[] };
    expect(listed.jobs.find((j) => j.id === id)?.diarize).toEqual({ num_speakers: 2, min_speakers: null, max_speakers: null });
    const logs = (await (await fetch(`${server.url}/api/v1/jobs/${id}/logs`)).json()) as { lines: string[] };
    expect(logs.lines[0]).toContain('diarize (num_speakers 2)');
  });

  it('takes bounds on the seeds\' route too, and counts within them', async () => {
    const res = await postAudio(`${server.url}/api/v1/transcribe/batch`, files.two, { diarize: 'true', min_speakers: '1', max_speakers: '3' });
    expect(res.status).toBe(202);
    const { job_id: id } = (await res.json()) as { job_id: string };
    expect((await waitFinished(server.url, id)).diarize).toEqual({ num_speakers: null, min_speakers: 1, max_speakers: 3 });
    const json = (await result(id)) as Result;
    expect(json.speakers).toBeGreaterThanOrEqual(1);
    expect(json.speakers).toBeLessThanOrEqual(3);
    expect(json.words.every((w) => w.speaker !== undefined)).toBe(true);
  });

  it('shows diarize: null for a job that did not ask, and its result has no speaker anywhere', async () => {
    const { job_id: id } = await submitJob(server.url, files.two);
    expect((await waitFinished(server.url, id)).diarize).toBeNull();
    const json = (await result(id)) as Result;
    expect(json.words.length).toBeGreaterThan(20);
    expect(json.speakers).toBeUndefined();
    expect(json.words.some((w) => 'speaker' in w) || json.segments.some((s) => 'speaker' in s)).toBe(false);
    expect(cueTexts((await result(id, 'srt')) as string).some((line) => /^[AB]: /.test(line))).toBe(false);
    expect((await result(id, 'vtt')) as string).not.toContain('<v ');
  });

  it.each([
    [{ diarize: 'true', num_speakers: '0' }, 'INVALID_SPEAKER_COUNT', 'num_speakers'],
    [{ diarize: 'true', max_speakers: '21' }, 'INVALID_SPEAKER_COUNT', 'max_speakers'],
    [{ diarize: 'true', min_speakers: '3', max_speakers: '2' }, 'INVALID_SPEAKER_COUNT', 'min_speakers'],
    [{ num_speakers: '2' }, 'INVALID_REQUEST', 'diarize=true'],
    // Jobs take no reference clips: refused, never dropped (names come afterwards, PUT .../speakers).
    [{ diarize: 'true', 'known_speaker_names[]': 'Ann', 'known_speaker_references[]': 'data:audio/wav;base64,UklGRg==' }, 'INVALID_REQUEST', 'PUT /api/v1/jobs/{id}/speakers'],
    [{ diarize: 'true', known_speaker_names: 'Ann' }, 'INVALID_REQUEST', 'known_speaker_names'],
  ])('refuses %j at submit with 400 %s before anything is stored', async (fields, code, named) => {
    const jobsBefore = await jobCount();
    const foldersBefore = readdirSync(join(server.dataDir, 'jobs')).length;
    const res = await postAudio(`${server.url}/api/v1/jobs`, files.two, fields);
    expect(res.status).toBe(400);
    const body = (await res.json()) as ErrorBody;
    expect(body.error.code).toBe(code);
    expect(body.error.message).toContain(named);
    expect(await jobCount()).toBe(jobsBefore);
    expect(readdirSync(join(server.dataDir, 'jobs'))).toHaveLength(foldersBefore);
    expect(await server.tempFiles()).toEqual([]);
  });

  it('runs a retried attempt with the stored request: the worker killed mid-decode, the second attempt labels speakers', async () => {
    const { job_id: id } = await submitJob(server.url, files.long, { diarize: 'true', num_speakers: '2', isolation: 'process' });
    let pid = 0;
    await waitFor(
      async () => {
        const j = await getJob(server.url, id);
        pid = j.status === 'running' && j.process_id !== null ? j.process_id : 0;
        return pid > 0;
      },
      15_000,
      50,
    );
    process.kill(pid, 'SIGKILL');
    const done = await waitFinished(server.url, id, 90_000);
    expect(done).toMatchObject({ status: 'completed', attempts: 2, diarize: { num_speakers: 2 } });
    const json = (await result(id)) as Result;
    expect(json.speakers).toBe(2);
    expect(json.words.every((w) => w.speaker === 'A' || w.speaker === 'B')).toBe(true);
  }, 120_000);
});

describe('--diarize in the CLI', () => {
  it('hark transcribe --diarize --num-speakers 2 prints a speaker line at each change', async () => {
    const r = await hark(['transcribe', '--diarize', '--num-speakers', '2', files.two]);
    expect(r.code, r.stderr).toBe(0);
    const text = lines(r.stdout);
    expect(text.length).toBeGreaterThanOrEqual(2);
    expect(text.every((l) => /^[AB]: \S/.test(l))).toBe(true);
    expect(text[0]).toMatch(/^A: /);
    expect(text.at(-1)).toMatch(/^B: /);
  });

  it('refuses a speaker count without --diarize, or out of range, in one line naming the flag', async () => {
    const without = await hark(['transcribe', '--num-speakers', '2', files.two]);
    expect(without.code).toBe(1);
    expect(without.stdout).toBe('');
    expect(without.stderr).toBe('hark: --num-speakers, --min-speakers and --max-speakers need --diarize\n');
    const zero = await hark(['transcribe', '--diarize', '--max-speakers', '0', files.two]);
    expect(zero.code).toBe(1);
    expect(zero.stderr).toBe('hark: --max-speakers must be a whole number from 1 to 20, not "0" (INVALID_SPEAKER_COUNT)\n');
  });

  describe('hark jobs submit', () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await startTestServer();
    });
    afterAll(async () => server?.stop());

    it('--diarize --num-speakers 2 --wait stores the request with the job and prints the speakers', async () => {
      const r = await hark(['jobs', 'submit', '--diarize', '--num-speakers', '2', '--wait', files.two], { HARK_URL: server.url });
      expect(r.code, r.stderr).toBe(0);
      const id = /^([0-9a-f-]{36}) {2}/.exec(r.stdout)?.[1];
      expect(id).toBeDefined();
      expect((await getJob(server.url, id!)).diarize).toEqual({ num_speakers: 2, min_speakers: null, max_speakers: null });
      const transcript = lines(r.stdout.split('# two-speakers.wav\n')[1] ?? '');
      expect(transcript[0]).toMatch(/^A: \S/);
      expect(transcript.at(-1)).toMatch(/^B: \S/);
    });
  });
});
