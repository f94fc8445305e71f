import { createReadStream } from 'node:fs';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clip } from './support/corpus.js';
import { startFakeUpstream, type FakeUpstream } from './support/fake-upstream.js';
import { postAudio } from './support/http.js';
import { getJob, submitJob, waitFinished } from './support/jobs.js';
import { startTestServer, type TestServer } from './support/server.js';

const c = clip('1089-134686-0000');

interface ErrorBody {
  error: { code: string; message: string };
}

describe('POST /v1/audio/translations', () => {
  let fake: FakeUpstream;
  let server: TestServer;
  let client: OpenAI;

  beforeAll(async () => {
    fake = await startFakeUpstream({ model: 'whisper-large-v3' });
    server = await startTestServer({
      ENGINES: 'pocketsphinx,upstream',
      ENABLE_PROCESS_ISOLATED: 'true',
      WORKER_COUNT: '1',
      UPSTREAM_BASE_URL: fake.baseUrl('ok'),
      UPSTREAM_MODEL: 'whisper-large-v3',
      OUTBOUND_ALLOW: '127.0.0.1/32',
    });
    client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'not-needed', maxRetries: 0 });
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
    await fake?.close();
  });

  it('answers the openai client with the English transcript from an engine that does not translate, in both modes', async () => {
    const transcribed = await client.audio.transcriptions.create({ file: createReadStream(c.path), model: 'pocketsphinx' });
    const translated = await client.audio.translations.create({ file: createReadStream(c.path), model: 'pocketsphinx' });
    expect(translated.text).toBe(transcribed.text);
    expect(translated.text.split(' ').length).toBeGreaterThan(5);
    // OpenAI's Translation is `{ text }`: no usage, unlike a transcription's json.
    expect(Object.keys(translated)).toEqual(['text']);

    const pooled = await postAudio(`${server.url}/v1/audio/translations?isolation=process`, c.path, { model: 'pocketsphinx' });
    expect(pooled.status).toBe(200);
    expect(((await pooled.json()) as { text: string }).text).toBe(transcribed.text);
    expect(await server.tempFiles()).toEqual([]);
  });

  it("gives OpenAI's verbose_json of a translation (task translate, language english, segments, no words) and subtitles", async () => {
    const v = (await client.audio.translations.create({ file: createReadStream(c.path), model: 'pocketsphinx', response_format: 'verbose_json' })) as unknown as {
      task: string;
      language: string;
      duration: number;
      segments: { start: number; end: number; text: string }[];
      words?: unknown;
    };
    expect(v.task).toBe('translate');
    expect(v.language).toBe('english');
    expect(v.duration).toBeCloseTo(c.durationSeconds, 1);
    expect(v.segments.length).toBeGreaterThan(0);
    expect(v).not.toHaveProperty('words');
    const srt = await client.audio.translations.create({ file: createReadStream(c.path), model: 'pocketsphinx', response_format: 'srt' });
    expect(String(srt)).toMatch(/^1\n00:00:0\d,\d{3} --> /);
  });

  it.each([
    [{ model: 'pocketsphinx', language: 'de' }, 'TRANSLATION_UNSUPPORTED', 'does not translate'],
    [{ model: 'pocketsphinx', response_format: 'diarized_json' }, 'INVALID_RESPONSE_FORMAT', 'response_format'],
  ])('refuses %j with 400 %s before anything is decoded', async (fields, code, said) => {
    const res = await postAudio(`${server.url}/v1/audio/translations`, c.path, fields);
    expect(res.status).toBe(400);
    const body = (await res.json()) as ErrorBody;
    expect(body.error.code).toBe(code);
    expect(body.error.message).toContain(said);
    expect(await server.tempFiles()).toEqual([]);
  });

  it('takes English audio named as English on an engine that does not translate', async () => {
    const res = await postAudio(`${server.url}/v1/audio/translations`, c.path, { model: 'pocketsphinx', language: 'en-GB' });
    expect(res.status).toBe(200);
  });

  it("forwards to the upstream's translations endpoint, with no language or word granularity", async () => {
    const before = fake.requests.length;
    const t = await client.audio.translations.create({ file: createReadStream(c.path), model: 'upstream' });
    const sent = fake.requests.slice(before);
    expect(sent.length).toBeGreaterThan(0);
    expect(sent.every((r) => r.endpoint === 'translations' && r.language === undefined && r.granularities.length === 0)).toBe(true);
    expect(t.text).toMatch(/^translated utterance \d+/);
    expect(fake.problems).toEqual([]);
  });

  it('runs a job with task=translate, shows the task, and refuses one an engine cannot translate at submit', async () => {
    const { job_id: id } = await submitJob(server.url, c.path, { engine: 'pocketsphinx', task: 'translate' });
    const job = await waitFinished(server.url, id);
    expect(job).toMatchObject({ status: 'completed', task: 'translate' });
    const plain = await submitJob(server.url, c.path, { engine: 'pocketsphinx' });
    expect((await getJob(server.url, plain.job_id)).task).toBe('transcribe');

    const res = await postAudio(`${server.url}/api/v1/jobs`, c.path, { engine: 'pocketsphinx', task: 'translate', language: 'fr' });
    expect(res.status).toBe(400);
    expect(((await res.json()) as ErrorBody).error.code).toBe('TRANSLATION_UNSUPPORTED');
  });
});
