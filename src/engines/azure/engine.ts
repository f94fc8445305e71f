import type { TokenCredential } from '@azure/identity';
import type { Agent } from 'undici';
import { AZURE_CAPABILITIES } from './capabilities.js';
import { FRAME_SAMPLES, SAMPLE_RATE, cutAtSilences, encodeWav, frameEnergies, utterances, type PcmAudio } from '../../audio/index.js';
import { planUtterances, type VadSettings } from '../../vad/index.js';
import type { Config } from '../../config/index.js';
import { guardedDispatcher, parseOutboundAllow } from '../../net/index.js';
import { speakerLetter } from '../../diarization/types.js';
import { AppError } from '../../errors.js';
import type { Engine, EngineInfo, Segment, TranscribeHooks, TranscribeOptions, Transcript, Word } from '../types.js';
import { entraAuth, keyAuth } from './auth.js';
import { AzureClient } from './client.js';
import { refuseInternal } from '../outbound-check.js';
import { azureLocale, languageOf, type LocaleChoice } from './locale.js';
import {
  FAST_API_VERSION, SHORT_AUDIO_CONTENT_TYPE, azureEndpoints, fastDefinition, fastMultipart, fastPiece, fastResultSchema, round, shortAudioUrl,
  shortPiece, shortResultSchema, type AzureEndpoints, type Piece, type SampleRange,
} from './protocol.js';

export { AZURE_CAPABILITIES } from './capabilities.js';

/** What tests and embedders may set beyond the configuration. */
export interface AzureEngineOptions {
  /** Used instead of DefaultAzureCredential when AZURE_SPEECH_KEY is empty. */
  credential?: TokenCredential;
  /** Longest piece sent to fast transcription in one request (Azure: < 2 h and < 200 MB). */
  fastMaxSeconds?: number;
  /** First retry backoff step. */
  retryBaseMs?: number;
  /** A Retry-After longer than this fails the request at once instead of being waited out. */
  maxRetryWaitMs?: number;
}

/** 90 minutes of 16 kHz 16-bit mono is 173 MB: under both of Azure's limits. */
const FAST_MAX_SECONDS = 90 * 60;
/** The short-audio API takes at most 60 s per request. */
const SHORT_AUDIO_MAX_SECONDS = 60;
const FPS = SAMPLE_RATE / FRAME_SAMPLES;

/**
 * Azure AI Speech over its REST APIs (no native SDK). The whole file goes to
 * fast transcription in one request (cut at silences into 90-minute pieces
 * past that); with a VAD, only its speech goes, the speech regions joined into
 * one WAV per request and Azure's times mapped back to the file's. Where a
 * resource has no fast transcription (404), the file is sent one utterance at
 * a time to the short-audio API instead. Holds no per-request state: one
 * instance serves any number of concurrent calls.
 */
export class AzureSpeechEngine implements Engine {
  readonly name = 'azure';
  readonly capabilities = AZURE_CAPABILITIES;
  private endpoints: AzureEndpoints | undefined;
  private client: AzureClient | undefined;
  private dispatcher: Agent | undefined;
  /** false once fast transcription answered 404: later calls go straight to short audio. */
  private fastAvailable = true;

  constructor(
    private readonly config: Config,
    private readonly options: AzureEngineOptions = {},
  ) {}

  /** Checks the settings and builds the client; calls nothing (no network at boot). */
  async load(): Promise<EngineInfo> {
    const started = performance.now();
    const endpoints = azureEndpoints(this.config);
    if (endpoints === undefined) throw new AppError('ENGINE_ERROR', 'the azure engine needs AZURE_SPEECH_REGION or AZURE_SPEECH_ENDPOINT');
    const key = this.config.AZURE_SPEECH_KEY;
    if (key === undefined && this.config.AZURE_SPEECH_ENDPOINT === undefined) {
      throw new AppError('ENGINE_ERROR', 'the azure engine needs AZURE_SPEECH_KEY, or AZURE_SPEECH_ENDPOINT for Microsoft Entra ID');
    }
    try {
      azureLocale(this.config.AZURE_SPEECH_LANGUAGE);
    } catch (cause) {
      throw new AppError('ENGINE_ERROR', `AZURE_SPEECH_LANGUAGE=${this.config.AZURE_SPEECH_LANGUAGE} is neither a locale (en-US) nor a known language code (en)`, { cause });
    }
    if (this.config.AZURE_SPEECH_ENDPOINT !== undefined) {
      await refuseInternal(new URL(this.config.AZURE_SPEECH_ENDPOINT), this.config.OUTBOUND_ALLOW, 'AZURE_SPEECH_ENDPOINT');
    }
    this.endpoints = endpoints;
    this.client = new AzureClient({
      auth: key !== undefined ? keyAuth(key) : entraAuth(this.options.credential),
      timeoutMs: this.config.AZURE_SPEECH_TIMEOUT_SECONDS * 1000,
      maxRetries: this.config.AZURE_SPEECH_MAX_RETRIES,
      retryBaseMs: this.options.retryBaseMs ?? 500,
      maxRetryWaitMs: this.options.maxRetryWaitMs ?? 60_000,
      dispatcher: (this.dispatcher = guardedDispatcher(parseOutboundAllow(this.config.OUTBOUND_ALLOW))),
    });
    return { name: this.name, version: FAST_API_VERSION, model: `azure-speech (${endpoints.label})`, loadMs: Math.round(performance.now() - started) };
  }

  async transcribe(audio: PcmAudio, options: TranscribeOptions, hooks: TranscribeHooks = {}): Promise<Transcript> {
    const { client, endpoints } = this;
    if (client === undefined || endpoints === undefined) throw new AppError('ENGINE_NOT_READY', 'the azure engine is not loaded');
    const requested = options.language === undefined || options.language.trim() === '' ? this.config.AZURE_SPEECH_LANGUAGE : options.language;
    const choice = azureLocale(requested);
    hooks.signal?.throwIfAborted();
    if (audio.samples === 0) return transcript([], choice, audio, 0);
    if (this.fastAvailable) {
      try {
        return await this.fast(client, endpoints, audio, choice, options, hooks);
      } catch (err) {
        if (!(err instanceof AppError && err.details?.['upstream_status'] === 404)) throw err;
        this.fastAvailable = false;
        hooks.onLog?.(`azure: no fast transcription at ${endpoints.label} (HTTP 404); using the short-audio API, one utterance at a time`);
      }
    }
    return this.shortAudio(client, endpoints, audio, choice, options.vad, hooks);
  }

  async unload(): Promise<void> {
    this.client = undefined;
    this.endpoints = undefined;
    await this.dispatcher?.close();
    this.dispatcher = undefined;
  }

  private async fast(
    client: AzureClient,
    endpoints: AzureEndpoints,
    audio: PcmAudio,
    choice: LocaleChoice,
    options: TranscribeOptions,
    hooks: TranscribeHooks,
  ): Promise<Transcript> {
    const { pieces, speechSeconds } = await this.fastPieces(audio, options.vad, hooks);
    const definition = fastDefinition(this.config, choice.kind === 'locale' ? choice.locale : undefined, options.diarize);
    hooks.onLog?.(`azure: fast transcription of ${speechSeconds.toFixed(1)} s in ${pieces.length} request(s)`);
    const results: Piece[] = [];
    for (const [i, ranges] of pieces.entries()) {
      const upload = fastMultipart(definition, audio.path, ranges);
      const result = await client.post(
        {
          api: 'fast transcription',
          url: endpoints.fast,
          headers: { 'Content-Type': upload.contentType, 'Content-Length': String(upload.contentLength), Accept: 'application/json' },
          body: upload.body,
          schema: fastResultSchema,
        },
        hooks,
      );
      const piece = fastPiece(result, toFileTime(ranges));
      results.push(piece);
      for (const s of piece.segments) hooks.onSegment?.(s);
      const done = (ranges[ranges.length - 1]?.[1] ?? 0) / SAMPLE_RATE;
      hooks.onProgress?.({ fraction: Math.min(1, done / audio.durationSeconds), processedSeconds: done, totalSeconds: audio.durationSeconds });
      const speakers = piece.speakers.size > 0 ? `, ${piece.speakers.size} speaker(s)` : '';
      hooks.onLog?.(`azure: piece ${i + 1}/${pieces.length}: ${piece.segments.length} phrase(s)${speakers}`);
    }
    if (results.length > 1 && results.some((p) => p.speakers.size > 0)) {
      // Each request numbers its speakers afresh: across requests the numbers name nobody.
      for (const p of results) dropSpeakers(p);
      hooks.onLog?.(`azure: ${results.length} requests label speakers independently; their labels are dropped`);
    }
    return transcript(results, choice, audio, speechSeconds);
  }

  /**
   * What each fast transcription request sends: lists of [startSample, endSample)
   * ranges, at most fastMaxSeconds of audio per request. Without a VAD, the
   * file cut at silences (one range per request); with one, its speech ranges,
   * as many per request as fit (a request's ranges are joined into one WAV).
   */
  private async fastPieces(audio: PcmAudio, vad: VadSettings | undefined, hooks: TranscribeHooks): Promise<{ pieces: SampleRange[][]; speechSeconds: number }> {
    const maxSeconds = this.options.fastMaxSeconds ?? FAST_MAX_SECONDS;
    if (vad !== undefined && vad.kind !== 'off') {
      const plan = await planUtterances(audio, vad, { maxSeconds, signal: hooks.signal });
      hooks.onLog?.(`VAD ${vad.kind}: speech ${plan.speechSeconds.toFixed(1)} s of ${audio.durationSeconds.toFixed(1)} s in ${plan.ranges.length} region(s)`);
      const pieces: SampleRange[][] = [];
      let piece: SampleRange[] = [];
      let pieceSamples = 0;
      for (const r of plan.ranges) {
        if (piece.length > 0 && pieceSamples + (r.end - r.start) > maxSeconds * SAMPLE_RATE) {
          pieces.push(piece);
          piece = [];
          pieceSamples = 0;
        }
        piece.push([r.start, r.end]);
        pieceSamples += r.end - r.start;
      }
      if (piece.length > 0) pieces.push(piece);
      return { pieces, speechSeconds: plan.speechSeconds };
    }
    if (audio.durationSeconds <= maxSeconds) return { pieces: [[[0, audio.samples]]], speechSeconds: audio.durationSeconds };
    const energies = await frameEnergies(audio.path, audio.samples);
    hooks.signal?.throwIfAborted();
    const ranges = cutAtSilences(energies, {
      maxFrames: Math.round(maxSeconds * FPS),
      minFrames: Math.round(Math.min(60, maxSeconds / 4) * FPS),
      minSilenceFrames: Math.round(0.15 * FPS),
      breakFrames: Math.round(0.5 * FPS),
    });
    const pieces = ranges.map((r): SampleRange[] => [[r.start * FRAME_SAMPLES, Math.min(audio.samples, r.end * FRAME_SAMPLES)]]);
    return { pieces, speechSeconds: audio.durationSeconds };
  }

  private async shortAudio(
    client: AzureClient,
    endpoints: AzureEndpoints,
    audio: PcmAudio,
    choice: LocaleChoice,
    vad: VadSettings | undefined,
    hooks: TranscribeHooks,
  ): Promise<Transcript> {
    // The short-audio API needs a locale: language identification falls back to the configured one.
    const fallback = azureLocale(this.config.AZURE_SPEECH_LANGUAGE);
    const locale = choice.kind === 'locale' ? choice.locale : fallback.kind === 'locale' ? fallback.locale : 'en-US';
    const url = shortAudioUrl(endpoints.shortAudio, this.config, locale);
    const maxSeconds = Math.min(SHORT_AUDIO_MAX_SECONDS, this.config.UTTERANCE_MAX_SECONDS);
    const results: Piece[] = [];
    const planned = await utterances(audio, vad, { maxSeconds, signal: hooks.signal, onLog: hooks.onLog });
    if (planned.count > 0) hooks.onLog?.(`azure: short-audio recognition of ${planned.speechSeconds.toFixed(1)} s as ${planned.count} utterance(s)`);
    for await (const utt of planned) {
      const wav = encodeWav(utt.pcm);
      const result = await client.post(
        {
          api: 'short audio',
          url,
          headers: { 'Content-Type': SHORT_AUDIO_CONTENT_TYPE, Accept: 'application/json' },
          body: () => wav,
          schema: shortResultSchema,
        },
        hooks,
      );
      const piece = shortPiece(result, utt.start, locale);
      if (piece === null) {
        throw new AppError('UPSTREAM_ERROR', `Azure Speech (short audio) could not recognise utterance ${utt.index + 1} (RecognitionStatus ${result.RecognitionStatus})`, {
          details: { recognition_status: result.RecognitionStatus },
        });
      }
      results.push(piece);
      for (const s of piece.segments) hooks.onSegment?.(s);
      hooks.onProgress?.({ fraction: Math.min(1, utt.end / audio.durationSeconds), processedSeconds: utt.end, totalSeconds: audio.durationSeconds });
      hooks.onLog?.(`azure: utterance ${utt.index + 1}/${utt.count} (${utt.start.toFixed(1)}-${utt.end.toFixed(1)} s): ${result.RecognitionStatus}`);
    }
    return transcript(results, { kind: 'locale', locale }, audio, planned.speechSeconds);
  }
}

/**
 * Seconds in a request's WAV -> seconds in the file, for a WAV made of the
 * file's `ranges` joined: a time inside the n-th range's stretch of the WAV
 * lands in that range (a time on a join, in the earlier one).
 */
function toFileTime(ranges: readonly SampleRange[]): (seconds: number) => number {
  return (seconds) => {
    let sample = seconds * SAMPLE_RATE;
    for (const [start, end] of ranges) {
      if (sample <= end - start) return (start + sample) / SAMPLE_RATE;
      sample -= end - start;
    }
    // Past the WAV's end (an answer's rounding): kept after the last range.
    const last = ranges[ranges.length - 1];
    return last === undefined ? seconds : (last[1] + sample) / SAMPLE_RATE;
  };
}

/** Stitches the pieces in file order; confidence is the duration-weighted mean of the segments'. */
function dropSpeakers(piece: Piece): void {
  for (const x of [...piece.segments, ...piece.words]) delete x.speaker;
  piece.speakers.clear();
}

/** Azure's speaker numbers as hark's letters, A, B, ... in order of first appearance; how many there are. */
function letterSpeakers(segments: Segment[], words: Word[]): number {
  const letters = new Map<string, string>();
  for (const s of segments) if (s.speaker !== undefined && !letters.has(s.speaker)) letters.set(s.speaker, speakerLetter(letters.size));
  for (const x of [...segments, ...words]) if (x.speaker !== undefined) x.speaker = letters.get(x.speaker);
  return letters.size;
}

function transcript(pieces: Piece[], choice: LocaleChoice, audio: PcmAudio, speechSeconds: number): Transcript {
  const segments: Segment[] = pieces.flatMap((p) => p.segments);
  const words: Word[] = pieces.flatMap((p) => p.words);
  const speakers = letterSpeakers(segments, words);
  const scored = segments.filter((s) => s.confidence !== undefined);
  const weight = scored.reduce((sum, s) => sum + Math.max(0.001, s.end - s.start), 0);
  const confidence = scored.length === 0 ? null : round(scored.reduce((sum, s) => sum + (s.confidence ?? 0) * Math.max(0.001, s.end - s.start), 0) / weight);
  const locale = mostCommon(pieces.flatMap((p) => p.locales)) ?? (choice.kind === 'locale' ? choice.locale : undefined);
  return {
    text: segments.map((s) => s.text).join(' '),
    language: locale === undefined ? 'und' : languageOf(locale),
    duration_seconds: round(audio.durationSeconds),
    confidence,
    segments,
    words,
    speech_seconds: round(speechSeconds),
    // Azure's diarization, when it gave any: the pipeline then runs no diarizer of its own.
    ...(speakers > 0 ? { speakers } : {}),
  };
}

function mostCommon(values: string[]): string | undefined {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  let best: string | undefined;
  for (const [v, n] of counts) if (best === undefined || n > (counts.get(best) ?? 0)) best = v;
  return best;
}
