import { z } from 'zod';
import type { Utterance } from '../../audio/index.js';
import { speakerLetter } from '../../diarization/types.js';
import type { Segment, Word } from '../types.js';
import { languageCode } from './languages.js';

/**
 * What hark reads of an upstream's answer: OpenAI's `json` (`text` only) or
 * `verbose_json` (plus `language`, `segments`, `words`). Other fields (usage,
 * tokens, logprobs) are ignored; servers differ in which of them they send.
 */
const answerSchema = z.object({
  text: z.string(),
  language: z.string().nullish(),
  segments: z
    .array(z.object({ start: z.number(), end: z.number(), text: z.string(), avg_logprob: z.number().nullish() }))
    .nullish(),
  words: z.array(z.object({ word: z.string(), start: z.number(), end: z.number() })).nullish(),
});

export type UpstreamAnswer = z.infer<typeof answerSchema>;

/** OpenAI's `diarized_json` (`TranscriptionDiarized`): what hark reads of it. */
const diarizedSchema = z.object({
  text: z.string(),
  segments: z.array(z.object({ start: z.number(), end: z.number(), text: z.string(), speaker: z.string() })),
});

export type DiarizedAnswer = z.infer<typeof diarizedSchema>;

/** The answer if it is a diarized transcription, else undefined. */
export function parseDiarized(body: unknown): DiarizedAnswer | undefined {
  const parsed = diarizedSchema.safeParse(body);
  return parsed.success ? parsed.data : undefined;
}

/**
 * A diarized answer about the whole file as hark's segments: the upstream's
 * speaker names become `A`, `B`, ... in order of first appearance, as every
 * hark transcript letters them. Returns the segments and how many speakers.
 */
export function diarizedSegments(answer: DiarizedAnswer, duration: number): { segments: Segment[]; speakers: number } {
  const letters = new Map<string, string>();
  const at = (t: number) => round(Math.min(duration, Math.max(0, t)));
  const segments: Segment[] = [];
  for (const s of answer.segments) {
    const text = s.text.trim();
    if (text === '') continue;
    if (!letters.has(s.speaker)) letters.set(s.speaker, speakerLetter(letters.size));
    segments.push({ start: at(s.start), end: at(s.end), text, speaker: letters.get(s.speaker)! });
  }
  return { segments, speakers: letters.size };
}

/** The answer if it is a transcription (an object with `text`), else undefined. */
export function parseAnswer(body: unknown): UpstreamAnswer | undefined {
  const parsed = answerSchema.safeParse(body);
  return parsed.success ? parsed.data : undefined;
}

/** One utterance's share of the transcript, in file time. */
export interface PlacedAnswer {
  text: string;
  language: string | undefined;
  segments: Segment[];
  words: Word[];
}

/**
 * Moves an answer about one utterance to file time: its times count from the
 * start of the utterance's WAV, so each is offset by the utterance start (and
 * kept inside the utterance, as Whisper's last segment sometimes runs past the
 * audio). An answer without segments (`json`) becomes one segment spanning
 * the utterance.
 */
export function placeAnswer(answer: UpstreamAnswer, utt: Pick<Utterance, 'start' | 'end'>): PlacedAnswer {
  const span = utt.end - utt.start;
  const at = (t: number) => round(utt.start + Math.min(span, Math.max(0, t)));
  const text = answer.text.trim();
  const segments: Segment[] = [];
  for (const s of answer.segments ?? []) {
    const segText = s.text.trim();
    if (segText === '') continue;
    const seg: Segment = { start: at(s.start), end: at(s.end), text: segText };
    // exp(mean token log-probability) is the geometric mean token probability: a 0-1
    // figure, and the inverse of what hark itself puts in avg_logprob.
    if (s.avg_logprob != null && Number.isFinite(s.avg_logprob)) seg.confidence = round(Math.min(1, Math.exp(s.avg_logprob)));
    segments.push(seg);
  }
  if (segments.length === 0 && text !== '') segments.push({ start: round(utt.start), end: round(utt.end), text });
  const words: Word[] = (answer.words ?? [])
    .map((w) => ({ start: at(w.start), end: at(w.end), word: w.word.trim() }))
    .filter((w) => w.word !== '');
  return { text, language: answer.language ? languageCode(answer.language) : undefined, segments, words };
}

/** Mean segment confidence weighted by words per segment; null when the upstream gave none. */
export function transcriptConfidence(segments: readonly Segment[]): number | null {
  let sum = 0;
  let weight = 0;
  for (const s of segments) {
    if (s.confidence === undefined) continue;
    const n = s.text.split(/\s+/).filter(Boolean).length;
    sum += s.confidence * n;
    weight += n;
  }
  return weight === 0 ? null : round(sum / weight);
}

export function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
