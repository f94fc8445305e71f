import { execFileSync } from 'node:child_process';
import { createReadStream, mkdtempSync, readFileSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
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
 * read by the official client in both isolation modes; `known_speaker_names[]`
 * with `known_speaker_references[]` name the speakers whose voice a reference
 * clip matches, and bad ones are refused before anything runs; other formats
 * are as they were.
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
  /** Each mode's plain diarized answer, asked once and compared with its stream below. */
  const answers = new Map<string, Promise<TranscriptionDiarized>>();
  const answer = (isolation: string): Promise<TranscriptionDiarized> => {
    if (!answers.has(isolation)) answers.set(isolation, diarized(isolation));
    return answers.get(isolation)!;
  };

  it.each(['in-process', 'process'])('%s: the openai client gets OpenAI\'s diarized shape, speakers A then B, the same text as json', async (isolation) => {
    const t = await answer(isolation);
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
    const expected = (await answer(isolation)).segments;
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
  ])('refuses %j with 400 %s, naming it, and leaves no file behind', async (fields, code, named) => {
    const res = await postAudio(`${server.url}/v1/audio/transcriptions`, first.path, { model: 'whisper-1', ...fields });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe(code);
    expect(body.error.message).toContain(named);
    expect(await server.tempFiles()).toEqual([]);
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

/**
 * Known speakers: a conversation of LibriSpeech reader 1089 (10.4 s) then the
 * LibriVox reader sas01 (7.1 s), named from other clips of theirs, one sent as
 * WAV and one as MP3, as data URLs (what OpenAI takes).
 */
describe('known_speaker_names[] and known_speaker_references[] on /v1/audio/transcriptions', () => {
  const man = clip('1089-134686-0000');
  const reader = clip('librivox-sas01-0870');
  const pair = join(dir, 'pair.wav');
  const pairJoin = man.durationSeconds;
  const mp3 = join(dir, 'grace.mp3');
  /** A 2-10 s clip of each voice, and of a reader who is not in the conversation. */
  let refs: { ada: string; grace: string; stranger: string };
  const dataUrl = (type: string, path: string): string => `data:${type};base64,${readFileSync(path).toString('base64')}`;

  beforeAll(() => {
    joinWavs([man.path, reader.path], pair);
    execFileSync('ffmpeg', ['-v', 'error', '-i', clip('librivox-sas01-0920').path, '-c:a', 'libmp3lame', '-b:a', '64k', mp3]);
    refs = {
      ada: dataUrl('audio/wav', clip('1089-134686-0013').path),
      grace: dataUrl('audio/mpeg', mp3),
      stranger: dataUrl('audio/x-wav', clip('4077-13754-0009').path),
    };
  });

  async function named(isolation: string, names: string[], references: string[]): Promise<TranscriptionDiarized> {
    const t = await client.audio.transcriptions.create(
      { file: createReadStream(pair), model: 'whisper-1', response_format: 'diarized_json', known_speaker_names: names, known_speaker_references: references },
      { query: { isolation } },
    );
    return t as TranscriptionDiarized;
  }

  /** Seconds of segment time before or after the join, and the share of it given to `speaker`. */
  function shareOf(segments: readonly Segment[], side: 'before' | 'after', speaker: string): number {
    const seconds = (s: Segment) => (side === 'before' ? Math.max(0, Math.min(s.end, pairJoin) - s.start) : Math.max(0, s.end - Math.max(s.start, pairJoin)));
    const total = segments.reduce((sum, s) => sum + seconds(s), 0);
    return segments.filter((s) => s.speaker === speaker).reduce((sum, s) => sum + seconds(s), 0) / total;
  }

  it.each(['in-process', 'process'])('%s: the openai client\'s names land on the segments of the voices their clips match', async (isolation) => {
    const plainPair = (await client.audio.transcriptions.create({ file: createReadStream(pair), model: 'whisper-1' })).text;
    const t = await named(isolation, ['Ada', 'Grace'], [refs.ada, refs.grace]);
    expect(t.text).toBe(plainPair);
    expect(new Set(t.segments.map((s) => s.speaker))).toEqual(new Set(['Ada', 'Grace']));
    expect(t.segments[0]!.speaker).toBe('Ada');
    expect(shareOf(t.segments, 'before', 'Ada')).toBeGreaterThanOrEqual(0.8);
    expect(shareOf(t.segments, 'after', 'Grace')).toBeGreaterThanOrEqual(0.8);
    // The same names whatever order the pairs come in.
    const swapped = await named(isolation, ['Grace', 'Ada'], [refs.grace, refs.ada]);
    expect(swapped.segments).toEqual(t.segments);
    expect(await server.tempFiles()).toEqual([]);
  });

  it('a reference of a reader who is not in the file names nothing: that voice keeps its letter', async () => {
    const alone = await named('in-process', ['Stranger'], [refs.stranger]);
    expect(alone.segments.map((s) => s.speaker)).toEqual((await named('in-process', [], [])).segments.map((s) => s.speaker));
    expect(new Set(alone.segments.map((s) => s.speaker))).toEqual(new Set(['A', 'B']));
    const beside = await named('in-process', ['Stranger', 'Grace'], [refs.stranger, refs.grace]);
    expect(new Set(beside.segments.map((s) => s.speaker))).toEqual(new Set(['A', 'Grace']));
    expect(shareOf(beside.segments, 'after', 'Grace')).toBeGreaterThanOrEqual(0.8);
  });

  it('hark\'s /transcriptions takes the same fields with diarize=true: SRT cues carry the names', async () => {
    const form = new FormData();
    form.append('file', new Blob([await readFile(pair)], { type: 'audio/wav' }), 'pair.wav');
    for (const [k, v] of [['diarize', 'true'], ['response_format', 'srt'], ['known_speaker_names[]', 'Ada'], ['known_speaker_references[]', refs.ada]] as const) form.append(k, v);
    const res = await fetch(`${server.url}/transcriptions`, { method: 'POST', body: form });
    expect(res.status).toBe(200);
    const srt = await res.text();
    const speakers = [...srt.matchAll(/^\d{2}:\d{2}:\d{2},\d{3} --> .*\n(\w+): /gm)].map((m) => m[1]);
    expect(speakers[0]).toBe('Ada');
    expect(new Set(speakers)).toEqual(new Set(['Ada', 'B']));
  });

  /** Posts the short clip with these fields (a name may repeat), as diarized_json unless the fields say otherwise. */
  async function post(fields: readonly (readonly [string, string])[]): Promise<Response> {
    const form = new FormData();
    form.append('model', 'whisper-1');
    if (!fields.some(([k]) => k === 'response_format')) form.append('response_format', 'diarized_json');
    for (const [k, v] of fields) form.append(k, v);
    form.append('file', new Blob([await readFile(first.path)], { type: 'audio/wav' }), 'first.wav');
    return fetch(`${server.url}/v1/audio/transcriptions`, { method: 'POST', body: form });
  }

  const names = (...n: string[]) => n.map((v) => ['known_speaker_names[]', v] as const);
  const references = (...r: string[]) => r.map((v) => ['known_speaker_references[]', v] as const);
  const wav = (id: string) => dataUrl('audio/wav', clip(id).path);

  it.each([
    ['a name without its reference', () => names('Ada'), 'INVALID_REQUEST', '1 known_speaker_names[] but 0 known_speaker_references[]'],
    ['a reference without its name', () => references(refs.ada), 'INVALID_REQUEST', '0 known_speaker_names[] but 1'],
    ['five speakers', () => [...names('a', 'b', 'c', 'd', 'e'), ...references(...Array<string>(5).fill('data:audio/wav;base64,AAAA'))], 'INVALID_REQUEST', 'more than 4 times'],
    ['a reference over 4 MB', () => [...names('Ada'), ...references(`data:audio/wav;base64,${'A'.repeat(4 * 1024 * 1024)}`)], 'INVALID_REQUEST', 'longer than 4096 KB'],
    ['names without diarized_json', () => [['response_format', 'json'] as const, ...names('Ada'), ...references(refs.ada)], 'INVALID_REQUEST', 'response_format=diarized_json'],
    ['a name spelt with an index', () => [['known_speaker_names[0]', 'Ada'] as const, ...references(refs.ada)], 'INVALID_REQUEST', 'known_speaker_names[] (or known_speaker_names)'],
    ['an empty name', () => [...names(' '), ...references(refs.ada)], 'INVALID_SPEAKER_NAME', 'known_speaker_names[0] is empty'],
    ['a name on two lines', () => [...names('Ada\nLovelace'), ...references(refs.ada)], 'INVALID_SPEAKER_NAME', 'line break'],
    ['a name of 65 characters', () => [...names('x'.repeat(65)), ...references(refs.ada)], 'INVALID_SPEAKER_NAME', 'longer than 64'],
    ['a name given twice', () => [...names('Ada', 'Ada'), ...references(refs.ada, refs.grace)], 'INVALID_SPEAKER_NAME', 'known_speaker_names[1] is given twice'],
    ['a bare letter for a name', () => [...names('B'), ...references(refs.ada)], 'INVALID_SPEAKER_NAME', 'bare letter'],
    ['a URL that is not a data URL', () => [...names('Ada'), ...references('https://example.com/ada.wav')], 'INVALID_SPEAKER_REFERENCE', 'is not a data URL'],
    ['a data URL of an image', () => [...names('Ada'), ...references('data:image/png;base64,iVBORw0KGgo=')], 'INVALID_SPEAKER_REFERENCE', 'data URL of "image/png", not of audio'],
    ['a data URL that is not base64', () => [...names('Ada'), ...references('data:audio/wav,RIFF')], 'INVALID_SPEAKER_REFERENCE', 'not base64-encoded'],
    ['base64 with foreign characters', () => [...names('Ada'), ...references('data:audio/wav;base64,UklG*RiQ=')], 'INVALID_SPEAKER_REFERENCE', 'not base64'],
    ['bytes that are not audio', () => [...names('Ada'), ...references(`data:audio/wav;base64,${Buffer.from('not audio at all, just words '.repeat(40)).toString('base64')}`)], 'INVALID_SPEAKER_REFERENCE', 'not audio hark can decode'],
    ['a clip of 1.1 s', () => [...names('Ada'), ...references(wav('cmu-cards-001'))], 'INVALID_SPEAKER_REFERENCE', 'known_speaker_references[0] lasts 1.10 s'],
    ['a clip of 11.6 s after a good one', () => [...names('Ada', 'Bob'), ...references(refs.ada, wav('1089-134686-0012'))], 'INVALID_SPEAKER_REFERENCE', 'known_speaker_references[1] lasts longer than the 10 s'],
  ])('refuses %s with 400 %s before anything runs, and leaves no file behind', async (_, fields, code, message) => {
    const res = await post(fields());
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error).toMatchObject({ code, message: expect.stringContaining(message) });
    expect(await server.tempFiles()).toEqual([]);
  });

  it('takes a clip of 1.96 s (within the 0.25 s slack on 2-10 s), and a type with parameters such as a browser\'s audio/webm;codecs=opus', async () => {
    const res = await post([...names('Cards', 'Ada'), ...references(wav('cmu-cards-002'), refs.ada.replace('data:audio/wav;', 'data:audio/webm;codecs=opus;'))]);
    expect(res.status).toBe(200);
    expect(await server.tempFiles()).toEqual([]);
  });

  it('raises the openai client\'s BadRequestError with hark\'s code for a bad reference', async () => {
    const err = await named('in-process', ['Ada'], ['data:audio/wav;base64,UklGRiQAAABXQVZF']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    const e = err as InstanceType<typeof OpenAI.BadRequestError>;
    expect(e.code).toBe('INVALID_SPEAKER_REFERENCE');
    expect(e.message).toMatch(/known_speaker_references\[0\] is not audio hark can decode/);
  });
});
