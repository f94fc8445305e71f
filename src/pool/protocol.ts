import { z } from 'zod';
import { ENGINE_NAMES } from '../config/index.js';
import { MAX_SPEAKERS } from '../diarization/types.js';
import { engineStatusSchema, segmentSchema, transcriptSchema } from '../engines/index.js';
import { ERROR_CODES } from '../errors.js';
import { streamFromWorkerSchemas, streamToWorkerSchemas, vadSettingsSchema } from './stream-protocol.js';

/**
 * The IPC protocol between the server and a worker: a few typed messages,
 * validated at both ends. A task's audio crosses as a path to decoded PCM on
 * disk, never as bytes, so a long file costs the channel nothing; only live
 * streams send audio itself (stream-protocol.ts).
 */

/** A request's diarization (src/diarization/types.ts DiarizeRequest), as a task carries it. */
const speakerCount = z.number().int().min(1).max(MAX_SPEAKERS).optional();
const diarizeRequestSchema = z.object({ numSpeakers: speakerCount, minSpeakers: speakerCount, maxSpeakers: speakerCount });
/** Decoded PCM on disk (src/audio/decode.ts PcmAudio): the task's audio, and each known speaker's reference clip. */
const pcmAudioSchema = z.object({ path: z.string(), samples: z.number().int().nonnegative(), durationSeconds: z.number().nonnegative() });
const knownSpeakerSchema = z.object({ name: z.string(), audio: pcmAudioSchema });

const serializedErrorSchema = z.object({
  code: z.enum(ERROR_CODES),
  message: z.string(),
  details: z.record(z.string(), z.unknown()).optional(),
});

export const taskMessageSchema = z.object({
  type: z.literal('task'),
  id: z.string(),
  audio: pcmAudioSchema,
  engine: z.enum(ENGINE_NAMES),
  options: z.object({ language: z.string().optional(), prompt: z.string().optional(), vad: vadSettingsSchema.optional(), diarize: diarizeRequestSchema.optional(),
    knownSpeakers: z.array(knownSpeakerSchema).optional(),
    task: z.enum(['transcribe', 'translate', 'diarize']).optional(),
    model: z.string().optional(),
  }),
});

/** Server -> worker. */
export const toWorkerSchema = z.discriminatedUnion('type', [
  taskMessageSchema,
  z.object({ type: z.literal('shutdown') }),
  /** Unload model `id` (its file is being deleted): now if idle, after the decode using it otherwise. */
  z.object({ type: z.literal('evict-model'), model: z.string() }),
  ...streamToWorkerSchemas,
]);

/** A model loaded into or unloaded from the worker (src/models/cache.ts ModelEvent): the pool routes by what each worker holds. */
export const modelEventSchema = z.discriminatedUnion('event', [
  z.object({ type: z.literal('model'), event: z.literal('loaded'), model: z.string(), bytes: z.number(), loadMs: z.number() }),
  z.object({ type: z.literal('model'), event: z.literal('resized'), model: z.string(), bytes: z.number() }),
  z.object({ type: z.literal('model'), event: z.literal('unloaded'), model: z.string(), bytes: z.number(), reason: z.enum(['idle', 'memory', 'deleted', 'shutdown']) }),
]);

/** Worker -> server. */
export const fromWorkerSchema = z.discriminatedUnion('type', [
  modelEventSchema,
  z.object({ type: z.literal('ready'), pid: z.number().int(), loadMs: z.number(), engines: z.array(engineStatusSchema) }),
  z.object({ type: z.literal('startup-failed'), error: serializedErrorSchema }),
  z.object({
    type: z.literal('progress'),
    id: z.string(),
    fraction: z.number(),
    processedSeconds: z.number(),
    totalSeconds: z.number(),
  }),
  z.object({ type: z.literal('log'), id: z.string(), message: z.string() }),
  /** One decoded segment, in file time, sent as its utterance is done (for streamed answers). */
  z.object({ type: z.literal('segment'), id: z.string(), segment: segmentSchema }),
  z.object({ type: z.literal('result'), id: z.string(), transcript: transcriptSchema }),
  z.object({ type: z.literal('error'), id: z.string(), error: serializedErrorSchema }),
  ...streamFromWorkerSchemas,
]);

export type ToWorker = z.infer<typeof toWorkerSchema>;
export type FromWorker = z.infer<typeof fromWorkerSchema>;
export type TaskMessage = z.infer<typeof taskMessageSchema>;
export type ModelEventMessage = z.infer<typeof modelEventSchema>;

/** Environment variable that carries the worker's configuration (JSON of Config). */
export const WORKER_CONFIG_ENV = 'HARK_WORKER_CONFIG';
