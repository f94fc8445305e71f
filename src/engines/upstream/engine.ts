import OpenAI, { toFile, type Uploadable } from 'openai';
import { UPSTREAM_CAPABILITIES } from './capabilities.js';
import { VERSION } from 'openai/version';
import type { Agent } from 'undici';
import { encodeWav, readPcmRange, utterances, type PcmAudio, type Utterance } from '../../audio/index.js';
import type { Config } from '../../config/index.js';
import { guardedDispatcher, parseOutboundAllow } from '../../net/index.js';
import { AppError } from '../../errors.js';
import type { Engine, EngineInfo, Segment, TranscribeHooks, TranscribeOptions, Transcript, Word } from '../types.js';
import { diarizedSegments, parseAnswer, parseDiarized, placeAnswer, round, transcriptConfidence, type UpstreamAnswer } from './answer.js';
import { badRequestKind, displayUrl, notATranscription, toUpstreamError, type UpstreamErrorContext } from './errors.js';
import { refuseInternal } from '../outbound-check.js';
import { deadlineTransport, type UpstreamTransport } from './transport.js';

/** Settings of one upstream engine, from the UPSTREAM_* keys. */
export interface UpstreamEngineOptions {
  baseUrl: string | undefined;
  apiKey: string | undefined;
  model: string;
  timeoutSeconds: number;
  maxRetries: number;
  utteranceMaxSeconds: number;
  /** UPSTREAM_DIARIZE: ask the upstream for `diarized_json` when a request wants speakers. */
  diarize: boolean;
  /** OUTBOUND_ALLOW: a private or loopback upstream must be listed there. */
  outboundAllow: readonly string[];
}

export function upstreamOptions(config: Config): UpstreamEngineOptions {
  return {
    baseUrl: config.UPSTREAM_BASE_URL,
    apiKey: config.UPSTREAM_API_KEY,
    model: config.UPSTREAM_MODEL,
    timeoutSeconds: config.UPSTREAM_TIMEOUT_SECONDS,
    maxRetries: config.UPSTREAM_MAX_RETRIES,
    utteranceMaxSeconds: config.UTTERANCE_MAX_SECONDS,
    diarize: config.UPSTREAM_DIARIZE,
    outboundAllow: config.OUTBOUND_ALLOW,
  };
}

export { UPSTREAM_CAPABILITIES } from './capabilities.js';

/** Sent as the Bearer token to servers that need none (the client insists on one). */
const PLACEHOLDER_KEY = 'hark-no-key';

/** Whisper reads only the last 224 tokens of a prompt; a little over that in characters is plenty. */
const CONTEXT_CHARS = 1000;
/** Longest file sent whole for diarized_json: its WAV stays under OpenAI's 25 MB upload limit. */
const DIARIZE_MAX_SECONDS = 780;

type Fields = { language: string | undefined; prompt: string | undefined; task: TranscribeOptions['task'] };

/**
 * Any server with OpenAI's `POST /v1/audio/transcriptions` (OpenAI, speaches,
 * whisper.cpp's server, another hark), through the official openai client.
 * Audio goes one utterance per request (OpenAI takes at most 25 MB a file;
 * 30 s of 16 kHz WAV is 1 MB). The instance holds no per-call state, so one
 * serves any number of concurrent calls.
 */
export class UpstreamEngine implements Engine {
  readonly name = 'upstream';
  readonly capabilities = UPSTREAM_CAPABILITIES;
  private client: OpenAI | undefined;
  private dispatcher: Agent | undefined;
  private ctx: UpstreamErrorContext | undefined;
  /** Set once the upstream refused verbose_json and took plain json: later requests go plain at once. */
  private plainJson = false;
  /**
   * Cleared once the upstream refused a prompt hark added for context (a server
   * whose engine takes none, another hark on PocketSphinx): later utterances go
   * without one. A prompt the request itself gave is never dropped: its refusal is the answer.
   */
  private contextPrompts = true;

  constructor(private readonly options: UpstreamEngineOptions) {}

  /** Builds the client; no request is made, so an unreachable upstream does not stop hark starting. */
  async load(): Promise<EngineInfo> {
    const started = performance.now();
    const { baseUrl, apiKey, model, timeoutSeconds, maxRetries } = this.options;
    if (baseUrl === undefined) throw new AppError('ENGINE_ERROR', 'the upstream engine needs UPSTREAM_BASE_URL (e.g. https://api.openai.com/v1)');
    const url = new URL(baseUrl);
    if (url.username !== '' || url.password !== '') {
      // fetch refuses URLs with credentials, and a key belongs in UPSTREAM_API_KEY (never in logs).
      throw new AppError('ENGINE_ERROR', `UPSTREAM_BASE_URL (${displayUrl(url)}) must not carry a user or password; put the key in UPSTREAM_API_KEY`);
    }
    await refuseInternal(url, this.options.outboundAllow, 'UPSTREAM_BASE_URL');
    const timeoutMs = Math.round(timeoutSeconds * 1000);
    this.dispatcher = guardedDispatcher(parseOutboundAllow(this.options.outboundAllow));
    const transport: UpstreamTransport = deadlineTransport(timeoutMs, this.dispatcher);
    this.ctx = { host: url.host, baseUrl: displayUrl(url), timeoutSeconds, maxRetries, apiKey, errorBody: transport.errorBody };
    // Every option the client would otherwise read from OPENAI_* variables is given here,
    // so hark's configuration alone decides what is sent (and to whom).
    this.client = new OpenAI({
      baseURL: baseUrl,
      apiKey: apiKey ?? PLACEHOLDER_KEY,
      adminAPIKey: null,
      organization: null,
      project: null,
      webhookSecret: null,
      timeout: timeoutMs,
      maxRetries,
      fetch: transport.fetch,
      logLevel: 'off',
    });
    return { name: this.name, version: VERSION, model: `${model} @ ${url.host}`, loadMs: Math.round(performance.now() - started) };
  }

  async transcribe(audio: PcmAudio, options: TranscribeOptions, hooks: TranscribeHooks = {}): Promise<Transcript> {
    const { client, ctx } = this;
    if (client === undefined || ctx === undefined) throw new AppError('ENGINE_NOT_READY', 'the upstream engine is not loaded');
    const texts: string[] = [];
    const segments: Segment[] = [];
    const words: Word[] = [];
    let language: string | undefined;
    let previous: string | undefined;
    if (options.diarize !== undefined && this.options.diarize && options.task !== 'translate') {
      const diarized = await this.diarized(client, ctx, audio, options.language, hooks);
      if (diarized !== undefined) return diarized;
    }
    const own = options.prompt === '' ? undefined : options.prompt;
    const planned = await utterances(audio, options.vad, { maxSeconds: this.options.utteranceMaxSeconds, signal: hooks.signal, onLog: hooks.onLog });
    if (planned.count > 0) {
      const context = own !== undefined ? "the request's prompt" : "each utterance's prompt is the previous one's text";
      hooks.onLog?.(`sending ${planned.speechSeconds.toFixed(1)} s of audio to ${ctx.host} (model ${this.options.model}) as ${planned.count} utterance(s); ${context}`);
    }
    for await (const utt of planned) {
      // Without a prompt of its own, each request gets the text before it, so names and
      // spelling carry across cuts as they would in one long request.
      const prompt = own ?? (this.contextPrompts ? lastChars(previous, CONTEXT_CHARS) : undefined);
      const fields = { language: options.language, prompt, task: options.task };
      const { answer, verbose } = await this.request(client, ctx, utt, fields, hooks).catch((err: unknown) => {
        if (own !== undefined || prompt === undefined || !(err instanceof AppError) || err.details?.['parameter'] !== 'prompt') throw err;
        this.contextPrompts = false;
        hooks.onLog?.(`${ctx.host} refused the context prompt; sending no prompt from now on`);
        return this.request(client, ctx, utt, { ...fields, prompt: undefined }, hooks);
      });
      const placed = placeAnswer(answer, utt);
      if (placed.text !== '') {
        texts.push(placed.text);
        previous = placed.text;
      }
      language ??= placed.language;
      segments.push(...placed.segments);
      words.push(...placed.words);
      for (const s of placed.segments) hooks.onSegment?.(s);
      hooks.onProgress?.({ fraction: Math.min(1, utt.end / audio.durationSeconds), processedSeconds: utt.end, totalSeconds: audio.durationSeconds });
      hooks.onLog?.(
        `utterance ${utt.index + 1}/${utt.count} (${utt.start.toFixed(1)}-${utt.end.toFixed(1)} s): ${placed.words.length} words, ` +
          `${verbose ? 'verbose_json' : 'json (no timestamps)'}${prompt !== undefined ? ', with prompt' : ''}`,
      );
    }
    return {
      text: texts.join(' '),
      language: language ?? options.language ?? 'und',
      duration_seconds: round(audio.durationSeconds),
      confidence: transcriptConfidence(segments),
      segments,
      words,
      speech_seconds: round(planned.speechSeconds),
    };
  }

  async unload(): Promise<void> {
    this.client = undefined;
    await this.dispatcher?.close();
    this.dispatcher = undefined;
  }

  /**
   * One utterance, as verbose_json with word and segment times; a server that
   * refuses that with a 400/422 not about the audio or language is asked once
   * more in plain json, and if that works, plain json it is from then on.
   */
  private async request(
    client: OpenAI,
    ctx: UpstreamErrorContext,
    utt: Utterance,
    fields: Fields,
    hooks: TranscribeHooks,
  ): Promise<{ answer: UpstreamAnswer; verbose: boolean }> {
    const file = await toFile(encodeWav(utt.pcm), `utterance-${utt.index + 1}.wav`, { type: 'audio/wav' });
    const { signal } = hooks;
    if (!this.plainJson) {
      try {
        return { answer: this.answerOf(await this.send(client, file, 'verbose_json', fields, signal), ctx), verbose: true };
      } catch (err) {
        signal?.throwIfAborted();
        if (badRequestKind(err, ctx) !== 'other') throw toUpstreamError(err, ctx);
        hooks.onLog?.(`${ctx.host} refused verbose_json (${(err as { status?: number }).status}); asking again in plain json, without timestamps`);
      }
    }
    try {
      const answer = this.answerOf(await this.send(client, file, 'json', fields, signal), ctx);
      this.plainJson = true;
      return { answer, verbose: false };
    } catch (err) {
      signal?.throwIfAborted();
      throw toUpstreamError(err, ctx);
    }
  }

  /**
   * One request to the upstream's endpoint for the task. OpenAI's translations
   * take neither `language` (the output is English) nor timestamp
   * granularities (their verbose_json has segment times, no words).
   */
  private send(client: OpenAI, file: Uploadable, format: 'verbose_json' | 'json', fields: Fields, signal: AbortSignal | undefined): Promise<unknown> {
    const { model } = this.options;
    if (fields.task === 'translate') {
      const prompt = fields.prompt === undefined ? {} : { prompt: fields.prompt };
      return client.audio.translations.create({ file, model, response_format: format, ...prompt }, { signal });
    }
    const { language, prompt } = fields;
    if (format === 'json') return client.audio.transcriptions.create({ file, model, response_format: 'json', language, prompt }, { signal });
    return client.audio.transcriptions.create({ file, model, response_format: 'verbose_json', timestamp_granularities: ['word', 'segment'], language, prompt }, { signal });
  }

  /**
   * UPSTREAM_DIARIZE: the whole file in one request for `diarized_json`, since
   * an upstream letters speakers afresh in every request (labels from two
   * utterances would name nobody). A file too long for one upload returns
   * undefined: it is transcribed as usual and hark's diarizer labels it.
   */
  private async diarized(client: OpenAI, ctx: UpstreamErrorContext, audio: PcmAudio, language: string | undefined, hooks: TranscribeHooks): Promise<Transcript | undefined> {
    if (audio.durationSeconds > DIARIZE_MAX_SECONDS) {
      hooks.onLog?.(`${audio.durationSeconds.toFixed(0)} s is too long for one diarized_json request to ${ctx.host} (${DIARIZE_MAX_SECONDS} s); hark's diarizer labels the speakers`);
      return undefined;
    }
    const file = await toFile(encodeWav(await readPcmRange(audio.path, 0, audio.samples)), 'audio.wav', { type: 'audio/wav' });
    hooks.onLog?.(`sending ${audio.durationSeconds.toFixed(1)} s to ${ctx.host} (model ${this.options.model}) for diarized_json`);
    let body: unknown;
    try {
      // chunking_strategy: OpenAI's diarizing model requires one past 30 s of audio; `auto` is its own VAD.
      body = await client.audio.transcriptions.create(
        { file, model: this.options.model, response_format: 'diarized_json', chunking_strategy: 'auto', ...(language === undefined || language === '' ? {} : { language }) },
        { signal: hooks.signal },
      );
    } catch (err) {
      hooks.signal?.throwIfAborted();
      throw toUpstreamError(err, ctx);
    }
    const answer = parseDiarized(body);
    if (answer === undefined) throw notATranscription(ctx, 'not diarized_json (segments with speakers)');
    const { segments, speakers } = diarizedSegments(answer, audio.durationSeconds);
    for (const s of segments) hooks.onSegment?.(s);
    hooks.onProgress?.({ fraction: 1, processedSeconds: audio.durationSeconds, totalSeconds: audio.durationSeconds });
    return {
      text: answer.text.trim(),
      language: language === undefined || language === '' ? 'und' : language,
      duration_seconds: round(audio.durationSeconds),
      confidence: null,
      segments,
      words: [],
      speech_seconds: round(audio.durationSeconds),
      speakers,
    };
  }

  private answerOf(body: unknown, ctx: UpstreamErrorContext): UpstreamAnswer {
    const answer = parseAnswer(body);
    if (answer === undefined) throw notATranscription(ctx, typeof body === 'string' ? 'text, not JSON' : 'JSON without a text field');
    return answer;
  }
}

/** The end of `text`, at most `max` characters, starting at a word. */
function lastChars(text: string | undefined, max: number): string | undefined {
  if (text === undefined || text.length <= max) return text;
  return text.slice(-max).replace(/^\S*\s+/, '');
}
