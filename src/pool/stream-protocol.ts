import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { ENGINE_NAMES } from '../config/index.js';
import { wordSchema, type StreamFinal } from '../engines/index.js';
import { VAD_KINDS, type SpeechEvent, type VadSettings } from '../vad/index.js';

/**
 * The live-stream messages of the IPC protocol (joined into the unions in
 * protocol.ts). Unlike a task, a stream's audio crosses the channel: it arrives
 * as it is spoken (32 KB/s of PCM), so there is no file to point at. Each
 * `stream-audio` is answered by `stream-written` once decoded: that answer is
 * the server's backpressure. The channel uses V8 serialization (worker-process.ts), so
 * the samples cross as bytes: no base64, no JSON. A stream ends with `stream-ended` (after
 * `stream-end` or `stream-abort`) or an `error`; either way the worker is free.
 */

/** VAD settings as a message carries them (the VAD runs in the worker, where the engine runs). */
export const vadSettingsSchema = z.object({
  kind: z.enum(VAD_KINDS),
  threshold: z.number(),
  minSilenceMs: z.number(),
  speechPadMs: z.number(),
  minSpeechMs: z.number(),
}) satisfies z.ZodType<VadSettings>;

export const streamStartSchema = z.object({
  type: z.literal('stream-start'),
  id: z.string(),
  engine: z.enum(ENGINE_NAMES),
  options: z.object({
    language: z.string().optional(),
    prompt: z.string().optional(),
    silenceSeconds: z.number().positive(),
    utteranceMaxSeconds: z.number().positive(),
    vad: vadSettingsSchema.optional(),
    model: z.string().optional(),
  }),
});

/** Server -> worker. */
export const streamToWorkerSchemas = [
  streamStartSchema,
  /** 16 kHz mono 16-bit samples; arrives as a fresh, aligned Int16Array of its own. */
  z.object({ type: z.literal('stream-audio'), id: z.string(), pcm: z.custom<Int16Array>((v) => v instanceof Int16Array, { error: 'expected 16-bit samples (an Int16Array)' }) }),
  z.object({ type: z.literal('stream-end'), id: z.string() }),
  z.object({ type: z.literal('stream-abort'), id: z.string() }),
] as const;

const streamFinalSchema = z.object({
  text: z.string(),
  start: z.number(),
  end: z.number(),
  words: z.array(wordSchema),
}) satisfies z.ZodType<StreamFinal>;

/** Worker -> server. Errors travel in the protocol's `error` message, with the stream's id. */
export const streamFromWorkerSchemas = [
  /** The engine accepted the stream (language, model): `openStream` resolves. */
  z.object({ type: z.literal('stream-started'), id: z.string() }),
  z.object({ type: z.literal('stream-partial'), id: z.string(), text: z.string() }),
  /** The last partial still stands after more audio was searched. */
  z.object({ type: z.literal('stream-partial-held'), id: z.string() }),
  z.object({ type: z.literal('stream-final'), id: z.string(), final: streamFinalSchema }),
  /** Speech began or ended (the VAD's events, audio time), in order with partials and finals. */
  z.object({
    type: z.literal('stream-speech'),
    id: z.string(),
    event: z.object({ type: z.enum(['speech_started', 'speech_stopped']), time: z.number() }) satisfies z.ZodType<SpeechEvent>,
  }),
  z.object({ type: z.literal('stream-written'), id: z.string() }),
  z.object({ type: z.literal('stream-ended'), id: z.string() }),
] as const;

export type StreamToWorker = z.infer<(typeof streamToWorkerSchemas)[number]>;
export type StreamStart = z.infer<typeof streamStartSchema>;
export type StreamFromWorker = z.infer<(typeof streamFromWorkerSchemas)[number]>;

/**
 * A worker's scratch space for streams (buffered utterances as PCM files). Its
 * own folder, outside DATA_DIR/tmp, so the server's upload accounting never
 * sees it; the server removes it when the worker exits, however it exits.
 */
export function workerScratchDir(pid: number): string {
  return join(tmpdir(), `hark-worker-${pid}`);
}
