import { createReadStream } from 'node:fs';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tally, wer } from './support/eval/index.js';
import { clip } from './support/corpus.js';
import { startTestServer, type TestServer } from './support/server.js';

// The official client, pointed at hark, used exactly as with OpenAI.
let server: TestServer;
let client: OpenAI;
beforeAll(async () => {
  server = await startTestServer();
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'not-needed', maxRetries: 0 });
});
afterAll(async () => server?.stop());

const c = clip('1089-134686-0000');

describe('the openai client against hark', () => {
  it('transcribes with model whisper-1 (json)', async () => {
    const t = await client.audio.transcriptions.create({ file: createReadStream(c.path), model: 'whisper-1' });
    expect(wer([tally(c.transcript, t.text)])).toBeLessThan(0.35);
  });

  it('returns verbose_json with segments and words', async () => {
    const t = await client.audio.transcriptions.create({
      file: createReadStream(c.path),
      model: 'pocketsphinx',
      response_format: 'verbose_json',
      timestamp_granularities: ['word', 'segment'],
    });
    expect(t.language).toBe('english');
    expect(t.duration).toBeCloseTo(c.durationSeconds, 1);
    expect(t.segments?.length).toBeGreaterThan(0);
    expect(t.words?.length).toBeGreaterThan(10);
    expect(t.words?.[0]).toEqual({ word: expect.any(String), start: expect.any(Number), end: expect.any(Number) });
  });

  it('gives the same text as json and as verbose_json, whose segments carry word posteriors', async () => {
    const plain = await client.audio.transcriptions.create({ file: createReadStream(c.path), model: 'pocketsphinx' });
    const verbose = await client.audio.transcriptions.create({
      file: createReadStream(c.path),
      model: 'pocketsphinx',
      response_format: 'verbose_json',
      timestamp_granularities: ['segment'],
    });
    expect(verbose.text).toBe(plain.text);
    expect(verbose.segments?.length).toBeGreaterThan(0);
    // avg_logprob is the log of the segment's mean word posterior: 0 (log 1)
    // is what a segment without posteriors would show.
    for (const s of verbose.segments ?? []) {
      expect(s.avg_logprob).toBeLessThan(0);
      expect(s.avg_logprob).toBeGreaterThan(Math.log(1e-6));
    }
  });

  it.each(['text', 'srt', 'vtt'] as const)('returns %s as a string', async (format) => {
    const t = await client.audio.transcriptions.create({ file: createReadStream(c.path), model: 'whisper-1', response_format: format });
    expect(typeof t).toBe('string');
    const text = t as unknown as string;
    if (format === 'vtt') expect(text.startsWith('WEBVTT')).toBe(true);
    if (format === 'srt') expect(text).toMatch(/^1\n00:00:\d\d,\d{3} --> /);
    expect(text.length).toBeGreaterThan(20);
  });

  it('lists and retrieves models', async () => {
    const models = await client.models.list();
    const ids = models.data.map((m) => m.id);
    expect(ids).toEqual(expect.arrayContaining(['pocketsphinx', 'whisper-1']));
    expect((await client.models.retrieve('pocketsphinx')).id).toBe('pocketsphinx');
  });

  it('raises the client\'s own BadRequestError for an unknown model, with hark\'s code and message', async () => {
    const err = await client.audio.transcriptions
      .create({ file: createReadStream(c.path), model: 'gpt-9-transcribe' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    const e = err as InstanceType<typeof OpenAI.BadRequestError>;
    expect(e.status).toBe(400);
    expect(e.code).toBe('MODEL_NOT_FOUND');
    expect(e.message).toContain('pocketsphinx');
  });

  it('raises BadRequestError for a file that is not audio', async () => {
    const err = await client.audio.transcriptions
      .create({ file: new File(['just some text'], 'notes.txt', { type: 'text/plain' }), model: 'whisper-1' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as { code: string }).code).toBe('INVALID_AUDIO');
  });

  it('raises NotFoundError for a route hark does not have', async () => {
    // Text to speech: hark only hears.
    const err = await client.audio.speech.create({ model: 'tts-1', voice: 'alloy', input: 'hello' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
  });
});
