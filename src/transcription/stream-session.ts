import { z } from 'zod';
import { parseStreamEncoding, StreamDecoder, STREAM_ENCODINGS, type StreamEncoding } from '../audio/index.js';
import type { Config } from '../config/index.js';
import { resolveModel, type EngineName, type EngineStream, type Isolation, type StreamFinal } from '../engines/index.js';
import { AppError, toSerializedError, type ErrorCode } from '../errors.js';
import type { Ticket } from '../executors/index.js';
import type { Logger } from '../logger.js';
import type { TranscriptionService } from './service.js';

/** The socket as the session needs it (a `ws` WebSocket fits). */
export interface StreamSocket {
  send(data: string): void;
  close(code: number, reason?: string): void;
}

/** Told of what streams do (metrics); never steers them. */
export interface StreamObserver {
  streamStarted(event: { engine: EngineName; isolation: Isolation }): void;
  streamEnded(event: { engine: EngineName; isolation: Isolation; audioSeconds: number; outcome: 'ok' | ErrorCode }): void;
  /** Seconds from the audio reaching the engine to the partial or final it produced. */
  resultSent(event: { kind: 'partial' | 'final'; latencySeconds: number }): void;
}

export const streamConfigSchema = z
  .object({
    type: z.literal('config').optional(),
    sample_rate: z.number().int().min(8000).max(192_000).optional(),
    encoding: z.string().max(64).default('pcm_s16le'),
    language: z.string().max(16).optional(),
    engine: z.string().max(64).optional(),
    model: z.string().max(64).optional(),
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
  AT_CAPACITY: CLOSE.tryLater,
  ENGINE_NOT_READY: CLOSE.tryLater,
  PROCESS_ISOLATION_DISABLED: CLOSE.tryLater,
  SHUTTING_DOWN: CLOSE.tryLater,
};

export interface StreamSessionDeps {
  config: Config;
  service: TranscriptionService;
  logger: Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;
  observer?: StreamObserver | undefined;
  /** `?isolation=` of the upgrade request, if any. */
  isolation?: Isolation | undefined;
  /** Called once when the session is over (frees its MAX_STREAMS place). */
  onEnd(): void;
}

/**
 * One live stream, from its config message to its close: audio frames in
 * (through one ffmpeg when the encoding needs decoding), partial and final
 * text out. What it holds undecoded is bounded by STREAM_MAX_BUFFER_SIZE; a
 * client that sends faster is told STREAM_TOO_FAST and closed.
 */
export class StreamSession {
  private state: 'config' | 'streaming' | 'ending' | 'closed' = 'config';
  private engine: EngineName | undefined;
  private isolation: Isolation | undefined;
  private ticket: Ticket | undefined;
  private stream: EngineStream | undefined;
  private opened: Promise<void> | undefined;
  private decoder: StreamDecoder | undefined;
  /** Decoded 16 kHz PCM waiting for the engine, and the odd byte a frame may leave. */
  private queue: Buffer[] = [];
  private queued = 0;
  private pumping: Promise<void> | undefined;
  private samplesIn = 0;
  private idleTimer: NodeJS.Timeout | undefined;
  private readonly abort = new AbortController();
  private lifetime: { resolve: () => void } | undefined;
  private lastWriteAt = 0;

  constructor(
    private readonly deps: StreamSessionDeps,
    private readonly socket: StreamSocket,
  ) {
    this.armIdle();
  }

  /** A frame from the client. */
  onMessage(data: Buffer, isBinary: boolean): void {
    if (this.state === 'closed') return;
    this.armIdle();
    if (this.state === 'config') {
      if (isBinary) return this.fail(new AppError('INVALID_REQUEST', 'the first message must be the JSON config, e.g. {"sample_rate":16000,"encoding":"pcm_s16le"}'));
      return this.configure(data.toString('utf8'));
    }
    if (!isBinary) return this.control(data.toString('utf8'));
    if (this.state !== 'streaming') return;
    const max = this.deps.config.STREAM_MAX_BUFFER_SIZE;
    if (data.length > max) {
      return this.fail(new AppError('FRAME_TOO_LARGE', `an audio frame of ${data.length} bytes is larger than STREAM_MAX_BUFFER_SIZE (${max} bytes); send smaller frames`));
    }
    const pending = this.queued + (this.decoder?.pendingBytes ?? 0) + data.length;
    if (pending > max) {
      return this.fail(
        new AppError('STREAM_TOO_FAST', `audio is arriving faster than it is decoded: ${pending} bytes waiting, more than STREAM_MAX_BUFFER_SIZE (${max}); send at real-time pace`),
      );
    }
    if (this.decoder !== undefined) this.decoder.write(data);
    else this.enqueue(data);
  }

  /** The connection went away (by either side). */
  onClose(): void {
    if (this.state === 'closed') return;
    this.deps.logger.info({ engine: this.engine, audioSeconds: this.audioSeconds() }, 'stream: client went away');
    void this.cleanup('REQUEST_ABORTED');
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
    const sampleRate = cfg.sample_rate ?? 16_000;
    try {
      this.engine = resolveModel(cfg.engine ?? cfg.model, this.deps.config);
      this.isolation = this.deps.isolation ?? this.deps.service.isolationFor(this.engine);
      this.ticket = this.deps.service.admitStream(this.isolation);
    } catch (err) {
      return this.fail(err);
    }
    this.state = 'streaming';
    if (encoding !== 'pcm_s16le' || sampleRate !== 16_000) this.startDecoder(encoding, sampleRate);
    this.opened = this.open(cfg.language);
  }

  private startDecoder(encoding: StreamEncoding, sampleRate: number): void {
    this.decoder = new StreamDecoder(
      encoding,
      sampleRate,
      (pcm) => this.enqueue(pcm),
      (err) => this.fail(err),
    );
  }

  private async open(language: string | undefined): Promise<void> {
    const engine = this.engine!;
    const isolation = this.isolation!;
    const ticket = this.ticket!;
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    // The ticket's slot is held for the stream's whole life.
    void ticket
      .run(() => {
        started();
        return new Promise<void>((resolve) => (this.lifetime = { resolve }));
      })
      .catch(() => undefined);
    await running;
    try {
      this.stream = await this.deps.service.openStream(
        isolation,
        engine,
        {
          language,
          silenceSeconds: this.deps.config.STREAM_SILENCE_SECONDS,
          utteranceMaxSeconds: this.deps.config.UTTERANCE_MAX_SECONDS,
        },
        {
          onPartial: (text) => this.emit('partial', { type: 'partial', text }),
          onFinal: (final: StreamFinal) => this.emit('final', { type: 'final', ...final }),
          onError: (err) => this.fail(err),
        },
        this.abort.signal,
      );
    } catch (err) {
      return this.fail(err);
    }
    if (this.state === 'closed') {
      void this.stream.abort();
      return;
    }
    this.deps.observer?.streamStarted({ engine, isolation });
    this.deps.logger.info({ engine, isolation }, 'stream started');
    this.send({ type: 'ready', engine, isolation, sample_rate: 16_000 });
    this.pump();
  }

  private control(text: string): void {
    let msg: unknown;
    try {
      msg = JSON.parse(text);
    } catch {
      msg = undefined;
    }
    if (typeof msg !== 'object' || msg === null || (msg as { type?: unknown }).type !== 'end') {
      return this.fail(new AppError('INVALID_REQUEST', 'after the config, send binary audio frames, then {"type":"end"}'));
    }
    if (this.state !== 'streaming') return;
    this.state = 'ending';
    void this.finish();
  }

  private enqueue(pcm: Buffer): void {
    if (this.state === 'closed') return;
    this.queue.push(pcm);
    this.queued += pcm.length;
    this.pump();
  }

  /** Takes `bytes` (even) from the queue as samples. */
  private take(bytes: number): Int16Array {
    const out = new Int16Array(bytes / 2);
    const view = Buffer.from(out.buffer);
    let off = 0;
    while (off < bytes) {
      const head = this.queue[0]!;
      const n = Math.min(head.length, bytes - off);
      head.copy(view, off, 0, n);
      off += n;
      if (n === head.length) this.queue.shift();
      else this.queue[0] = head.subarray(n);
    }
    this.queued -= bytes;
    return out;
  }

  /** Feeds the engine one chunk at a time (STREAM_MIN_CHUNK_SIZE), never two writes at once. */
  private pump(flush = false): Promise<void> {
    if (this.pumping !== undefined || this.stream === undefined) return this.pumping ?? Promise.resolve();
    const min = this.deps.config.STREAM_MIN_CHUNK_SIZE;
    const run = async (): Promise<void> => {
      try {
        while (this.stream !== undefined && this.state !== 'closed') {
          const ready = this.queued - (this.queued % 2);
          if (ready === 0 || (ready < min && !flush)) break;
          const pcm = this.take(Math.min(ready, Math.max(min, min * Math.floor(ready / min))));
          this.samplesIn += pcm.length;
          this.lastWriteAt = performance.now();
          await this.stream.write(pcm);
        }
      } catch (err) {
        this.fail(err);
      }
    };
    // Cleared in a later microtask, after the assignment, even when `run` finishes at once.
    const pumping: Promise<void> = run().finally(() => {
      if (this.pumping === pumping) this.pumping = undefined;
    });
    this.pumping = pumping;
    return this.pumping;
  }

  private async finish(): Promise<void> {
    try {
      await this.opened;
      if (this.decoder !== undefined) await this.decoder.end();
      // Whatever arrived while a chunk was decoding, then the rest.
      while (this.pumping !== undefined) await this.pumping;
      await this.pump(true);
      if (this.state === 'closed' || this.stream === undefined) return;
      await this.stream.end();
      this.stream = undefined;
      this.send({ type: 'done', audio_seconds: this.audioSeconds() });
      this.socket.close(CLOSE.normal, 'done');
      await this.cleanup('ok');
    } catch (err) {
      this.fail(err);
    }
  }

  private emit(kind: 'partial' | 'final', message: Record<string, unknown>): void {
    if (this.state === 'closed') return;
    this.send(message);
    this.deps.observer?.resultSent({ kind, latencySeconds: (performance.now() - this.lastWriteAt) / 1000 });
  }

  private send(message: Record<string, unknown>): void {
    try {
      this.socket.send(JSON.stringify(message));
    } catch {
      // The socket is closing; onClose cleans up.
    }
  }

  /** Sends the error as a message, closes with the matching code, and lets everything go. */
  private fail(err: unknown): void {
    if (this.state === 'closed') return;
    const aborted = err instanceof Error && err.name === 'AbortError';
    const e = aborted ? { code: 'REQUEST_ABORTED' as const, message: 'the stream was stopped' } : toSerializedError(err);
    if (e.code === 'INTERNAL_ERROR') this.deps.logger.error({ err }, 'stream failed');
    else this.deps.logger.info({ code: e.code, message: e.message }, 'stream ended with an error');
    this.send({ type: 'error', code: e.code, message: e.message, ...(e.details === undefined ? {} : { details: e.details }) });
    this.socket.close(WS_CODE[e.code] ?? CLOSE.internal, e.code);
    void this.cleanup(e.code);
  }

  private async cleanup(outcome: 'ok' | ErrorCode): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    clearTimeout(this.idleTimer);
    this.abort.abort();
    this.decoder?.kill();
    this.queue = [];
    this.queued = 0;
    const stream = this.stream;
    this.stream = undefined;
    try {
      await stream?.abort();
    } catch (err) {
      this.deps.logger.warn({ err }, 'stream: engine stream did not abort cleanly');
    }
    this.ticket?.release();
    this.lifetime?.resolve();
    if (this.engine !== undefined && this.isolation !== undefined && this.opened !== undefined) {
      this.deps.observer?.streamEnded({ engine: this.engine, isolation: this.isolation, audioSeconds: this.audioSeconds(), outcome });
    }
    this.deps.onEnd();
  }

  private armIdle(): void {
    clearTimeout(this.idleTimer);
    const seconds = this.deps.config.STREAM_IDLE_TIMEOUT_SECONDS;
    this.idleTimer = setTimeout(() => this.fail(new AppError('STREAM_IDLE_TIMEOUT', `nothing arrived for ${seconds} s (STREAM_IDLE_TIMEOUT_SECONDS)`)), seconds * 1000);
    this.idleTimer.unref();
  }

  private audioSeconds(): number {
    return Math.round((this.samplesIn / 16_000) * 1000) / 1000;
  }
}
