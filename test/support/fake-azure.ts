import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local stand-in for an Azure AI Speech resource with a custom domain
 * (what AZURE_SPEECH_ENDPOINT names). It speaks the two documented REST APIs:
 *
 * - fast transcription: POST /speechtotext/transcriptions:transcribe?api-version=2024-11-15,
 *   multipart/form-data with `audio` and `definition`;
 * - short audio: POST /stt/speech/recognition/conversation/cognitiveservices/v1?language=..,
 *   one 16 kHz mono PCM WAV of <= 60 s.
 *
 * It checks every request as Azure would (auth header, path, api-version,
 * content types, multipart parts, definition JSON, the WAV itself) and answers
 * with the bodies of Microsoft's documentation, fitted to the audio's length.
 * Queued behaviours make it fail on purpose: 401, 429 + Retry-After, 500, HTML,
 * garbage, hangs, 404 for "no fast transcription here".
 */

export type FakeApi = 'fast' | 'short';

export type Behaviour =
  | { kind: 'status'; status: number; body: string; contentType: string; headers?: Record<string, string> }
  | { kind: 'hang' }
  | { kind: 'nomatch' };

export const behaviours = {
  json: (status: number, body: unknown, headers: Record<string, string> = {}): Behaviour => ({
    kind: 'status',
    status,
    contentType: 'application/json',
    headers,
    body: JSON.stringify(body),
  }),
  tooManyRequests: (retryAfter: string): Behaviour => ({
    kind: 'status',
    status: 429,
    contentType: 'application/json',
    headers: { 'Retry-After': retryAfter },
    body: JSON.stringify({ error: { code: '429', message: `Rate limit is exceeded. Try again in ${retryAfter} seconds.` } }),
  }),
  serverError: (): Behaviour => ({
    kind: 'status',
    status: 500,
    contentType: 'application/json',
    body: JSON.stringify({ code: 'InternalServerError', message: 'An unexpected error occurred.' }),
  }),
  html: (status = 200): Behaviour => ({
    kind: 'status',
    status,
    contentType: 'text/html',
    body: '<!DOCTYPE html><html><head><title>Gateway</title></head><body><h1>Service temporarily unavailable</h1></body></html>',
  }),
  garbage: (): Behaviour => ({ kind: 'status', status: 200, contentType: 'application/json', body: '{"durationMilliseconds": 1000, "phrases": [{"text": 42' }),
  wrongShape: (): Behaviour => ({ kind: 'status', status: 200, contentType: 'application/json', body: '{"phrases": "none"}' }),
  hang: (): Behaviour => ({ kind: 'hang' }),
  /** Short audio only: speech Azure could not match to words. */
  noMatch: (): Behaviour => ({ kind: 'nomatch' }),
};

export interface WavInfo {
  sampleRate: number;
  channels: number;
  bitsPerSample: number;
  durationSeconds: number;
}

export interface RecordedRequest {
  api: FakeApi | 'unknown';
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  /** Fast transcription: the parsed `definition` part. */
  definition?: Record<string, unknown>;
  wav?: WavInfo;
  status: number;
  /** performance.now() when the request arrived. */
  at: number;
}

export interface FakeAzureOptions {
  /** The resource key it accepts (Ocp-Apim-Subscription-Key). */
  key?: string;
  /** The Entra ID token it accepts (Authorization: Bearer). */
  token?: string;
  /** false: fast transcription answers 404, as where a resource lacks it. */
  fastAvailable?: boolean;
}

/** The locales the fast transcription documentation lists (2024-11-15). */
const FAST_LOCALES = ['de-DE', 'en-IN', 'en-US', 'es-ES', 'es-MX', 'fr-FR', 'hi-IN', 'it-IT', 'ja-JP', 'ko-KR', 'pt-BR', 'zh-CN'];
const SHORT_LOCALES = [...FAST_LOCALES, 'en-GB', 'en-AU', 'nl-NL', 'sv-SE'];
const DEFINITION_KEYS = ['locales', 'models', 'profanityFilterMode', 'diarization', 'channels'];

/** The first seven seconds of the documentation's fast transcription example (speaker as in its diarization tab). */
const DOC_PHRASES = [
  { offset: 960, duration: 640, text: 'Good afternoon.', speaker: 1, confidence: 0.93616915, words: [['Good', 960, 240], ['afternoon.', 1200, 400]] },
  { offset: 1600, duration: 640, text: 'This is Sam.', speaker: 1, confidence: 0.93616915, words: [['This', 1600, 240], ['is', 1840, 120], ['Sam.', 1960, 280]] },
  {
    offset: 2240, duration: 1040, text: 'Thank you for calling Contoso.', speaker: 1, confidence: 0.93616915,
    words: [['Thank', 2240, 200], ['you', 2440, 80], ['for', 2520, 120], ['calling', 2640, 200], ['Contoso.', 2840, 440]],
  },
  { offset: 3280, duration: 640, text: 'How can I help?', speaker: 1, confidence: 0.93616915, words: [['How', 3280, 120], ['can', 3440, 120], ['I', 3560, 40], ['help?', 3600, 320]] },
  { offset: 5040, duration: 400, text: 'Hi there.', speaker: 0, confidence: 0.93616915, words: [['Hi', 5040, 240], ['there.', 5280, 160]] },
  { offset: 5440, duration: 800, text: 'My name is Mary.', speaker: 0, confidence: 0.93616915, words: [['My', 5440, 80], ['name', 5520, 120], ['is', 5640, 80], ['Mary.', 5720, 520]] },
] as const;
export const DOC_CYCLE_MS = 7000;

/** Sentences of the short-audio documentation, answered in turn. */
const DOC_SENTENCES = [
  { display: "What's the weather like?", lexical: "what's the weather like", confidence: 0.9052885 },
  { display: 'Remind me to buy 5 pencils.', lexical: 'remind me to buy five pencils', confidence: 0.92459863 },
  { display: 'Good morning.', lexical: 'good morning', confidence: 0.98503506 },
] as const;
export const SHORT_SENTENCES = DOC_SENTENCES;

export class FakeAzure {
  readonly requests: RecordedRequest[] = [];
  fastAvailable: boolean;
  private readonly queues: Record<FakeApi, Behaviour[]> = { fast: [], short: [] };
  private shortCount = 0;

  private constructor(
    private readonly server: Server,
    readonly url: string,
    private readonly options: FakeAzureOptions,
  ) {
    this.fastAvailable = options.fastAvailable ?? true;
  }

  static async start(options: FakeAzureOptions = {}): Promise<FakeAzure> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const fake = new FakeAzure(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`, options);
    server.on('request', (req, res) => void fake.handle(req, res));
    return fake;
  }

  /** The next requests to `api` get these behaviours, in order; after them, normal answers. */
  queue(api: FakeApi, ...items: Behaviour[]): void {
    this.queues[api].push(...items);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const at = performance.now();
    const url = new URL(req.url ?? '/', 'http://fake');
    const body = await readBody(req);
    const api: FakeApi | 'unknown' =
      url.pathname === '/speechtotext/transcriptions:transcribe' ? 'fast' : url.pathname === '/stt/speech/recognition/conversation/cognitiveservices/v1' ? 'short' : 'unknown';
    const record: RecordedRequest = { api, path: url.pathname, query: url.searchParams, headers: req.headers, status: 0, at };
    this.requests.push(record);
    const send = (status: number, payload: unknown, contentType = 'application/json', headers: Record<string, string> = {}) => {
      record.status = status;
      res.writeHead(status, { 'Content-Type': contentType, ...headers });
      res.end(typeof payload === 'string' ? payload : JSON.stringify(payload));
    };
    if (req.method !== 'POST' || api === 'unknown') return send(404, { error: { code: '404', message: 'Resource not found' } });

    const auth = this.checkAuth(req.headers);
    if (auth !== undefined) return send(api === 'short' && auth === 'missing' ? 403 : 401, { error: { code: '401', message: ACCESS_DENIED } });

    const next = this.queues[api].shift();
    if (next?.kind === 'hang') return; // never answers; close() ends the socket
    if (next?.kind === 'status') return send(next.status, next.body, next.contentType, next.headers);

    if (api === 'fast') {
      if (!this.fastAvailable) return send(404, { error: { code: '404', message: 'Resource not found' } });
      const answer = this.fast(url, req.headers, body, record);
      return send(answer.status, answer.body);
    }
    const answer = this.short(url, req.headers, body, record, next?.kind === 'nomatch');
    return send(answer.status, answer.body);
  }

  private checkAuth(headers: IncomingHttpHeaders): 'missing' | 'wrong' | undefined {
    const key = headers['ocp-apim-subscription-key'];
    const bearer = headers.authorization;
    if (key === undefined && bearer === undefined) return 'missing';
    if (key !== undefined && this.options.key !== undefined && key === this.options.key) return undefined;
    if (bearer !== undefined && this.options.token !== undefined && bearer === `Bearer ${this.options.token}`) return undefined;
    return 'wrong';
  }

  private fast(url: URL, headers: IncomingHttpHeaders, body: Buffer, record: RecordedRequest): { status: number; body: unknown } {
    const bad = (message: string, inner = 'InvalidParameterValue') => ({ status: 400, body: { code: 'InvalidRequest', message, innerError: { code: inner, message } } });
    if (url.searchParams.get('api-version') !== '2024-11-15') return bad(`The api-version '${url.searchParams.get('api-version')}' is not supported.`);
    const boundary = /^multipart\/form-data;\s*boundary=("?)([^";]+)\1/i.exec(headers['content-type'] ?? '')?.[2];
    if (boundary === undefined) return { status: 415, body: { code: 'UnsupportedMediaType', message: 'The request must be multipart/form-data.' } };
    if (Number(headers['content-length']) !== body.length) return bad('Content-Length does not match the body.');
    const parts = parseMultipart(body, boundary);
    if (parts === undefined) return bad('The multipart body is malformed.', 'InvalidRequestBodyFormat');
    const audio = parts.find((p) => p.name === 'audio');
    const defPart = parts.find((p) => p.name === 'definition');
    if (audio === undefined || audio.filename === undefined) return bad('The audio part is missing.');
    let definition: Record<string, unknown> = {};
    if (defPart !== undefined) {
      try {
        definition = JSON.parse(defPart.content.toString('utf8')) as Record<string, unknown>;
      } catch {
        return bad('The definition is not valid JSON.', 'InvalidRequestBodyFormat');
      }
    }
    record.definition = definition;
    const unknownKey = Object.keys(definition).find((k) => !DEFINITION_KEYS.includes(k));
    if (unknownKey !== undefined) return bad(`Unknown property '${unknownKey}' in definition.`);
    const locales = definition['locales'] ?? [];
    if (!Array.isArray(locales) || locales.some((l) => typeof l !== 'string')) return bad('locales must be a list of strings.');
    const unsupported = (locales as string[]).find((l) => !FAST_LOCALES.includes(l));
    if (unsupported !== undefined) return bad(`The locale '${unsupported}' is not supported.`, 'InvalidLocale');
    const mode = definition['profanityFilterMode'];
    if (mode !== undefined && !['None', 'Masked', 'Removed', 'Tags'].includes(mode as string)) return bad(`Invalid profanityFilterMode '${String(mode)}'.`);
    const diarization = definition['diarization'] as { enabled?: unknown; maxSpeakers?: unknown } | undefined;
    if (diarization !== undefined) {
      const max = diarization.maxSpeakers;
      if (typeof diarization.enabled !== 'boolean' || (max !== undefined && (!Number.isInteger(max) || (max as number) < 2 || (max as number) > 35))) {
        return bad('diarization.maxSpeakers must be greater than 1 and less than 36.');
      }
    }
    const wav = parseWav(audio.content);
    if (wav === undefined) return bad('The audio file could not be decoded.', 'InvalidAudioFormat');
    record.wav = wav;

    const durationMs = Math.round(wav.durationSeconds * 1000);
    const diarized = diarization?.enabled === true;
    const locale = (locales as string[])[0] ?? 'en-US';
    const phrases = [];
    for (let cycle = 0; cycle * DOC_CYCLE_MS < durationMs; cycle++) {
      for (const p of DOC_PHRASES) {
        const shift = cycle * DOC_CYCLE_MS;
        if (shift + p.offset + p.duration > durationMs) continue;
        phrases.push({
          ...(diarized ? { channel: 0, speaker: p.speaker } : {}),
          offsetMilliseconds: shift + p.offset,
          durationMilliseconds: p.duration,
          text: p.text,
          words: p.words.map(([text, offset, duration]) => ({ text, offsetMilliseconds: shift + offset, durationMilliseconds: duration })),
          locale,
          confidence: p.confidence,
        });
      }
    }
    const combined = { ...(diarized ? { channel: 0 } : {}), text: phrases.map((p) => p.text).join(' ') };
    return { status: 200, body: { durationMilliseconds: durationMs, combinedPhrases: [combined], phrases } };
  }

  private short(url: URL, headers: IncomingHttpHeaders, body: Buffer, record: RecordedRequest, noMatch: boolean): { status: number; body: unknown } {
    const bad = (message: string) => ({ status: 400, body: { error: { code: 'BadRequest', message } } });
    const language = url.searchParams.get('language');
    if (language === null) return bad('The language parameter is missing.');
    if (!SHORT_LOCALES.includes(language)) return bad(`The language '${language}' is not supported.`);
    const profanity = url.searchParams.get('profanity') ?? 'masked';
    if (!['masked', 'removed', 'raw'].includes(profanity)) return bad(`Invalid profanity option '${profanity}'.`);
    if (headers['content-type'] !== 'audio/wav; codecs=audio/pcm; samplerate=16000') return bad(`Unsupported Content-Type '${headers['content-type']}'.`);
    const wav = parseWav(body);
    if (wav === undefined || wav.sampleRate !== 16_000 || wav.channels !== 1 || wav.bitsPerSample !== 16) return bad('The audio must be 16 kHz mono 16-bit PCM WAV.');
    if (wav.durationSeconds > 60) return bad('The audio is longer than 60 seconds.');
    record.wav = wav;

    const samples = new Int16Array(body.buffer.slice(body.byteOffset + 44, body.byteOffset + body.length));
    let first = -1;
    let last = -1;
    for (let i = 0; i < samples.length; i++) {
      if (Math.abs(samples[i] ?? 0) > 500) {
        if (first < 0) first = i;
        last = i;
      }
    }
    const ticks = (sample: number) => Math.round((sample / 16_000) * 10_000_000);
    if (first < 0) return { status: 200, body: { RecognitionStatus: 'InitialSilenceTimeout', Offset: ticks(samples.length), Duration: 0 } };
    if (noMatch) return { status: 200, body: { RecognitionStatus: 'NoMatch', Offset: ticks(first), Duration: ticks(last - first) } };
    const sentence = DOC_SENTENCES[this.shortCount++ % DOC_SENTENCES.length]!;
    const lexical = sentence.lexical.split(' ');
    const span = ticks(last - first) / lexical.length;
    return {
      status: 200,
      body: {
        RecognitionStatus: 'Success',
        Offset: ticks(first),
        Duration: ticks(last - first),
        NBest: [
          {
            Confidence: sentence.confidence,
            Lexical: sentence.lexical,
            ITN: sentence.lexical,
            MaskedITN: sentence.lexical,
            Display: sentence.display,
            Words: lexical.map((word, i) => ({ Word: word, Offset: Math.round(ticks(first) + i * span), Duration: Math.round(span), Confidence: sentence.confidence })),
          },
        ],
      },
    };
  }
}

const ACCESS_DENIED =
  'Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.';

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

interface Part {
  name: string | undefined;
  filename: string | undefined;
  content: Buffer;
}

function parseMultipart(body: Buffer, boundary: string): Part[] | undefined {
  const delimiter = Buffer.from(`--${boundary}`);
  if (body.indexOf(delimiter) !== 0) return undefined;
  const parts: Part[] = [];
  let pos = 0;
  for (;;) {
    pos += delimiter.length;
    if (body.toString('latin1', pos, pos + 2) === '--') return parts;
    if (body.toString('latin1', pos, pos + 2) !== '\r\n') return undefined;
    const next = body.indexOf(delimiter, pos);
    if (next < 0) return undefined;
    const chunk = body.subarray(pos + 2, next - 2);
    const split = chunk.indexOf('\r\n\r\n');
    if (split < 0) return undefined;
    const head = chunk.toString('utf8', 0, split);
    const disposition = /content-disposition:\s*form-data(.*)/i.exec(head)?.[1] ?? '';
    parts.push({
      name: /;\s*name="([^"]*)"/.exec(disposition)?.[1],
      filename: /;\s*filename="([^"]*)"/.exec(disposition)?.[1],
      content: chunk.subarray(split + 4),
    });
    pos = next;
  }
}

/** The header of a PCM WAV whose data chunk fills the rest of the file, or undefined. */
function parseWav(buf: Buffer): WavInfo | undefined {
  if (buf.length < 44 || buf.toString('ascii', 0, 4) !== 'RIFF' || buf.toString('ascii', 8, 12) !== 'WAVE') return undefined;
  if (buf.readUInt32LE(4) !== buf.length - 8 || buf.toString('ascii', 12, 16) !== 'fmt ' || buf.readUInt16LE(20) !== 1) return undefined;
  if (buf.toString('ascii', 36, 40) !== 'data' || buf.readUInt32LE(40) !== buf.length - 44) return undefined;
  const channels = buf.readUInt16LE(22);
  const sampleRate = buf.readUInt32LE(24);
  const bitsPerSample = buf.readUInt16LE(34);
  return { sampleRate, channels, bitsPerSample, durationSeconds: (buf.length - 44) / (sampleRate * channels * (bitsPerSample / 8)) };
}
