import { createReadStream, readFileSync } from 'node:fs';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINE_NAMES } from '../src/config/index.js';
import type { EngineName } from '../src/engines/index.js';
import { paramsTable, TRANSCRIPTION_PARAMS, TRANSLATION_PARAMS, type ParamRow } from '../src/http/openai-params.js';
import { clip } from './support/corpus.js';
import { FakeAzure } from './support/fake-azure.js';
import { startFakeUpstream, type FakeUpstream } from './support/fake-upstream.js';
import { startTestServer, type TestServer } from './support/server.js';

// whisper.cpp's own test model: real format, untrained weights. Slow (~14 s per 10 s clip): only refusals, which come before decoding, run on it.
const WHISPER_TEST_MODEL = join(import.meta.dirname, '../../shared/models/for-tests-ggml-tiny.en.bin');
const AZURE_KEY = 'test-speech-key-0123456789abcdef';
const c = clip('cmu-cards-001');
const long = clip('1089-134686-0000');
const root = join(import.meta.dirname, '..');
/** Model names OpenAI's Realtime clients send (the openai package's realtime.d.ts), written out: the known answer, not the server's own list. */
const REALTIME_MODELS = ['gpt-4o-transcribe', 'gpt-4o-mini-transcribe', 'gpt-4o-mini-transcribe-2025-12-15', 'gpt-realtime-whisper'];

const ROUTES = { transcriptions: TRANSCRIPTION_PARAMS, translations: TRANSLATION_PARAMS } as const;
type Route = keyof typeof ROUTES;

/** The property names of an interface in the openai package's declarations. */
function declaredFields(file: string, name: string): string[] {
  const text = readFileSync(join(root, 'node_modules/openai/resources/audio', file), 'utf8');
  const start = text.indexOf(`export interface ${name}`);
  expect(start, `${name} in ${file}`).toBeGreaterThan(-1);
  const body = text.slice(start, text.indexOf('\n}', start));
  return [...body.matchAll(/^ {4}(\w+)\??:/gm)].map((m) => m[1]!);
}

/** The table between `<!-- params:NAME -->` markers in docs/api.md. */
function docsTable(name: string): string {
  const text = readFileSync(join(root, 'docs/api.md'), 'utf8');
  const found = new RegExp(`<!-- params:${name} -->\\n([\\s\\S]*?)\\n<!-- /params:${name} -->`).exec(text);
  expect(found, `the ${name} table in docs/api.md`).not.toBeNull();
  return found![1]!;
}

/** A docs table's rows as field -> each engine's verdict. */
function verdicts(table: string): Record<string, string[]> {
  const rows = table.split('\n').slice(2).map((line) => line.split(' | ').map((cell) => cell.replace(/^\| |\|$/g, '').trim()));
  return Object.fromEntries(rows.map((cells) => [cells[0]!.replace(/`|\[\]| \(hark\)/g, ''), cells.slice(1, 1 + ENGINE_NAMES.length).map((v) => v.split(':')[0]!)]));
}

/**
 * A value of each field its own validation takes (with the fields it comes
 * with), and for a field some engines take only in part, a value they refuse.
 */
const SAMPLES: Record<Route, Record<string, { value: unknown; with?: Record<string, unknown>; refusedValue?: unknown }>> = {
  transcriptions: {
    chunking_strategy: { value: 'auto' },
    include: { value: ['logprobs'] },
    known_speaker_names: { value: ['Ann'], with: { response_format: 'diarized_json' } },
    known_speaker_references: { value: ['data:audio/wav;base64,AAAA'], with: { response_format: 'diarized_json' } },
    language: { value: 'en', refusedValue: 'de' },
    prompt: { value: 'Cards.' },
    response_format: { value: 'text' },
    stream: { value: true },
    temperature: { value: 0, refusedValue: 0.5 },
    timestamp_granularities: { value: ['word'], with: { response_format: 'verbose_json' } },
    num_speakers: { value: 2, with: { response_format: 'diarized_json' } },
    min_speakers: { value: 1, with: { response_format: 'diarized_json' } },
    max_speakers: { value: 3, with: { response_format: 'diarized_json' } },
  },
  translations: {
    prompt: { value: 'Cards.' },
    response_format: { value: 'text' },
    temperature: { value: 0, refusedValue: 0.5 },
    language: { value: 'en', refusedValue: 'de' },
  },
};

/** What an engine's refusal of a value it takes only in part answers with. */
const PARTLY_CODES: Record<string, string> = { temperature: 'UNSUPPORTED_PARAMETER', language: 'UNSUPPORTED_LANGUAGE' };

function call(client: OpenAI, route: Route, body: Record<string, unknown>): Promise<unknown> {
  const form = { file: createReadStream(c.path), ...body } as never;
  return route === 'transcriptions' ? client.audio.transcriptions.create(form) : client.audio.translations.create(form);
}

/** The APIError a call raised (fails the test if it succeeded). */
async function refusal(p: Promise<unknown>): Promise<{ status: number; code: string; message: string; details?: { parameter?: string } }> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, 'the request was refused').toBeInstanceOf(OpenAI.APIError);
  const e = err as InstanceType<typeof OpenAI.APIError>;
  return { status: e.status ?? 0, code: String(e.code), message: e.message, details: (e.error as { details?: { parameter?: string } }).details };
}

const FILE_FIELDS = new Set(['file', 'model']);

/** Every cell the table refuses, or (partly) refuses for some value: [route, field, engine, value, code]. */
function refusedCases(): [Route, string, EngineName, unknown, string][] {
  const cases: [Route, string, EngineName, unknown, string][] = [];
  for (const [route, rows] of Object.entries(ROUTES) as [Route, readonly ParamRow[]][]) {
    for (const row of rows) {
      if (FILE_FIELDS.has(row.field)) continue;
      for (const engine of ENGINE_NAMES) {
        const cell = row.engines[engine];
        const sample = SAMPLES[route][row.field]!;
        if (cell.verdict === 'refused') cases.push([route, row.field, engine, sample.value, 'UNSUPPORTED_PARAMETER']);
        if (cell.verdict === 'partly') {
          const code = route === 'translations' && row.field === 'language' ? 'TRANSLATION_UNSUPPORTED' : PARTLY_CODES[row.field]!;
          cases.push([route, row.field, engine, sample.refusedValue, code]);
        }
      }
    }
  }
  return cases;
}

/** Cells the table honours (whisper's are not run: decoding on its test model is slow). */
function honouredCases(): [Route, string, EngineName][] {
  const cases: [Route, string, EngineName][] = [];
  for (const [route, rows] of Object.entries(ROUTES) as [Route, readonly ParamRow[]][]) {
    for (const row of rows) {
      if (FILE_FIELDS.has(row.field)) continue;
      for (const engine of ENGINE_NAMES) if (engine !== 'whisper' && row.engines[engine].verdict !== 'refused') cases.push([route, row.field, engine]);
    }
  }
  return cases;
}

describe('the parameter table', () => {
  it('names every field of the openai package\'s TranscriptionCreateParams and TranslationCreateParams, and hark\'s own apart', () => {
    const openaiFields = (rows: readonly ParamRow[]) => rows.filter((r) => r.from === 'openai').map((r) => r.field).sort();
    expect(openaiFields(TRANSCRIPTION_PARAMS)).toEqual(declaredFields('transcriptions.d.ts', 'TranscriptionCreateParamsBase').sort());
    expect(openaiFields(TRANSLATION_PARAMS)).toEqual(declaredFields('translations.d.ts', 'TranslationCreateParams').sort());
    expect(TRANSCRIPTION_PARAMS.filter((r) => r.from === 'hark').map((r) => r.field)).toEqual(['num_speakers', 'min_speakers', 'max_speakers']);
  });

  it.each(['transcriptions', 'translations'] as const)('is in docs/api.md as the code has it (%s)', (route) => {
    const table = docsTable(route);
    const fromCode = Object.fromEntries(ROUTES[route].map((r) => [r.field, ENGINE_NAMES.map((e) => r.engines[e].verdict)]));
    expect(verdicts(table)).toEqual(fromCode);
    expect(table).toBe(paramsTable(ROUTES[route]));
  });
});

describe('OpenAI fields on every engine, with the openai client', () => {
  let fake: FakeUpstream;
  let azure: FakeAzure;
  let server: TestServer;
  let client: OpenAI;

  beforeAll(async () => {
    fake = await startFakeUpstream({ model: 'whisper-large-v3' });
    azure = await FakeAzure.start({ key: AZURE_KEY });
    server = await startTestServer({
      ENGINES: 'pocketsphinx,whisper,azure,upstream',
      WHISPER_MODEL_PATH: WHISPER_TEST_MODEL,
      WHISPER_BEST_OF: '1',
      UPSTREAM_BASE_URL: fake.baseUrl('ok'),
      UPSTREAM_MODEL: 'whisper-large-v3',
      AZURE_SPEECH_ENDPOINT: azure.url,
      AZURE_SPEECH_KEY: AZURE_KEY,
      OUTBOUND_ALLOW: '127.0.0.1/32',
    });
    client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'not-needed', maxRetries: 0 });
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
    await fake?.close();
    await azure?.close();
  });

  // Refused before anything is decoded: on whisper's test model a decode would outlast the test's 10 s.
  it.each(refusedCases())('/v1/audio/%s refuses %s on %s (%j): 400 %s', async (route, field, engine, value, code) => {
    const sample = SAMPLES[route][field]!;
    const err = await refusal(call(client, route, { model: engine, ...sample.with, [field]: value }));
    expect(err.status).toBe(400);
    expect(err.code).toBe(code);
    if (code === 'UNSUPPORTED_PARAMETER') {
      expect(err.message).toContain(field);
      expect(err.details?.parameter?.replace('[]', '')).toBe(field);
    }
  }, 10_000);

  it.each(honouredCases())('/v1/audio/%s takes %s on %s', async (route, field, engine) => {
    const sample = SAMPLES[route][field]!;
    const answer = await call(client, route, { model: engine, ...sample.with, [field]: sample.value }).then(
      async (a) => {
        if (a instanceof Object && Symbol.asyncIterator in a) {
          const events: unknown[] = [];
          for await (const e of a as AsyncIterable<unknown>) events.push(e);
          expect(events.length).toBeGreaterThan(0);
        }
        return 'ok';
      },
      (e: unknown) => e,
    );
    // Either an answer, or a refusal by the field's own rules (a reference that is no audio): never as unsupported.
    if (answer !== 'ok') {
      expect(answer).toBeInstanceOf(OpenAI.APIError);
      expect((answer as InstanceType<typeof OpenAI.APIError>).code).not.toBe('UNSUPPORTED_PARAMETER');
      expect(['known_speaker_names', 'known_speaker_references']).toContain(field);
    }
  }, 30_000);

  it.each([
    ['transcriptions', { foo: 'bar' }, 'foo'],
    ['transcriptions', { 'timestamp_granularities[0]': 'word' }, 'timestamp_granularities[0]'],
    ['transcriptions', { vad: 'off' }, 'vad'],
    ['translations', { stream: true }, 'stream'],
    ['translations', { chunking_strategy: 'auto' }, 'chunking_strategy'],
    ['translations', { timestamp_granularities: ['word'] }, 'timestamp_granularities[]'],
  ] as const)('/v1/audio/%s refuses a field it does not know (%j): 400 UNSUPPORTED_PARAMETER naming it', async (route, body, name) => {
    const err = await refusal(call(client, route, { model: 'pocketsphinx', ...body }));
    expect([err.status, err.code]).toEqual([400, 'UNSUPPORTED_PARAMETER']);
    expect(err.details?.parameter).toBe(name);
    expect(err.message).toContain(JSON.stringify(name));
  });

  it.each([
    ['include', { include: ['logprobs'], response_format: 'verbose_json' }],
    ['include', { include: ['logprobs'], response_format: 'text', stream: true }],
    ['timestamp_granularities', { timestamp_granularities: ['word'] }],
    ['timestamp_granularities', { timestamp_granularities: ['segment'], response_format: 'diarized_json' }],
  ] as const)('refuses %s with a response_format that does not carry it (%j)', async (field, body) => {
    const err = await refusal(call(client, 'transcriptions', { model: 'pocketsphinx', ...body }));
    expect([err.status, err.code]).toEqual([400, 'UNSUPPORTED_PARAMETER']);
    expect(err.message).toContain(`${field}[]`);
  });

  it('answers include[]=logprobs on pocketsphinx: one per word, each a log probability, the tokens joining into the text', async () => {
    const t = await client.audio.transcriptions.create({ file: createReadStream(long.path), model: 'pocketsphinx', include: ['logprobs'] });
    const words = t.text.split(' ');
    expect(words.length).toBeGreaterThan(10);
    expect(t.logprobs?.map((l) => l.token?.trim())).toEqual(words);
    expect(t.logprobs?.map((l) => l.token).join('')).toBe(t.text);
    for (const l of t.logprobs ?? []) {
      expect(l.logprob).toBeLessThanOrEqual(0);
      expect(Buffer.from(l.bytes ?? []).toString('utf8')).toBe(l.token);
    }
    // Not all certain: the posteriors are the decoder's, not a constant.
    expect(new Set(t.logprobs?.map((l) => l.logprob)).size).toBeGreaterThan(1);
    // Without include, no logprobs.
    const plain = await client.audio.transcriptions.create({ file: createReadStream(long.path), model: 'pocketsphinx' });
    expect(plain.text).toBe(t.text);
    expect(plain.logprobs).toBeUndefined();
  });

  it('streams the logprobs on transcript.text.done', async () => {
    const stream = await client.audio.transcriptions.create({ file: createReadStream(c.path), model: 'pocketsphinx', include: ['logprobs'], stream: true });
    const events = [];
    for await (const e of stream) events.push(e);
    const done = events.find((e) => e.type === 'transcript.text.done');
    expect(done?.type === 'transcript.text.done' && done.logprobs?.map((l) => l.token).join('')).toBe(done?.type === 'transcript.text.done' ? done.text : '');
    expect(done?.type === 'transcript.text.done' && done.logprobs!.length).toBe(done?.type === 'transcript.text.done' ? done.text.split(' ').length : -1);
  });

  it('refuses include[]=logprobs on whisper, saying why, before decoding', async () => {
    const err = await refusal(client.audio.transcriptions.create({ file: createReadStream(c.path), model: 'whisper', include: ['logprobs'] }));
    expect([err.status, err.code]).toEqual([400, 'UNSUPPORTED_PARAMETER']);
    expect(err.message).toMatch(/include\[\].*whisper.*no token probabilities/);
  }, 10_000);

  it('takes an empty prompt as no prompt, and temperature 0 on pocketsphinx', async () => {
    const t = await client.audio.transcriptions.create({ file: createReadStream(c.path), model: 'pocketsphinx', prompt: '', temperature: 0 });
    expect(t.text.length).toBeGreaterThan(0);
  });

  it('lists the models the Realtime API and translations take on GET /v1/models, and each one works', async () => {
    const ids = (await client.models.list()).data.map((m) => m.id);
    expect(ids).toEqual(expect.arrayContaining([...ENGINE_NAMES, 'whisper-1', ...REALTIME_MODELS]));
    for (const id of REALTIME_MODELS) expect((await client.models.retrieve(id)).id).toBe(id);
    // An OpenAI name is the default engine (pocketsphinx): a translation of English audio is its transcript.
    const translated = await client.audio.translations.create({ file: createReadStream(c.path), model: 'gpt-4o-transcribe' });
    const transcribed = await client.audio.transcriptions.create({ file: createReadStream(c.path), model: 'gpt-4o-mini-transcribe' });
    expect(translated.text).toBe(transcribed.text);
  });
});
