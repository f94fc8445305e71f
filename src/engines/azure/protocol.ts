import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { z } from 'zod';
import { BYTES_PER_SAMPLE, encodeWav } from '../../audio/index.js';
import type { Config } from '../../config/index.js';
import type { DiarizeRequest } from '../../diarization/types.js';
import type { Segment, Word } from '../types.js';

/**
 * The two Azure Speech REST APIs hark speaks, as documented by Microsoft:
 * fast transcription (`speechtotext/transcriptions:transcribe`, api-version
 * 2024-11-15, multipart upload, synchronous answer) and the speech to text
 * REST API for short audio (one WAV of <= 60 s per request).
 */
export const FAST_API_VERSION = '2024-11-15';

export const SHORT_AUDIO_CONTENT_TYPE = 'audio/wav; codecs=audio/pcm; samplerate=16000';

/** 100-ns ticks: the short-audio API's unit of time. */
const TICKS_PER_SECOND = 10_000_000;

export interface AzureEndpoints {
  fast: URL;
  shortAudio: URL;
  /** For EngineInfo and messages: the region, or the endpoint's host. */
  label: string;
}

/**
 * Region hosts by default; with AZURE_SPEECH_ENDPOINT (a custom-domain
 * resource, which Entra ID needs), both APIs live under that one base URL, the
 * short-audio one under `/stt/` as Microsoft documents for custom domains.
 */
export function azureEndpoints(config: Config): AzureEndpoints | undefined {
  const endpoint = config.AZURE_SPEECH_ENDPOINT;
  const region = config.AZURE_SPEECH_REGION;
  let fastBase: string;
  let shortBase: string;
  let label: string;
  if (endpoint !== undefined) {
    const base = endpoint.replace(/\/+$/, '');
    fastBase = base;
    shortBase = `${base}/stt`;
    label = new URL(endpoint).host;
  } else if (region !== undefined) {
    const r = encodeURIComponent(region.trim().toLowerCase());
    fastBase = `https://${r}.api.cognitive.microsoft.com`;
    shortBase = `https://${r}.stt.speech.microsoft.com`;
    label = region;
  } else {
    return undefined;
  }
  const fast = new URL(`${fastBase}/speechtotext/transcriptions:transcribe`);
  fast.searchParams.set('api-version', FAST_API_VERSION);
  return { fast, shortAudio: new URL(`${shortBase}/speech/recognition/conversation/cognitiveservices/v1`), label };
}

const PROFANITY_FILTER_MODES = { masked: 'Masked', removed: 'Removed', raw: 'None' } as const;

/** The `definition` part of a fast transcription request. */
export interface FastDefinition {
  locales?: string[];
  profanityFilterMode: (typeof PROFANITY_FILTER_MODES)[keyof typeof PROFANITY_FILTER_MODES];
  diarization?: { enabled: true; maxSpeakers: number };
}

/** Azure's bound when a request asks for diarization with no count and the settings name none. */
const DEFAULT_MAX_SPEAKERS = 8;

/**
 * The definition of a request. Diarization is asked for when the request asks
 * (`diarize`: its exact count or upper bound, else the setting's, else 8) or when
 * AZURE_SPEECH_DIARIZATION_MAX_SPEAKERS turns it on for every request.
 */
export function fastDefinition(config: Config, locale: string | undefined, diarize?: DiarizeRequest): FastDefinition {
  const def: FastDefinition = { profanityFilterMode: PROFANITY_FILTER_MODES[config.AZURE_SPEECH_PROFANITY] };
  // No locale: Azure identifies the language itself.
  if (locale !== undefined) def.locales = [locale];
  const configured = config.AZURE_SPEECH_DIARIZATION_MAX_SPEAKERS;
  const speakers = diarize === undefined ? configured : (diarize.numSpeakers ?? diarize.maxSpeakers ?? (configured > 0 ? configured : DEFAULT_MAX_SPEAKERS));
  // Azure takes a maxSpeakers hint of 2 to 35.
  if (speakers > 0) def.diarization = { enabled: true, maxSpeakers: Math.min(35, Math.max(2, speakers)) };
  return def;
}

export function shortAudioUrl(base: URL, config: Config, locale: string): URL {
  const url = new URL(base);
  url.searchParams.set('language', locale);
  url.searchParams.set('format', 'detailed');
  url.searchParams.set('profanity', config.AZURE_SPEECH_PROFANITY);
  // Not in the short-audio reference, but what the Speech SDK sends for NBest[].Words.
  url.searchParams.set('wordLevelTimestamps', 'true');
  return url;
}

export interface MultipartUpload {
  contentType: string;
  contentLength: number;
  /** A fresh body each call, so a retried request streams the file again. */
  body: () => AsyncIterable<Uint8Array>;
}

/** [startSample, endSample) of a PCM file. */
export type SampleRange = readonly [number, number];

/**
 * A fast transcription request body: the definition, then the PCM file's
 * `ranges` joined as one WAV (the whole file is one range; a VAD's speech
 * regions are several), streamed from disk so an hour of audio never sits in
 * memory.
 */
export function fastMultipart(definition: FastDefinition, pcmPath: string, ranges: readonly SampleRange[]): MultipartUpload {
  const boundary = `hark-${randomBytes(12).toString('hex')}`;
  const dataBytes = ranges.reduce((n, [start, end]) => n + Math.max(0, end - start), 0) * BYTES_PER_SAMPLE;
  const wavHeader = encodeWav(new Int16Array(0));
  wavHeader.writeUInt32LE(36 + dataBytes, 4);
  wavHeader.writeUInt32LE(dataBytes, 40);
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="definition"\r\nContent-Type: application/json\r\n\r\n${JSON.stringify(definition)}\r\n` +
      `--${boundary}\r\nContent-Disposition: form-data; name="audio"; filename="audio.wav"\r\nContent-Type: audio/wav\r\n\r\n`,
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  return {
    contentType: `multipart/form-data; boundary=${boundary}`,
    contentLength: head.length + wavHeader.length + dataBytes + tail.length,
    async *body() {
      yield head;
      yield wavHeader;
      for (const [startSample, endSample] of ranges) {
        if (endSample <= startSample) continue;
        const start = startSample * BYTES_PER_SAMPLE;
        const end = endSample * BYTES_PER_SAMPLE - 1;
        yield* createReadStream(pcmPath, { start, end, highWaterMark: 256 * 1024 }) as AsyncIterable<Buffer>;
      }
      yield tail;
    },
  };
}

const fastWordSchema = z.object({ text: z.string(), offsetMilliseconds: z.number(), durationMilliseconds: z.number() });
const fastPhraseSchema = z.object({
  offsetMilliseconds: z.number(),
  durationMilliseconds: z.number(),
  text: z.string(),
  words: z.array(fastWordSchema).optional(),
  locale: z.string().optional(),
  confidence: z.number().optional(),
  speaker: z.number().optional(),
  channel: z.number().optional(),
});
export const fastResultSchema = z.object({
  durationMilliseconds: z.number().optional(),
  combinedPhrases: z.array(z.object({ text: z.string(), channel: z.number().optional() })).optional(),
  phrases: z.array(fastPhraseSchema),
});
export type FastResult = z.infer<typeof fastResultSchema>;

// The documentation shows Offset and Duration both as numbers and as numeric strings.
const ticks = z.union([z.number(), z.string().regex(/^\d+$/).transform(Number)]);
const nbestSchema = z.object({
  Confidence: z.number().optional(),
  Lexical: z.string().optional(),
  ITN: z.string().optional(),
  MaskedITN: z.string().optional(),
  Display: z.string(),
  Words: z.array(z.object({ Word: z.string(), Offset: ticks, Duration: ticks, Confidence: z.number().optional() })).optional(),
});
export const shortResultSchema = z.object({
  RecognitionStatus: z.string(),
  DisplayText: z.string().optional(),
  Offset: ticks.optional(),
  Duration: ticks.optional(),
  NBest: z.array(nbestSchema).optional(),
});
export type ShortResult = z.infer<typeof shortResultSchema>;

/** What one request contributes to the transcript, in file time. */
export interface Piece {
  segments: Segment[];
  words: Word[];
  locales: string[];
  speakers: Set<number>;
}

/** Phrases -> segments, their words -> words, each time moved to file time by `toFile` (seconds in the request's WAV -> seconds in the file). */
export function fastPiece(result: FastResult, toFile: (seconds: number) => number): Piece {
  const piece: Piece = { segments: [], words: [], locales: [], speakers: new Set() };
  const phrases = [...result.phrases].sort((a, b) => a.offsetMilliseconds - b.offsetMilliseconds);
  for (const p of phrases) {
    const text = p.text.trim();
    if (text === '') continue;
    const segment: Segment = { start: round(toFile(p.offsetMilliseconds / 1000)), end: round(toFile((p.offsetMilliseconds + p.durationMilliseconds) / 1000)), text };
    if (p.confidence !== undefined) segment.confidence = unit(p.confidence);
    // Azure's own speaker number for now; the transcript letters them (engine.ts).
    const speaker = p.speaker === undefined ? undefined : String(p.speaker);
    if (speaker !== undefined) segment.speaker = speaker;
    piece.segments.push(segment);
    for (const w of p.words ?? []) {
      const word: Word = { word: w.text, start: round(toFile(w.offsetMilliseconds / 1000)), end: round(toFile((w.offsetMilliseconds + w.durationMilliseconds) / 1000)) };
      if (speaker !== undefined) word.speaker = speaker;
      piece.words.push(word);
    }
    if (p.locale !== undefined) piece.locales.push(p.locale);
    if (p.speaker !== undefined) piece.speakers.add(p.speaker);
  }
  return piece;
}

/** Statuses that mean "nothing was said here", not a failure. */
const SILENT_STATUSES = new Set(['NoMatch', 'InitialSilenceTimeout', 'BabbleTimeout']);

/** One utterance's answer -> at most one segment; null when Azure failed to recognise. */
export function shortPiece(result: ShortResult, startSeconds: number, locale: string): Piece | null {
  const piece: Piece = { segments: [], words: [], locales: [], speakers: new Set() };
  if (SILENT_STATUSES.has(result.RecognitionStatus)) return piece;
  if (result.RecognitionStatus !== 'Success') return null;
  const best = result.NBest?.[0];
  const text = (best?.Display ?? result.DisplayText ?? '').trim();
  if (text === '') return piece;
  const offset = (result.Offset ?? 0) / TICKS_PER_SECOND;
  const duration = (result.Duration ?? 0) / TICKS_PER_SECOND;
  const segment: Segment = { start: at(startSeconds, offset), end: at(startSeconds, offset + duration), text };
  if (best?.Confidence !== undefined) segment.confidence = unit(best.Confidence);
  piece.segments.push(segment);
  for (const w of best?.Words ?? []) {
    const word: Word = { word: w.Word, start: at(startSeconds, w.Offset / TICKS_PER_SECOND), end: at(startSeconds, (w.Offset + w.Duration) / TICKS_PER_SECOND) };
    // Azure reports 0 where it computes no word confidence (e.g. with pronunciation assessment).
    if (w.Confidence !== undefined && w.Confidence > 0) word.confidence = unit(w.Confidence);
    piece.words.push(word);
  }
  piece.locales.push(locale);
  return piece;
}

function at(startSeconds: number, offsetSeconds: number): number {
  return round(startSeconds + offsetSeconds);
}

function unit(n: number): number {
  return round(Math.min(1, Math.max(0, n)));
}

export function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
