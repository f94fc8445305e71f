import { z } from 'zod';
import { configShape, VAD_KINDS, type Config } from '../config/index.js';
import { AppError } from '../errors.js';
import { vadSettingsFromConfig, type VadSettings } from '../vad/index.js';

/** What a request may change of the server's VAD settings. */
export type VadOverrides = Partial<Pick<VadSettings, 'kind' | 'threshold' | 'minSilenceMs' | 'speechPadMs'>>;

type TunedSetting = 'VAD_THRESHOLD' | 'VAD_MIN_SILENCE_MS' | 'VAD_SPEECH_PAD_MS';

/**
 * A value checked against the server setting's own rule (its bounds stay in
 * src/config/schema.ts), or undefined. The setting's default is not applied: an
 * absent or empty field leaves the server's value.
 */
function checked(key: TunedSetting, value: string | undefined, field: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  const parsed = configShape[key].safeParse(value);
  if (parsed.success) return parsed.data;
  throw new AppError('INVALID_REQUEST', `invalid field "${field}": ${parsed.error.issues[0]?.message ?? 'invalid value'} (got ${JSON.stringify(value)})`);
}

/** hark's VAD form fields (`/transcriptions*`, `/api/v1/jobs`), to extend a route's field schema with. */
export const vadFieldsShape = {
  vad: z.string().max(32).optional(),
  vad_threshold: z.string().max(32).optional(),
  vad_min_silence_ms: z.string().max(32).optional(),
  vad_speech_pad_ms: z.string().max(32).optional(),
};

/** The descriptions of hark's VAD fields, for the OpenAPI document. */
export const vadFieldDocs = {
  vad: { type: 'string', description: 'Voice activity detection for this file: silero, energy or off (default: VAD). Non-speech it finds is not decoded.', enum: VAD_KINDS },
  vad_threshold: { type: 'number', description: 'Speech probability at which speech starts, 0.05-0.95 (default: VAD_THRESHOLD).' },
  vad_min_silence_ms: { type: 'integer', description: 'The file is cut only at non-speech at least this long, 100-10000 ms (default: VAD_MIN_SILENCE_MS).' },
  vad_speech_pad_ms: { type: 'integer', description: 'Audio kept on each side of speech, 0-2000 ms (default: VAD_SPEECH_PAD_MS).' },
} as const;

function vadKind(value: string | undefined): VadSettings['kind'] | undefined {
  if (value === undefined || value === '') return undefined;
  const kind = VAD_KINDS.find((k) => k === value);
  if (kind === undefined) throw new AppError('INVALID_REQUEST', `invalid field "vad": one of ${VAD_KINDS.join(', ')}, not ${JSON.stringify(value)}`);
  return kind;
}

/** The overrides hark's VAD fields (already through `vadFieldsShape`) ask for. */
export function vadFieldOverrides(f: { vad?: string | undefined; vad_threshold?: string | undefined; vad_min_silence_ms?: string | undefined; vad_speech_pad_ms?: string | undefined }): VadOverrides {
  return {
    kind: vadKind(f.vad),
    threshold: checked('VAD_THRESHOLD', f.vad_threshold, 'vad_threshold'),
    minSilenceMs: checked('VAD_MIN_SILENCE_MS', f.vad_min_silence_ms, 'vad_min_silence_ms'),
    speechPadMs: checked('VAD_SPEECH_PAD_MS', f.vad_speech_pad_ms, 'vad_speech_pad_ms'),
  };
}

/** The server's VAD settings with a request's overrides applied (an override left undefined keeps the server's). */
export function requestVad(config: Config, overrides: VadOverrides): VadSettings {
  const server = vadSettingsFromConfig(config);
  return {
    kind: overrides.kind ?? server.kind,
    threshold: overrides.threshold ?? server.threshold,
    minSilenceMs: overrides.minSilenceMs ?? server.minSilenceMs,
    speechPadMs: overrides.speechPadMs ?? server.speechPadMs,
    minSpeechMs: server.minSpeechMs,
  };
}

const CHUNKING_KEYS = ['type', 'threshold', 'prefix_padding_ms', 'silence_duration_ms'] as const;
type ChunkingKey = (typeof CHUNKING_KEYS)[number];

/** A value of chunking_strategy's object as text, however it came (JSON number, form field). */
function asText(value: unknown, name: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value === 'string') return value;
  throw new AppError('INVALID_REQUEST', `chunking_strategy.${name} must be a number, not ${JSON.stringify(value)}`);
}

/**
 * OpenAI's `chunking_strategy` on /v1/audio/transcriptions, from the form's raw
 * fields: `auto` (the server's settings), or a server_vad object sent as a JSON
 * string (`chunking_strategy={"type":"server_vad",...}`) or as bracketed fields
 * (`chunking_strategy[type]=server_vad`, `chunking_strategy[threshold]=0.4`:
 * how the official `openai` client sends an object). `threshold`,
 * `prefix_padding_ms` (-> speech padding) and `silence_duration_ms` (-> the
 * shortest pause that cuts) override the server's; server_vad with the
 * server's VAD off runs silero. Absent: undefined. Anything else is a 400.
 */
export function chunkingStrategy(fields: Record<string, string | string[]>, serverKind: VadSettings['kind']): VadOverrides | undefined {
  const whole = fields['chunking_strategy'];
  const bracketed = Object.keys(fields).filter((k) => k.startsWith('chunking_strategy['));
  if (whole === undefined && bracketed.length === 0) return undefined;
  if (whole !== undefined && bracketed.length > 0) {
    throw new AppError('INVALID_REQUEST', 'chunking_strategy was sent both whole and as chunking_strategy[...] fields; send it one way');
  }
  let object: Record<string, unknown>;
  if (whole !== undefined) {
    if (Array.isArray(whole)) throw new AppError('INVALID_REQUEST', `field "chunking_strategy" was sent ${whole.length} times; send it once`);
    const text = whole.trim();
    if (text === 'auto' || text === '') return {};
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new AppError('INVALID_REQUEST', `chunking_strategy must be "auto" or a JSON object such as {"type":"server_vad","threshold":0.5}, not ${JSON.stringify(text.slice(0, 100))}`);
    }
    if (parsed === 'auto') return {};
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new AppError('INVALID_REQUEST', 'chunking_strategy must be "auto" or an object with "type": "server_vad"');
    }
    object = parsed as Record<string, unknown>;
  } else {
    object = {};
    for (const key of bracketed) {
      const name = /^chunking_strategy\[([^\]]*)\]$/.exec(key)?.[1];
      const value = fields[key];
      if (name === undefined) throw new AppError('INVALID_REQUEST', `unknown field "${key}"`);
      if (Array.isArray(value)) throw new AppError('INVALID_REQUEST', `field "${key}" was sent ${value.length} times; send it once`);
      object[name] = value;
    }
  }
  const unknown = Object.keys(object).filter((k) => !(CHUNKING_KEYS as readonly string[]).includes(k));
  if (unknown.length > 0) {
    throw new AppError('INVALID_REQUEST', `chunking_strategy has no ${unknown.map((k) => `"${k}"`).join(', ')}; it takes ${CHUNKING_KEYS.join(', ')}`);
  }
  const get = (k: ChunkingKey) => asText(object[k], k);
  if (get('type') !== 'server_vad') {
    throw new AppError('INVALID_REQUEST', `chunking_strategy.type must be "server_vad", not ${JSON.stringify(object['type'] ?? null)}`);
  }
  return {
    kind: serverKind === 'off' ? 'silero' : serverKind,
    threshold: checked('VAD_THRESHOLD', get('threshold'), 'chunking_strategy.threshold'),
    speechPadMs: checked('VAD_SPEECH_PAD_MS', get('prefix_padding_ms'), 'chunking_strategy.prefix_padding_ms'),
    minSilenceMs: checked('VAD_MIN_SILENCE_MS', get('silence_duration_ms'), 'chunking_strategy.silence_duration_ms'),
  };
}
