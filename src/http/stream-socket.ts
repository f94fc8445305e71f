import { z } from 'zod';
import { parseStreamEncoding, STREAM_ENCODINGS } from '../audio/index.js';
import type { Config } from '../config/index.js';
import type { Isolation } from '../engines/index.js';
import { AppError, toSerializedError, type ErrorCode, type SerializedError } from '../errors.js';
import type { Logger } from '../logger.js';
import { LiveStream, type StreamObserver, type StreamPlace, type TranscriptionService } from '../transcription/index.js';
import { requestVad, vadFieldOverrides } from './vad-fields.js';

/** The socket as the adapter needs it (a `ws` WebSocket fits). */
export interface StreamSocket {
  send(data: string): void;
  close(code: number, reason?: string): void;
}

/** The first message of hark's live protocol (docs/streaming.md). */
export const streamConfigSchema = z
  .object({
    type: z.literal('config').optional(),
    sample_rate: z.number().int().min(8000).max(192_000).optional(),
    encoding: z.string().max(64).default('pcm_s16le'),
    language: z.string().max(16).optional(),
    engine: z.string().max(64).optional(),
    model: z.string().max(64).optional(),
    // The VAD for this stream (docs/streaming.md); each checked against its server setting's bounds.
    vad: z.string().max(32).optional(),
    vad_threshold: z.number().optional(),
    vad_min_silence_ms: z.number().optional(),
    vad_speech_pad_ms: z.number().optional(),
  })
  .strict();

/** WebSocket close codes (RFC 6455 section 7.4.1). */
const CLOSE = { normal: 1000, unsupported: 1003, invalidPayload: 1007, policy: 1008, tooBig: 1009, internal: 1011, tryLater: 1013 } as const;

const WS_CODE: Partial<Record<ErrorCode, number>> = {
  INVALID_REQUEST: CLOSE.policy,
  UNSUPPORTED_MEDIA_TYPE: CLOSE.unsupported,
  MODEL_NOT_FOUND: CLOSE.policy,
  UNSUPPORTED_LANGUAGE: CLOSE.policy,
  INVALID_AUDIO: CLOSE.invalidPayload,
  FRAME_TOO_LARGE: CLOSE.tooBig,
  STREAM_TOO_FAST: CLOSE.policy,
  STREAM_IDLE_TIMEOUT: CLOSE.policy,
  STREAM_TOO_LONG: CLOSE.policy,
  QUOTA_EXCEEDED: CLOSE.policy,
  RATE_LIMITED: CLOSE.policy,
  AT_CAPACITY: CLOSE.tryLater,
  ENGINE_NOT_READY: CLOSE.tryLater,
  PROCESS_ISOLATION_DISABLED: CLOSE.tryLater,
  SHUTTING_DOWN: CLOSE.tryLater,
};

/** The close code that goes with an error message (1011 for what the table does not name: the server's fault). */
export function closeCodeFor(code: ErrorCode): number {
  return WS_CODE[code] ?? CLOSE.internal;
}

/** Refuses a socket that has no session yet: the error message, then the close code that goes with it. */
export function refuseSocket(socket: StreamSocket, err: unknown): void {
  const e = toSerializedError(err);
  socket.send(JSON.stringify({ type: 'error', code: e.code, message: e.message }));
  socket.close(closeCodeFor(e.code), e.code);
}

/**
 * @fastify/websocket's handler for errors on an open socket. What `ws` reports
 * (a frame over maxPayload, a broken RFC 6455 frame, text that is not UTF-8;
 * codes `WS_ERR_*`) is the client's doing: `ws` has already sent the close
 * code, so it is one warning, without a stack (issue 18: a client could fill
 * the error log at will). Anything else is ours and logged as an error.
 */
export function socketErrorHandler(error: Error, socket: { terminate(): void }, request: { log: Pick<Logger, 'warn' | 'error'> }): void {
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && code.startsWith('WS_ERR_')) request.log.warn({ code, message: error.message }, 'websocket: closed a client that broke the protocol');
  else request.log.error({ err: error }, 'websocket: socket error');
  socket.terminate();
}

export interface StreamSocketDeps {
  config: Config;
  service: TranscriptionService;
  logger: Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;
  observer?: StreamObserver | undefined;
  /** The stream's place among MAX_STREAMS, taken at the upgrade; released when the session ends. */
  place: StreamPlace;
  /** `?isolation=` of the upgrade request, if any. */
  isolation?: Isolation | undefined;
  /** The key's audio hours (charged by the live stream as it goes, checked after each charge). */
  usage?: { check(audioSeconds: number): Promise<void>; charge(audioSeconds: number): Promise<void> } | undefined;
}

/**
 * hark's WebSocket protocol around a LiveStream: the JSON config, binary audio
 * frames, `{"type":"end"}`; `ready`, `partial`, `final`, `speech_started`,
 * `speech_stopped`, `done` and `error` messages back, each error with its
 * close code. Also the clocks: a socket
 * on which nothing arrives for STREAM_IDLE_TIMEOUT_SECONDS is closed, and one
 * open for STREAM_MAX_DURATION_SECONDS (since the upgrade, however busy) gets
 * its last finals and STREAM_TOO_LONG.
 */
export class StreamSocketSession {
  private state: 'config' | 'streaming' | 'ending' | 'closed' = 'config';
  private live: LiveStream | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private readonly lifeTimer: NodeJS.Timeout;

  constructor(
    private readonly deps: StreamSocketDeps,
    private readonly socket: StreamSocket,
  ) {
    this.armIdle();
    const seconds = deps.config.STREAM_MAX_DURATION_SECONDS;
    this.lifeTimer = setTimeout(() => this.tooLong(seconds), seconds * 1000);
    this.lifeTimer.unref();
  }

  /** A frame from the client. */
  onMessage(data: Buffer, isBinary: boolean): void {
    // After `end` the server has the turn: nothing the client sends counts, and no idle clock runs.
    if (this.state === 'closed' || this.state === 'ending') return;
    this.armIdle();
    if (this.state === 'config') {
      if (isBinary) return this.fail(new AppError('INVALID_REQUEST', 'the first message must be the JSON config, e.g. {"sample_rate":16000,"encoding":"pcm_s16le"}'));
      return this.configure(data.toString('utf8'));
    }
    if (isBinary) return this.live?.write(data);
    let msg: unknown;
    try {
      msg = JSON.parse(data.toString('utf8'));
    } catch {
      msg = undefined;
    }
    if (typeof msg !== 'object' || msg === null || (msg as { type?: unknown }).type !== 'end') {
      return this.fail(new AppError('INVALID_REQUEST', 'after the config, send binary audio frames, then {"type":"end"}'));
    }
    this.state = 'ending';
    clearTimeout(this.idleTimer);
    this.live?.end();
  }

  /** STREAM_MAX_DURATION_SECONDS passed: a trickle of audio keeps a stream from idling, not from ending. */
  private tooLong(seconds: number): void {
    const err = new AppError(
      'STREAM_TOO_LONG',
      `the stream has been open for ${seconds} s, the most a live stream may (STREAM_MAX_DURATION_SECONDS); open a new one to go on`,
    );
    if (this.state === 'config') return this.fail(err);
    if (this.state !== 'streaming') return; // after `end` the last finals are on their way
    this.state = 'ending';
    clearTimeout(this.idleTimer);
    this.live?.stop(err);
  }

  /** The connection went away (by either side). */
  onClose(): void {
    if (this.state === 'closed') return;
    if (this.live !== undefined) this.live.close();
    this.end();
  }

  private configure(text: string): void {
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      return this.fail(new AppError('INVALID_REQUEST', 'the config message is not JSON'));
    }
    const parsed = streamConfigSchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return this.fail(new AppError('INVALID_REQUEST', `invalid config: ${issue?.path.join('.') || 'message'}: ${issue?.message ?? 'invalid'}`));
    }
    const cfg = parsed.data;
    const encoding = parseStreamEncoding(cfg.encoding);
    if (encoding === undefined) {
      return this.fail(new AppError('UNSUPPORTED_MEDIA_TYPE', `unknown encoding "${cfg.encoding}"; use one of ${STREAM_ENCODINGS.join(', ')}`));
    }
    let plan;
    let vad;
    try {
      const overrides = vadFieldOverrides({
        vad: cfg.vad,
        vad_threshold: cfg.vad_threshold?.toString(),
        vad_min_silence_ms: cfg.vad_min_silence_ms?.toString(),
        vad_speech_pad_ms: cfg.vad_speech_pad_ms?.toString(),
      });
      // A stream's pause is STREAM_SILENCE_SECONDS, not the file setting VAD_MIN_SILENCE_MS: only the stream's own field changes it.
      vad = { settings: requestVad(this.deps.config, overrides), silenceSeconds: overrides.minSilenceMs === undefined ? undefined : overrides.minSilenceMs / 1000 };
      plan = this.deps.place.plan({ engine: cfg.engine ?? cfg.model, isolation: this.deps.isolation });
    } catch (err) {
      return this.fail(err);
    }
    this.state = 'streaming';
    this.live = new LiveStream(
      { config: this.deps.config, service: this.deps.service, plan, logger: this.deps.logger, observer: this.deps.observer, usage: this.deps.usage },
      { encoding, sampleRate: cfg.sample_rate ?? 16_000, language: cfg.language, vad: vad.settings, silenceSeconds: vad.silenceSeconds },
      {
        onReady: ({ engine, isolation, sampleRate }) => this.send({ type: 'ready', engine, isolation, sample_rate: sampleRate }),
        onPartial: (text) => this.send({ type: 'partial', text }),
        onFinal: (final) => this.send({ type: 'final', ...final }),
        onSpeech: ({ type, time }) => this.send({ type, time }),
        onDone: ({ audioSeconds }) => {
          this.send({ type: 'done', audio_seconds: audioSeconds });
          this.socket.close(CLOSE.normal, 'done');
          this.end();
        },
        onError: (e) => this.sendError(e),
      },
    );
  }

  private send(message: Record<string, unknown>): void {
    try {
      this.socket.send(JSON.stringify(message));
    } catch {
      // The socket is closing; onClose cleans up.
    }
  }

  /** An error of the protocol itself (before or around the live stream): told, closed, let go. */
  private fail(err: unknown): void {
    if (this.state === 'closed') return;
    if (this.live !== undefined) return this.live.fail(err); // it reports through onError
    const e = toSerializedError(err);
    if (e.code === 'INTERNAL_ERROR') this.deps.logger.error({ err }, 'stream failed');
    else this.deps.logger.info({ code: e.code, message: e.message }, 'stream ended with an error');
    this.sendError(e);
  }

  private sendError(e: SerializedError): void {
    if (this.state === 'closed') return;
    this.send({ type: 'error', code: e.code, message: e.message, ...(e.details === undefined ? {} : { details: e.details }) });
    this.socket.close(closeCodeFor(e.code), e.code);
    this.end();
  }

  /** The session is over: its place (and engine slot) go back once the live stream has let its engine go. */
  private end(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    clearTimeout(this.idleTimer);
    clearTimeout(this.lifeTimer);
    const place = this.deps.place;
    if (this.live === undefined) place.release();
    else void this.live.finished.finally(() => place.release());
  }

  private armIdle(): void {
    clearTimeout(this.idleTimer);
    const seconds = this.deps.config.STREAM_IDLE_TIMEOUT_SECONDS;
    this.idleTimer = setTimeout(() => this.fail(new AppError('STREAM_IDLE_TIMEOUT', `nothing arrived for ${seconds} s (STREAM_IDLE_TIMEOUT_SECONDS)`)), seconds * 1000);
    this.idleTimer.unref();
  }
}
