import type { Config } from '../config/index.js';
import { AppError } from '../errors.js';
import { issueError, LOGPROBS_INCLUDE, RealtimeEventError, transcriptionSessionSchema, type TranscriptionSessionUpdate } from './realtime-events.js';
import { vadFieldOverrides } from './vad-fields.js';

/** OpenAI's one PCM rate; hark also takes 16 kHz (its own rate, no resampling) when the session says so. */
export const REALTIME_RATES = [24_000, 16_000] as const;

/** A transcription session's effective configuration (what `session.updated` reports). */
export interface RealtimeSettings {
  /** Of the client's `audio/pcm`. */
  rate: (typeof REALTIME_RATES)[number];
  /** As the client named it; undefined: the server's default engine. */
  model: string | undefined;
  language: string | undefined;
  prompt: string | undefined;
  /** server_vad's parameters, or null: turn detection off (the client commits). */
  turn: { threshold: number; prefix_padding_ms: number; silence_duration_ms: number } | null;
  logprobs: boolean;
}

/** A new session: 24 kHz PCM, the default engine, server VAD on the server's settings (VAD_THRESHOLD, VAD_SPEECH_PAD_MS, STREAM_SILENCE_SECONDS). */
export function defaultSettings(config: Config): RealtimeSettings {
  return { rate: 24_000, model: undefined, language: undefined, prompt: undefined, turn: serverVad(config, {}), logprobs: false };
}

const INPUT = 'session.audio.input';

/**
 * A `session.update` applied to `current`: a field present replaces the one
 * before (`turn_detection: null` turns detection off; an object given, such as
 * `transcription`, replaces the whole object). Throws a RealtimeEventError for
 * a field hark refuses; `warnings` name fields it takes but cannot honour
 * (noise reduction, delay).
 */
export function applySessionUpdate(current: RealtimeSettings, raw: Record<string, unknown>, config: Config): { settings: RealtimeSettings; warnings: RealtimeEventError[] } {
  if (raw['type'] === undefined) throw new RealtimeEventError('missing_required_parameter', "Missing required parameter: 'session.type'.", 'session.type');
  if (raw['type'] !== 'transcription') {
    throw new RealtimeEventError(
      'invalid_value',
      `Invalid value: '${String(raw['type']).slice(0, 64)}'. hark serves transcription sessions only: set session.type to 'transcription'.`,
      'session.type',
    );
  }
  const parsed = transcriptionSessionSchema.safeParse(raw);
  if (!parsed.success) throw issueError(parsed.error.issues[0]!, 'session');
  const input = parsed.data.audio?.input;
  const settings = { ...current };
  const warnings: RealtimeEventError[] = [];
  if (input?.format !== undefined) settings.rate = formatRate(input.format);
  if (input?.transcription !== undefined) {
    const t = input.transcription;
    settings.model = t.model;
    settings.language = t.language;
    settings.prompt = t.prompt;
    if (t.delay !== undefined) warnings.push(ignored(`${INPUT}.transcription.delay`, 'hark sends each partial as soon as the engine has it'));
  }
  if (input?.turn_detection !== undefined) settings.turn = input.turn_detection === null ? null : turnDetection(config, input.turn_detection);
  if (input?.noise_reduction !== undefined && input.noise_reduction !== null) {
    warnings.push(ignored(`${INPUT}.noise_reduction`, 'hark does not filter the audio (the session reports noise_reduction: null)'));
  }
  if (parsed.data.include !== undefined) settings.logprobs = parsed.data.include.includes(LOGPROBS_INCLUDE);
  return { settings, warnings };
}

/** The `session` object of `session.created` and `session.updated`. */
export function sessionObject(s: RealtimeSettings, meta: { id: string; expiresAt: number; model: string }): Record<string, unknown> {
  return {
    type: 'transcription',
    id: meta.id,
    object: 'realtime.transcription_session',
    expires_at: meta.expiresAt,
    include: s.logprobs ? [LOGPROBS_INCLUDE] : [],
    audio: {
      input: {
        format: { type: 'audio/pcm', rate: s.rate },
        noise_reduction: null,
        transcription: { model: meta.model, ...(s.language === undefined ? {} : { language: s.language }), ...(s.prompt === undefined ? {} : { prompt: s.prompt }) },
        turn_detection: s.turn === null ? null : { type: 'server_vad', ...s.turn },
      },
    },
  };
}

type Input = NonNullable<NonNullable<TranscriptionSessionUpdate['audio']>['input']>;

function formatRate(format: NonNullable<Input['format']>): RealtimeSettings['rate'] {
  if (format.type !== 'audio/pcm') {
    throw new RealtimeEventError('invalid_value', `Invalid value: '${format.type}'. hark takes 'audio/pcm' (16-bit little-endian mono, 24000 Hz, or 16000 Hz).`, `${INPUT}.format.type`);
  }
  const rate = format.rate ?? 24_000;
  const known = REALTIME_RATES.find((r) => r === rate);
  if (known === undefined) {
    throw new RealtimeEventError('invalid_value', `Invalid value: ${rate}. audio/pcm is 24000 Hz (OpenAI's rate) or 16000 Hz (hark's own).`, `${INPUT}.format.rate`);
  }
  return known;
}

function turnDetection(config: Config, t: NonNullable<Input['turn_detection']>): NonNullable<RealtimeSettings['turn']> {
  const param = `${INPUT}.turn_detection`;
  if (t.type === 'semantic_vad') {
    throw new RealtimeEventError('invalid_value', "Invalid value: 'semantic_vad'. hark's turn detection is 'server_vad' (its voice activity detector), or null.", `${param}.type`);
  }
  if (t.idle_timeout_ms !== undefined && t.idle_timeout_ms !== null) {
    throw new RealtimeEventError('invalid_value', 'idle_timeout_ms is not supported: a transcription session has no responses to prompt for (send null or leave it out)', `${param}.idle_timeout_ms`);
  }
  return serverVad(config, t);
}

/** server_vad's parameters, each checked against its server setting's bounds; absent ones are the server's. */
function serverVad(config: Config, t: { threshold?: number | undefined; prefix_padding_ms?: number | undefined; silence_duration_ms?: number | undefined }): NonNullable<RealtimeSettings['turn']> {
  const fields = [
    ['threshold', 'vad_threshold', t.threshold],
    ['prefix_padding_ms', 'vad_speech_pad_ms', t.prefix_padding_ms],
    ['silence_duration_ms', 'vad_min_silence_ms', t.silence_duration_ms],
  ] as const;
  for (const [name, field, value] of fields) {
    try {
      vadFieldOverrides({ [field]: value === undefined ? undefined : String(value) });
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      throw new RealtimeEventError('invalid_value', `Invalid value for '${name}': ${err.message.replace(/^invalid field "[^"]*": /, '')}`, `${INPUT}.turn_detection.${name}`);
    }
  }
  return {
    threshold: t.threshold ?? config.VAD_THRESHOLD,
    prefix_padding_ms: t.prefix_padding_ms ?? config.VAD_SPEECH_PAD_MS,
    silence_duration_ms: t.silence_duration_ms ?? Math.round(config.STREAM_SILENCE_SECONDS * 1000),
  };
}

function ignored(param: string, why: string): RealtimeEventError {
  return new RealtimeEventError('parameter_ignored', `${param} is not supported and is ignored: ${why}. The session goes on.`, param);
}
