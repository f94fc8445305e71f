import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * How the fake answers, chosen by the first path segment:
 * `http://127.0.0.1:<port>/<mode>/v1` is the base URL of a server that behaves so.
 */
export const FAKE_MODES = [
  'ok', // OpenAI's verbose_json (or json, or diarized_json, when asked)
  'json-only', // a minimal server: `{ text }` whatever the format asked
  'no-verbose', // OpenAI's gpt-4o-transcribe: 400 for verbose_json, json otherwise
  'no-verbose-422', // a FastAPI server (speaches): 422 `{ detail: [...] }` for timestamp_granularities
  '401',
  '403',
  '429', // with Retry-After: 1
  'busy', // a hark upstream at capacity: 503 AT_CAPACITY with Retry-After: 3
  '500',
  'html', // 200 text/html (a login page, a proxy)
  'garbage', // 200 application/json that is not JSON
  'no-text', // 200 JSON without `text`
  'hang', // never answers
  'stall', // sends headers and half a body, then nothing
  'bad-audio', // OpenAI's 400 for audio it cannot read
  'hark-bad-audio', // a hark upstream's 400 INVALID_AUDIO body
  'bad-language', // OpenAI's 400 for a language it does not know
  'echo-key', // 500 whose message repeats the Authorization header
  'endless', // 200 JSON that never ends (streams until the client stops reading)
] as const;
export type FakeMode = (typeof FAKE_MODES)[number];

/** One request as the fake understood it. */
export interface FakeRequest {
  mode: FakeMode;
  /** Which of OpenAI's audio endpoints was called. */
  endpoint: 'transcriptions' | 'translations';
  authorization: string | undefined;
  model: string;
  responseFormat: string;
  granularities: string[];
  language: string | undefined;
  prompt: string | undefined;
  chunkingStrategy: string | undefined;
  fileName: string;
  /** Length of the WAV sent, from its header. */
  seconds: number;
}

export interface FakeUpstream {
  /** Base URL (ending in /v1) of a server answering in `mode`. */
  baseUrl(mode: FakeMode): string;
  requests: FakeRequest[];
  /** What was wrong with requests (anything here fails the request with a 400 too). */
  problems: string[];
  close(): Promise<void>;
}

const RESPONSE_FORMATS = ['json', 'text', 'srt', 'vtt', 'verbose_json', 'diarized_json'];

/**
 * A local OpenAI-compatible transcription server (`POST /v1/audio/transcriptions`,
 * multipart/form-data) that checks what it is sent: the model hark was told to
 * use, a 16 kHz mono 16-bit WAV in `file`, a known response_format.
 */
export async function startFakeUpstream(options: { model: string }): Promise<FakeUpstream> {
  const requests: FakeRequest[] = [];
  const problems: string[] = [];
  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      problems.push(`fake crashed: ${String(err)}`);
      if (!res.headersSent) send(res, 500, { error: { message: 'fake crashed' } });
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const match = /^\/([\w-]+)\/v1\/audio\/(transcriptions|translations)$/.exec(req.url ?? '');
    const mode = match?.[1] as FakeMode | undefined;
    const endpoint = match?.[2] as FakeRequest['endpoint'];
    if (req.method !== 'POST' || mode === undefined || !(FAKE_MODES as readonly string[]).includes(mode)) {
      return send(res, 404, { error: { message: `no route ${req.method} ${req.url}`, type: 'invalid_request_error' } });
    }
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const contentType = req.headers['content-type'] ?? '';
    const wrong: string[] = [];
    if (!contentType.startsWith('multipart/form-data')) wrong.push(`content-type ${contentType}`);
    const form = await new Response(Buffer.concat(chunks), { headers: { 'content-type': contentType } }).formData();
    const field = (name: string) => {
      const v = form.get(name);
      return typeof v === 'string' ? v : undefined;
    };
    const file = form.get('file');
    let seconds = 0;
    let fileName = '';
    if (!(file instanceof File)) wrong.push('no file part');
    else {
      fileName = file.name;
      const wav = Buffer.from(await file.arrayBuffer());
      const isWav = wav.toString('ascii', 0, 4) === 'RIFF' && wav.toString('ascii', 8, 12) === 'WAVE';
      if (!isWav || wav.readUInt16LE(22) !== 1 || wav.readUInt32LE(24) !== 16_000 || wav.readUInt16LE(34) !== 16) {
        wrong.push(`file ${file.name} is not a 16 kHz mono 16-bit WAV`);
      } else seconds = wav.readUInt32LE(40) / 32_000;
      if (!file.name.endsWith('.wav')) wrong.push(`file name ${file.name}`);
    }
    const model = field('model') ?? '';
    if (model !== options.model) wrong.push(`model "${model}", expected "${options.model}"`);
    const responseFormat = field('response_format') ?? 'json';
    if (!RESPONSE_FORMATS.includes(responseFormat)) wrong.push(`response_format ${responseFormat}`);
    const granularities = form.getAll('timestamp_granularities[]').map(String);
    if (granularities.some((g) => g !== 'word' && g !== 'segment')) wrong.push(`timestamp_granularities ${granularities.join(',')}`);
    if (granularities.length > 0 && responseFormat !== 'verbose_json') wrong.push('timestamp_granularities without verbose_json');
    // OpenAI's translations take no language (the output is English) and no timestamp granularities.
    if (endpoint === 'translations' && (field('language') !== undefined || granularities.length > 0)) wrong.push('language or timestamp_granularities sent to translations');
    if (endpoint === 'translations' && responseFormat === 'diarized_json') wrong.push('diarized_json sent to translations');
    const authorization = req.headers.authorization;
    requests.push({ mode, endpoint, authorization, model, responseFormat, granularities, language: field('language'), prompt: field('prompt'), chunkingStrategy: field('chunking_strategy'), fileName, seconds });
    if (wrong.length > 0) {
      problems.push(...wrong);
      return send(res, 400, { error: { message: `fake: ${wrong.join('; ')}`, type: 'invalid_request_error', param: null, code: null } });
    }
    const n = requests.filter((r) => r.mode === mode).length;
    const verbose = responseFormat === 'verbose_json';
    const text = endpoint === 'translations' ? `translated utterance ${n}` : `utterance ${n}`;
    switch (mode) {
      case 'ok':
        if (responseFormat === 'diarized_json') return send(res, 200, diarizedAnswer(seconds));
        return send(res, 200, verbose ? verboseAnswer(text, seconds, granularities) : { text });
      case 'json-only':
        return send(res, 200, { text });
      case 'no-verbose':
        return verbose
          ? send(res, 400, openaiError(`response_format 'verbose_json' is not compatible with model '${model}'. Use 'json' or 'text' instead.`, 'response_format', 'unsupported_value'))
          : send(res, 200, { text });
      case 'no-verbose-422':
        return granularities.length > 0
          ? send(res, 422, { detail: [{ type: 'extra_forbidden', loc: ['body', 'timestamp_granularities[]'], msg: 'Extra inputs are not permitted' }] })
          : send(res, 200, { text });
      case '401':
        return send(res, 401, openaiError(`Incorrect API key provided: ${authorization?.replace(/^Bearer /, '')}.`, null, 'invalid_api_key'));
      case '403':
        return send(res, 403, openaiError(`Your key ${authorization} may not use ${model}.`, null, 'model_not_allowed'));
      case '429':
        return send(res, 429, openaiError('Rate limit reached for requests', null, 'rate_limit_exceeded'), { 'retry-after': '1' });
      case 'busy':
        return send(res, 503, { error: { code: 'AT_CAPACITY', message: 'all engines are busy and the queue is full; retry later' } }, { 'retry-after': '3' });
      case '500':
        return send(res, 500, { error: { message: 'The server had an error while processing your request. Sorry about that!', type: 'server_error' } });
      case 'html':
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        return void res.end('<!doctype html><html><head><title>Sign in</title></head><body><form>Sign in</form></body></html>');
      case 'garbage':
        res.writeHead(200, { 'content-type': 'application/json' });
        return void res.end('{"text": "half an ans');
      case 'no-text':
        return send(res, 200, { status: 'ok', result: 'queued' });
      case 'hang':
        return;
      case 'stall':
        res.writeHead(200, { 'content-type': 'application/json' });
        return void res.write('{"text": ');
      case 'bad-audio':
        return send(res, 400, openaiError('Audio file might be corrupted or unsupported', 'file', 'invalid_value'));
      case 'hark-bad-audio':
        return send(res, 400, { error: { code: 'INVALID_AUDIO', message: 'the file is not audio hark can decode (Invalid data found when processing input)' } });
      case 'bad-language':
        return send(res, 400, openaiError("Invalid language 'xx'. Language parameter must be specified in ISO-639-1 format.", 'language', 'invalid_language_format'));
      case 'echo-key':
        return send(res, 500, { error: { message: `token ${authorization} is not known here`, type: 'server_error' } });
      case 'endless': {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"text": "');
        const chunk = 'a'.repeat(64 * 1024);
        // Written as fast as the client reads, until it hangs up.
        const pump = () => {
          while (!res.destroyed && res.write(chunk));
          if (!res.destroyed) res.once('drain', pump);
        };
        res.once('close', () => res.removeAllListeners('drain'));
        return pump();
      }
    }
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: (mode) => `http://127.0.0.1:${port}/${mode}/v1`,
    requests,
    problems,
    close: () =>
      new Promise<void>((resolve) => {
        // Hanging requests hold their sockets open; drop them so close() returns.
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

function openaiError(message: string, param: string | null, code: string | null) {
  return { error: { message, type: 'invalid_request_error', param, code } };
}

/** OpenAI's diarized_json for `seconds` of audio: two speakers, each half of it (named as a server might, not as hark letters them). */
function diarizedAnswer(seconds: number) {
  const segment = (id: number, start: number, end: number, text: string, speaker: string) => ({ type: 'transcript.text.segment', id: `seg_${id}`, start, end, text, speaker });
  return {
    task: 'transcribe',
    duration: seconds,
    text: 'first half second half',
    segments: [segment(0, 0.2, seconds / 2, ' first half', 'speaker_7'), segment(1, seconds / 2, seconds - 0.1, ' second half', 'speaker_3')],
    usage: { type: 'duration', seconds: Math.ceil(seconds) },
  };
}

/** OpenAI's verbose_json for `seconds` of audio: one segment spanning it, two words halving it. */
function verboseAnswer(text: string, seconds: number, granularities: string[]) {
  const [first = '', second = ''] = text.split(' ');
  return {
    task: 'transcribe',
    language: 'english',
    duration: seconds,
    text: ` ${text}`,
    ...(granularities.includes('segment')
      ? { segments: [{ id: 0, seek: 0, start: 0, end: seconds, text: ` ${text}`, tokens: [1, 2], temperature: 0, avg_logprob: -0.25, compression_ratio: 1.2, no_speech_prob: 0.01 }] }
      : {}),
    ...(granularities.includes('word')
      ? { words: [{ word: first, start: 0, end: seconds / 2 }, { word: second, start: seconds / 2, end: seconds }] }
      : {}),
    usage: { type: 'duration', seconds: Math.ceil(seconds) },
  };
}
