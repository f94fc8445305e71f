import { createReadStream, mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import type { TranscriptionDiarized, TranscriptionStreamEvent, TranscriptionVerbose } from 'openai/resources/audio/transcriptions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { joinWavs } from './support/audio.js';
import { clip } from './support/corpus.js';
import { postAudio } from './support/http.js';
import { startTestServer, type TestServer } from './support/server.js';

/**
 * Issue 21 on OpenAI's route: `response_format=diarized_json` answers OpenAI's
 * diarized shape and, with `stream=true`, its `transcript.text.segment` events,
 * read by the official client in both isolation modes; the reference-clip
 * fields hark cannot honour yet are refused; other formats are as they were.
 */

const first = clip('1089-134686-0000'); // speaker 1089
const second = clip('1221-135766-0002'); // speaker 1221
const dir = mkdtempSync(join(tmpdir(), 'hark-openai-diarize-'));
const two = join(dir, 'two-speakers.wav');
/** Where the second clip starts in the joined file. */
const joinAt = first.durationSeconds;

let server: TestServer;
let client: OpenAI;
/** The joined file's text without diarization: what every diarized answer must say too. */
let plain: string;

beforeAll(async () => {
  joinWavs([first.path, second.path], two);
  server = await startTestServer({ ENABLE_PROCESS_ISOLATED: 'true', WORKER_COUNT: '1', DEFAULT_ISOLATION: 'in-process' });
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'not-needed', maxRetries: 0 });
  plain = (await client.audio.transcriptions.create({ file: createReadStream(two), model: 'whisper-1' })).text;
}, 60_000);

afterAll(async () => {
  await server?.stop();
  await rm(dir, { recursive: true, force: true });
});

type Segment = TranscriptionDiarized['segments'][number];

/** The client's overloads type a diarized_json answer as a plain `Transcription`; what comes is a `TranscriptionDiarized`. */
async function diarized(isolation: string, extra: Record<string, unknown> = {}): Promise<TranscriptionDiarized> {
  const t = await client.audio.transcriptions.create({ file: createReadStream(two), model: 'whisper-1', response_format: 'diarized_json', ...extra }, { query: { isolation } });
  return t as TranscriptionDiarized;
}

/** Seconds of segment time on one side of the join, and how much of it went to `speaker`. */
function share(segments: readonly Segment[], side: 'before' | 'after', speaker: string): number {
  const clipped = segments.map((s) => ({
    speaker: s.speaker,
    seconds: side === 'before' ? Math.max(0, Math.min(s.end, joinAt) - s.start) : Math.max(0, s.end - Math.max(s.start, joinAt)),
  }));
  const total = clipped.reduce((sum, s) => sum + s.seconds, 0);
  return clipped.filter((s) => s.speaker === speaker).reduce((sum, s) => sum + s.seconds, 0) / total;
}

/** OpenAI's shape exactly, with the first clip's speech A's and the second's B's. */
function expectTwoSpeakers(segments: readonly Segment[]): void {
  expect(segments.length).toBeGreaterThan(1);
  for (const s of segments) {
    expect(Object.keys(s).sort()).toEqual(['end', 'id', 'speaker', 'start', 'text', 'type']);
    expect(s).toMatchObject({ type: 'transcript.text.segment', id: expect.any(String), text: expect.stringMatching(/\S/) });
    expect(s.end).toBeGreaterThan(s.start);
  }
  expect(new Set(segments.map((s) => s.id)).size).toBe(segments.length);
  expect(segments.map((s) => s.speaker).filter((sp, i, all) => all.indexOf(sp) === i)).toEqual(['A', 'B']);
  expect(segments[0]!.speaker).toBe('A');
  expect(segments.at(-1)!.speaker).toBe('B');
  expect(share(segments, 'before', 'A')).toBeGreaterThanOrEqual(0.8);
  expect(share(segments, 'after', 'B')).toBeGreaterThanOrEqual(0.8);
}

describe('response_format=diarized_json on /v1/audio/transcriptions', () => {
  it.each(['in-process', 'process'])('%s: the openai client gets OpenAI\'s diarized shape, speakers A then B, the same text as json', async (isolation) => {
    const t = await diarized(isolation);
    expect(Object.keys(t).sort()).toEqual(['duration', 'segments', 'task', 'text', 'usage']);
    expect(t.task).toBe('transcribe');
    expect(t.text).toBe(plain);
    expect(t.duration).toBeCloseTo(first.durationSeconds + second.durationSeconds, 1);
    expect(t.usage).toEqual({ type: 'duration', seconds: Math.ceil(t.duration) });
    expectTwoSpeakers(t.segments);
    // The segments' words are the transcript's words, in order.
    expect(t.segments.map((s) => s.text).join(' ')).toBe(plain);
  });

  it.each(['in-process', 'process'])('%s: stream=true sends the deltas, then one segment event per diarized segment, then done', async (isolation) => {
    const expected = (await diarized(isolation)).segments;
    const stream = await client.audio.transcriptions.create(
      { file: createReadStream(two), model: 'whisper-1', response_format: 'diarized_json', stream: true },
      { query: { isolation } },
    );
    const events: TranscriptionStreamEvent[] = [];
    for await (const e of stream) events.push(e);
    const types = events.map((e) => e.type);
    const firstSegment = types.indexOf('transcript.text.segment');
    // Deltas while decoding; the segment events once the speakers are known; done last, once.
    expect(types.slice(0, firstSegment).every((t) => t === 'transcript.text.delta')).toBe(true);
    expect(types.slice(firstSegment, -1).every((t) => t === 'transcript.text.segment')).toBe(true);
    expect(types.at(-1)).toBe('transcript.text.done');
    expect(types.filter((t) => t === 'transcript.text.done')).toHaveLength(1);
    const segments = events.flatMap((e) => (e.type === 'transcript.text.segment' ? [e] : []));
    expectTwoSpeakers(segments);
    expect(segments).toEqual(expected);
    const done = events.at(-1);
    expect(done?.type === 'transcript.text.done' && done.text).toBe(plain);
    expect(events.flatMap((e) => (e.type === 'transcript.text.delta' ? [e.delta] : [])).join('')).toBe(plain);
  });

  it('takes hark\'s num_speakers with it: one speaker asked, one speaker given', async () => {
    const t = await diarized('in-process', { num_speakers: 1 });
    expect(t.text).toBe(plain);
    expect(new Set(t.segments.map((s) => s.speaker))).toEqual(new Set(['A']));
  });

  it.each([
    [{ num_speakers: '0', response_format: 'diarized_json' }, 'INVALID_SPEAKER_COUNT', 'num_speakers'],
    [{ num_speakers: '2' }, 'INVALID_REQUEST', 'diarized_json'],
    [{ 'known_speaker_names[]': 'agent', 'known_speaker_references[]': 'data:audio/wav;base64,AAAA', response_format: 'diarized_json' }, 'INVALID_REQUEST', 'known_speaker_names and known_speaker_references are not supported'],
    [{ known_speaker_names: 'agent' }, 'INVALID_REQUEST', 'known_speaker_names is not supported'],
  ])('refuses %j with 400 %s, naming it, and leaves no file behind', async (fields, code, named) => {
    const res = await postAudio(`${server.url}/v1/audio/transcriptions`, first.path, { model: 'whisper-1', ...fields });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe(code);
    expect(body.error.message).toContain(named);
    expect(await server.tempFiles()).toEqual([]);
  });

  it('the openai client\'s known_speaker_names and known_speaker_references raise its BadRequestError', async () => {
    const err = await client.audio.transcriptions
      .create({
        file: createReadStream(first.path),
        model: 'whisper-1',
        response_format: 'diarized_json',
        known_speaker_names: ['agent'],
        known_speaker_references: ['data:audio/wav;base64,UklGRiQAAABXQVZF'],
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    const e = err as InstanceType<typeof OpenAI.BadRequestError>;
    expect(e.code).toBe('INVALID_REQUEST');
    expect(e.message).toMatch(/known_speaker_names and known_speaker_references are not supported yet/);
  });

  it('without diarized_json nothing carries a speaker: json, verbose_json and the stream are as before', async () => {
    const json = await (await postAudio(`${server.url}/v1/audio/transcriptions`, two, { model: 'whisper-1' })).json();
    expect(Object.keys(json as object).sort()).toEqual(['text', 'usage']);
    const verbose = (await client.audio.transcriptions.create({
      file: createReadStream(two),
      model: 'whisper-1',
      response_format: 'verbose_json',
      timestamp_granularities: ['word', 'segment'],
    })) as TranscriptionVerbose & { speakers?: number };
    expect(verbose.text).toBe(plain);
    expect(verbose.speakers).toBeUndefined();
    expect(verbose.segments?.length).toBeGreaterThan(0);
    expect(verbose.segments?.some((s) => 'speaker' in s) || verbose.words?.some((w) => 'speaker' in w)).toBe(false);
    const stream = await client.audio.transcriptions.create({ file: createReadStream(two), model: 'whisper-1', stream: true });
    const types = new Set<string>();
    for await (const e of stream) types.add(e.type);
    expect(types).toEqual(new Set(['transcript.text.delta', 'transcript.text.done']));
  });
});
