import { mkdtempSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { joinWavs, wavHeader } from './support/audio.js';
import { clip } from './support/corpus.js';
import { postAudio } from './support/http.js';
import { startTestServer, type TestServer } from './support/server.js';

/**
 * Issue 21 on hark's routes: `diarize=true` labels who spoke when, where the
 * engine runs (in-process and in a worker); the speaker counts are checked; a
 * request without it is answered as before.
 */

const first = clip('1089-134686-0000'); // speaker 1089
const second = clip('1221-135766-0002'); // speaker 1221
const dir = mkdtempSync(join(tmpdir(), 'hark-diarize-api-'));
const files = { two: join(dir, 'two-speakers.wav'), one: first.path, silence: join(dir, 'silence.wav') };

interface Answer {
  text: string;
  isolation: string;
  speakers?: number;
  segments: { start: number; end: number; text: string; speaker?: string }[];
  words: { start: number; end: number; word: string; speaker?: string }[];
}

beforeAll(() => {
  joinWavs([first.path, second.path], files.two);
  writeFileSync(files.silence, Buffer.concat([wavHeader(5 * 32_000), Buffer.alloc(5 * 32_000)]));
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

describe('diarize=true on /transcriptions', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ ENABLE_PROCESS_ISOLATED: 'true', WORKER_COUNT: '1' });
  });
  afterAll(async () => server?.stop());

  async function transcribe(path: string, route: string, fields: Record<string, string>): Promise<Answer> {
    const res = await postAudio(`${server.url}${route}`, path, fields);
    expect(res.status, await res.clone().text()).toBe(200);
    return (await res.json()) as Answer;
  }

  it.each(['/transcriptions/sync', '/transcriptions/process-isolated'])('%s: two speakers one after the other get A then B, on words and segments', async (route) => {
    const t = await transcribe(files.two, route, { diarize: 'true' });
    expect(t.isolation).toBe(route.endsWith('sync') ? 'in-process' : 'process');
    expect(t.speakers).toBe(2);
    expect(t.words.length).toBeGreaterThan(20);
    expect(t.words.every((w) => w.speaker === 'A' || w.speaker === 'B')).toBe(true);
    expect(t.segments.every((s) => s.speaker === 'A' || s.speaker === 'B')).toBe(true);
    // Words take the speaker of the turn that holds them: the first clip's are A's, the second's B's.
    const join = first.durationSeconds;
    const before = t.words.filter((w) => (w.start + w.end) / 2 < join - 0.5);
    const after = t.words.filter((w) => (w.start + w.end) / 2 > join + 0.5);
    expect(before.filter((w) => w.speaker === 'A').length).toBeGreaterThanOrEqual(0.9 * before.length);
    expect(after.filter((w) => w.speaker === 'B').length).toBeGreaterThanOrEqual(0.9 * after.length);
  });

  it('gives the same words as without diarize, and no speaker anywhere without it', async () => {
    const plain = await transcribe(files.two, '/transcriptions/sync', {});
    const labelled = await transcribe(files.two, '/transcriptions/sync', { diarize: 'true' });
    expect(plain.speakers).toBeUndefined();
    expect(plain.words.some((w) => 'speaker' in w) || plain.segments.some((s) => 'speaker' in s)).toBe(false);
    expect(labelled.text).toBe(plain.text);
    expect(labelled.words.map(({ start, end, word }) => ({ start, end, word }))).toEqual(plain.words.map(({ start, end, word }) => ({ start, end, word })));
  });

  it('one speaker is one speaker; num_speakers=2 asks for two; silence has none and no error', async () => {
    expect((await transcribe(files.one, '/transcriptions/process-isolated', { diarize: 'true' })).speakers).toBe(1);
    expect((await transcribe(files.one, '/transcriptions/process-isolated', { diarize: 'true', num_speakers: '2' })).speakers).toBe(2);
    const quiet = await transcribe(files.silence, '/transcriptions/sync', { diarize: 'true' });
    expect(quiet).toMatchObject({ text: '', segments: [], words: [], speakers: 0 });
  });

  it('names the speaker on every SRT cue and as a WebVTT voice', async () => {
    const srt = await (await postAudio(`${server.url}/transcriptions/sync`, files.two, { diarize: 'true', response_format: 'srt' })).text();
    const cueTexts = srt.trim().split('\n\n').map((cue) => cue.split('\n')[2]!);
    expect(cueTexts.length).toBeGreaterThan(2);
    expect(cueTexts.every((line) => /^[AB]: \S/.test(line))).toBe(true);
    expect(cueTexts[0]).toMatch(/^A: /);
    expect(cueTexts.at(-1)).toMatch(/^B: /);
    const vtt = await (await postAudio(`${server.url}/transcriptions/sync`, files.two, { diarize: 'true', response_format: 'vtt' })).text();
    expect(vtt).toMatch(/^WEBVTT\n/);
    expect(vtt).toContain('<v A>');
    expect(vtt).toContain('<v B>');
  });

  it.each([
    [{ diarize: 'true', num_speakers: '0' }, 'INVALID_SPEAKER_COUNT', 'num_speakers'],
    [{ diarize: 'true', num_speakers: '21' }, 'INVALID_SPEAKER_COUNT', 'num_speakers'],
    [{ diarize: 'true', max_speakers: 'two' }, 'INVALID_SPEAKER_COUNT', 'max_speakers'],
    [{ diarize: 'true', min_speakers: '3', max_speakers: '2' }, 'INVALID_SPEAKER_COUNT', 'min_speakers'],
    [{ diarize: 'true', num_speakers: '4', max_speakers: '3' }, 'INVALID_SPEAKER_COUNT', 'num_speakers'],
    [{ num_speakers: '2' }, 'INVALID_REQUEST', 'diarize=true'],
    [{ diarize: 'yes' }, 'INVALID_REQUEST', 'diarize'],
  ])('refuses %j with 400 %s, naming it, and leaves no file behind', async (fields, code, named) => {
    const res = await postAudio(`${server.url}/transcriptions/sync`, files.one, fields);
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe(code);
    expect(body.error.message).toContain(named);
    expect(await server.tempFiles()).toEqual([]);
  });

  it('POST /v1/audio/diarization: speaker turns without a transcript, as JSON or RTTM', async () => {
    const res = await postAudio(`${server.url}/v1/audio/diarization`, files.two, {});
    expect(res.status, await res.clone().text()).toBe(200);
    const d = (await res.json()) as { task: string; duration: number; num_speakers: number; segments: { id: number; speaker: string; start: number; end: number }[] };
    expect(d).toMatchObject({ task: 'diarize', num_speakers: 2 });
    expect(d.duration).toBeCloseTo(first.durationSeconds + second.durationSeconds, 1);
    expect(d.segments.map((s) => s.id)).toEqual(d.segments.map((_, i) => i));
    expect(d.segments[0]!.speaker).toBe('A');
    expect(d.segments.at(-1)!.speaker).toBe('B');
    // The change of speaker lies near the join of the two clips.
    const change = d.segments.find((s) => s.speaker === 'B')!.start;
    expect(Math.abs(change - first.durationSeconds)).toBeLessThan(1);
    expect(d.segments.every((s, i) => s.end > s.start && (i === 0 || s.start >= d.segments[i - 1]!.end))).toBe(true);

    const rttm = await (await postAudio(`${server.url}/v1/audio/diarization`, files.two, { response_format: 'rttm', num_speakers: '2' })).text();
    const lines = rttm.trim().split('\n');
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(lines.every((l) => /^SPEAKER two-speakers 1 \d+\.\d{3} \d+\.\d{3} <NA> <NA> [AB] <NA> <NA>$/.test(l))).toBe(true);

    const quiet = (await (await postAudio(`${server.url}/v1/audio/diarization`, files.silence, {})).json()) as { num_speakers: number; segments: unknown[] };
    expect(quiet).toMatchObject({ num_speakers: 0, segments: [] });
  });

  it.each([
    [{ model: 'pyannote' }, 'MODEL_NOT_FOUND'],
    [{ num_speakers: '0' }, 'INVALID_SPEAKER_COUNT'],
    [{ response_format: 'srt' }, 'INVALID_RESPONSE_FORMAT'],
  ])('POST /v1/audio/diarization refuses %j with 400 %s', async (fields, code) => {
    const res = await postAudio(`${server.url}/v1/audio/diarization`, files.one, fields);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe(code);
    expect(await server.tempFiles()).toEqual([]);
  });
});
