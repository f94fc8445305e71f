import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Word } from '../engines/index.js';
import type { SerializedError } from '../errors.js';
import { ERROR_STATUS } from './error-status.js';

/**
 * The OpenAI Realtime API's transcription session as hark speaks it
 * (docs/streaming.md, "OpenAI Realtime API"): the client events it takes,
 * checked with zod, and the server events it sends. Names follow the `openai`
 * package's types (resources/realtime/realtime.d.ts).
 */

/** The `include` entry that asks for log probabilities on completed transcripts. */
export const LOGPROBS_INCLUDE = 'item.input_audio_transcription.logprobs';

/** The client events of a transcription session; any other OpenAI event type is refused by name. */
export const CLIENT_EVENT_TYPES = ['session.update', 'input_audio_buffer.append', 'input_audio_buffer.commit', 'input_audio_buffer.clear'] as const;

/** OpenAI's other client events: a conversation session's, which a transcription session has no use for. */
const CONVERSATION_EVENT_TYPES = [
  'conversation.item.create',
  'conversation.item.delete',
  'conversation.item.retrieve',
  'conversation.item.truncate',
  'output_audio_buffer.clear',
  'response.cancel',
  'response.create',
  'transcription_session.update',
];

const eventId = z.string().max(512).optional();

export const appendEventSchema = z.object({ type: z.literal('input_audio_buffer.append'), event_id: eventId, audio: z.string() }).strict();
export const bufferEventSchema = z.object({ type: z.enum(['input_audio_buffer.commit', 'input_audio_buffer.clear']), event_id: eventId }).strict();
export const sessionUpdateEventSchema = z.object({ type: z.literal('session.update'), event_id: eventId, session: z.record(z.string(), z.unknown()) }).strict();

const turnDetectionSchema = z
  .object({
    type: z.enum(['server_vad', 'semantic_vad']),
    threshold: z.number().min(0).max(1).optional(),
    prefix_padding_ms: z.number().int().min(0).optional(),
    silence_duration_ms: z.number().int().min(0).optional(),
    // About responses, which a transcription session has none of: accepted, with nothing to do.
    create_response: z.boolean().optional(),
    interrupt_response: z.boolean().optional(),
    idle_timeout_ms: z.number().int().nullable().optional(),
    eagerness: z.enum(['low', 'medium', 'high', 'auto']).optional(),
  })
  .strict();

/** `session` of a `session.update` whose `type` is `transcription`. */
export const transcriptionSessionSchema = z
  .object({
    type: z.literal('transcription'),
    audio: z
      .object({
        input: z
          .object({
            format: z.object({ type: z.enum(['audio/pcm', 'audio/pcmu', 'audio/pcma']), rate: z.number().optional() }).strict().optional(),
            noise_reduction: z.object({ type: z.enum(['near_field', 'far_field']).optional() }).strict().nullable().optional(),
            transcription: z
              .object({
                model: z.string().max(128).optional(),
                language: z.string().max(16).optional(),
                prompt: z.string().max(4096).optional(),
                delay: z.enum(['minimal', 'low', 'medium', 'high', 'xhigh']).optional(),
              })
              .strict()
              .optional(),
            turn_detection: turnDetectionSchema.nullable().optional(),
          })
          .strict()
          .optional(),
      })
      .strict()
      .optional(),
    include: z.array(z.literal(LOGPROBS_INCLUDE)).optional(),
  })
  .strict();
export type TranscriptionSessionUpdate = z.infer<typeof transcriptionSessionSchema>;

/** OpenAI's `error.error`: what went wrong, in the terms of the client's event. */
export interface RealtimeError {
  type: string;
  code: string | null;
  message: string;
  param: string | null;
  event_id: string | null;
}

/** A refusal of one client event; the session goes on (OpenAI: "most errors are recoverable"). */
export class RealtimeEventError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly param: string | null = null,
  ) {
    super(message);
  }
}

/** A zod issue as OpenAI words it: unknown_parameter, missing_required_parameter, invalid_type or invalid_value. */
export function issueError(issue: z.core.$ZodIssue, prefix: string): RealtimeEventError {
  const at = [prefix, ...issue.path.map(String)].filter((p) => p !== '').join('.');
  if (issue.code === 'unrecognized_keys') {
    const param = [at, issue.keys[0]].filter((p) => p !== '').join('.');
    return new RealtimeEventError('unknown_parameter', `Unknown parameter: '${param}'.`, param);
  }
  if (issue.code === 'invalid_type' && / received undefined$/.test(issue.message)) {
    return new RealtimeEventError('missing_required_parameter', `Missing required parameter: '${at}'.`, at);
  }
  if (issue.code === 'invalid_type') return new RealtimeEventError('invalid_type', `Invalid type for '${at}': ${issue.message}.`, at);
  return new RealtimeEventError('invalid_value', `Invalid value for '${at}': ${issue.message}.`, at);
}

/** Refuses an event type this session does not take, naming what it does take. */
export function unsupportedEventType(type: string): RealtimeEventError {
  if (CONVERSATION_EVENT_TYPES.includes(type)) {
    return new RealtimeEventError(
      'invalid_value',
      `'${type}' is not part of a transcription session; hark serves transcription only (${CLIENT_EVENT_TYPES.join(', ')})`,
      'type',
    );
  }
  return new RealtimeEventError('invalid_value', `Invalid value: '${type.slice(0, 100)}'. Supported values are: ${CLIENT_EVENT_TYPES.map((t) => `'${t}'`).join(', ')}.`, 'type');
}

/** A fresh id in OpenAI's style (`event_…`, `item_…`, `sess_…`). */
export function realtimeId(prefix: 'event' | 'item' | 'sess'): string {
  return `${prefix}_${randomBytes(12).toString('base64url')}`;
}

/** A server event: its type, a fresh `event_id`, and its fields. */
export function serverEvent(type: string, fields: Record<string, unknown> = {}): Record<string, unknown> {
  return { type, event_id: realtimeId('event'), ...fields };
}

/** The `error` event for a refused client event. */
export function eventErrorEvent(err: RealtimeEventError, clientEventId: string | undefined, type = 'invalid_request_error'): Record<string, unknown> {
  const error: RealtimeError = { type, code: err.code, message: err.message, param: err.param, event_id: clientEventId ?? null };
  return serverEvent('error', { error });
}

/**
 * The `error` event for one of hark's own errors (a full server, a worker
 * crash, a stream past its limits): hark's code, typed `server_error` when
 * the fault is the server's (a 5xx), else `invalid_request_error`.
 */
export function appErrorEvent(e: SerializedError): Record<string, unknown> {
  const error: RealtimeError = {
    type: ERROR_STATUS[e.code] >= 500 ? 'server_error' : 'invalid_request_error',
    code: e.code,
    message: e.message,
    param: null,
    event_id: null,
  };
  return serverEvent('error', { error });
}

/** OpenAI's `logprobs` entries from an engine's word confidences (one entry per word); null when the engine gives none. */
export function wordLogprobs(words: readonly Word[]): { token: string; bytes: number[]; logprob: number }[] | null {
  const scored = words.filter((w) => w.confidence !== undefined);
  if (scored.length === 0) return null;
  return scored.map((w, i) => {
    const token = i === 0 ? w.word : ` ${w.word}`;
    // A posterior rounded to 0 is below 0.0005, not impossible: its log stays finite.
    const logprob = Math.round(Math.log(Math.max(w.confidence ?? 0, 1e-4)) * 1e4) / 1e4;
    return { token, bytes: [...Buffer.from(token, 'utf8')], logprob };
  });
}

/** Standard base64 (padding optional), the only alphabet `input_audio_buffer.append` takes. */
export function isBase64(text: string): boolean {
  return text.length % 4 !== 1 && /^[A-Za-z0-9+/]*={0,2}$/.test(text);
}
