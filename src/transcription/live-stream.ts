import { StreamDecoder, type StreamEncoding } from '../audio/index.js';
import type { Config } from '../config/index.js';
import type { EngineName, EngineStream, Isolation, StreamFinal } from '../engines/index.js';
import { AppError, toSerializedError, type ErrorCode, type SerializedError } from '../errors.js';
import type { Logger } from '../logger.js';
import { vadSettingsFromConfig, type SpeechEvent, type VadSettings } from '../vad/index.js';
import type { Plan } from './plan.js';
import type { TranscriptionService } from './service.js';

/** Told of what streams do (metrics); never steers them. */
export interface StreamObserver {
  streamStarted(event: { engine: EngineName; isolation: Isolation }): void;
  streamEnded(event: { engine: EngineName; isolation: Isolation; audioSeconds: number; outcome: 'ok' | ErrorCode }): void;
  /** Seconds from the audio reaching the engine to the partial or final it produced. */
  resultSent(event: { kind: 'partial' | 'final'; latencySeconds: number }): void;
}

/** How the client's audio arrives. */
export interface LiveStreamSettings {
  encoding: StreamEncoding;
  sampleRate: number;
  language?: string | undefined;
  /** Text to guide the engine (engines that take one: whisper, upstream). */
  prompt?: string | undefined;
  /** The stream's VAD; absent: the server's (VAD_*). */
  vad?: VadSettings | undefined;
  /** The pause that ends an utterance; absent: STREAM_SILENCE_SECONDS. */
  silenceSeconds?: number | undefined;
}

/** What a live stream tells its transport. After `onDone` or `onError` nothing more comes. */
export interface LiveStreamEvents {
  /** The engine is held and audio is being decoded. */
  onReady(info: { engine: EngineName; isolation: Isolation; sampleRate: number }): void;
  onPartial(text: string): void;
  /** The last partial still stands after more audio was searched (see StreamCallbacks.onPartialHeld). */
  onPartialHeld?(): void;
  onFinal(final: StreamFinal): void;
  /** Speech began or ended (audio time); an utterance's `speech_stopped` comes before its final. */
  onSpeech(event: SpeechEvent): void;
  /** Every final has been sent after `end()`. */
  onDone(info: { audioSeconds: number }): void;
  /** The stream failed and is over (the transport says so and closes). */
  onError(error: SerializedError): void;
}

export interface LiveStreamDeps {
  config: Config;
  service: TranscriptionService;
  /** The stream's engine, mode and engine slot (from `StreamPlace.plan`); the transport releases it. */
  plan: Plan;
  logger: Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;
  observer?: StreamObserver | undefined;
  /**
   * The key's audio hours: the stream's decoded audio is charged as it goes
   * (every CHARGE_EVERY_SECONDS of audio, the rest when it ends, however it
   * ends); once the day's hours are spent the stream is stopped with
   * QUOTA_EXCEEDED.
   */
  usage?: { check(audioSeconds: number): Promise<void>; charge(audioSeconds: number): Promise<void> } | undefined;
}

/**
 * Audio seconds between two charges of a running stream: a stream of hours must
 * not pass its key's daily hours by hours before anyone counts (issue 18). A
 * key passes its limit by at most this much, plus what is decoding then.
 */
export const CHARGE_EVERY_SECONDS = 5;

/**
 * How long a stopped stream (STREAM_TOO_LONG, QUOTA_EXCEEDED) may take to
 * send the finals of what it already has. PocketSphinx needs milliseconds; an
 * engine that decodes each utterance whole may need seconds for the last one.
 * Past this the stream fails without them, so a stop always lets its engine go.
 */
const STOP_GRACE_MS = 10_000;

/**
 * One live stream, transport-free: audio in (through one ffmpeg when the
 * encoding needs decoding), partial and final text out through `events`. What
 * it holds undecoded is bounded by STREAM_MAX_BUFFER_SIZE; a client that sends
 * faster fails with STREAM_TOO_FAST. The WebSocket adapter (http/) and any
 * other protocol wrap it.
 */
export class LiveStream {
  private state: 'streaming' | 'ending' | 'closed' = 'streaming';
  private stream: EngineStream | undefined;
  private readonly opened: Promise<void>;
  private readonly decoder: StreamDecoder | undefined;
  /** Decoded 16 kHz PCM waiting for the engine. */
  private queue: Buffer[] = [];
  private queued = 0;
  private pumping: Promise<void> | undefined;
  private samplesIn = 0;
  private readonly abortController = new AbortController();
  private lastWriteAt = 0;
  private started = false;
  /** Samples already counted against the key. */
  private samplesCharged = 0;
  private charging: Promise<void> | undefined;
  /** Why the server stopped the stream: told through `onError` once its last finals are out. */
  private stopped: AppError | undefined;
  private stopTimer: NodeJS.Timeout | undefined;
  /** Set by a stop that drops the audio not yet given to the engine (a quota spent). */
  private dropping = false;
  private settle: () => void = () => {};
  /** Resolves once the stream is over and its engine is let go: then its slot may be released. */
  readonly finished: Promise<void> = new Promise((resolve) => (this.settle = resolve));

  constructor(
    private readonly deps: LiveStreamDeps,
    settings: LiveStreamSettings,
    private readonly events: LiveStreamEvents,
  ) {
    if (settings.encoding !== 'pcm_s16le' || settings.sampleRate !== 16_000) {
      this.decoder = new StreamDecoder(
        settings.encoding,
        settings.sampleRate,
        (pcm) => this.enqueue(pcm),
        (err) => this.fail(err),
      );
    }
    this.opened = this.open(settings);
  }

  get engine(): EngineName {
    return this.deps.plan.engine;
  }

  /** Seconds of audio that reached the engine so far. */
  audioSeconds(): number {
    return Math.round((this.samplesIn / 16_000) * 1000) / 1000;
  }

  /** Audio from the client, in the stream's encoding. */
  write(data: Buffer): void {
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

  /** No more audio: decode what is left, send the last finals, then `onDone`. */
  end(): void {
    if (this.state !== 'streaming') return;
    this.state = 'ending';
    void this.finish();
  }

  /**
   * The server ends the stream (too long, quota spent): no more audio is taken,
   * what arrived is decoded and its last finals sent, as for `end()`, then
   * `onError(err)` instead of `onDone`. Within STOP_GRACE_MS, or the finals
   * are given up. Nothing to do once `end()` was called (or the stream is over).
   */
  stop(err: AppError, options: { dropUnfed?: boolean } = {}): void {
    // After `end()` the client asked for its last finals already: they, and `done`, are on their way.
    if (this.state !== 'streaming') return;
    this.state = 'ending';
    this.stopped = err;
    // Audio the engine has not been given yet is dropped (a quota spent: no more decoding for the
    // key), rather than decoded as `end()` would; the finals come from what the engine already has.
    if (options.dropUnfed === true) {
      this.dropping = true;
      this.queue = [];
      this.queued = 0;
    }
    this.stopTimer = setTimeout(() => this.fail(err), STOP_GRACE_MS);
    this.stopTimer.unref();
    void this.finish();
  }

  /** Ends the stream with an error (told through `onError`). */
  fail(err: unknown): void {
    if (this.state === 'closed') return;
    const aborted = err instanceof Error && err.name === 'AbortError';
    const e: SerializedError = aborted ? { code: 'REQUEST_ABORTED', message: 'the stream was stopped' } : toSerializedError(err);
    if (e.code === 'INTERNAL_ERROR') this.deps.logger.error({ err }, 'stream failed');
    else this.deps.logger.info({ code: e.code, message: e.message }, 'stream ended with an error');
    this.events.onError(e);
    void this.cleanup(e.code);
  }

  /** The client went away: let everything go, without telling it. */
  close(): void {
    if (this.state === 'closed') return;
    this.deps.logger.info({ engine: this.engine, audioSeconds: this.audioSeconds() }, 'stream: client went away');
    void this.cleanup('REQUEST_ABORTED');
  }

  private async open(settings: LiveStreamSettings): Promise<void> {
    const { plan, config } = this.deps;
    try {
      this.stream = await this.deps.service.openStream(
        plan,
        {
          language: settings.language,
          prompt: settings.prompt,
          silenceSeconds: settings.silenceSeconds ?? config.STREAM_SILENCE_SECONDS,
          utteranceMaxSeconds: config.UTTERANCE_MAX_SECONDS,
          vad: settings.vad ?? vadSettingsFromConfig(config),
        },
        {
          onPartial: (text) => this.emit('partial', () => this.events.onPartial(text)),
          onPartialHeld: () => {
            if (this.state !== 'closed') this.events.onPartialHeld?.();
          },
          onFinal: (final) => this.emit('final', () => this.events.onFinal(final)),
          onSpeech: (event) => {
            if (this.state !== 'closed') this.events.onSpeech(event);
          },
          onError: (err) => this.fail(err),
        },
        this.abortController.signal,
      );
    } catch (err) {
      return this.fail(err);
    }
    if (this.state === 'closed') {
      void this.stream.abort();
      return;
    }
    this.started = true;
    this.deps.observer?.streamStarted({ engine: plan.engine, isolation: plan.isolation });
    this.deps.logger.info({ engine: plan.engine, isolation: plan.isolation }, 'stream started');
    this.events.onReady({ engine: plan.engine, isolation: plan.isolation, sampleRate: 16_000 });
    void this.pump();
  }

  private enqueue(pcm: Buffer): void {
    if (this.state === 'closed' || this.dropping) return;
    this.queue.push(pcm);
    this.queued += pcm.length;
    void this.pump();
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
        while (this.stream !== undefined && this.state !== 'closed' && !this.dropping) {
          const ready = this.queued - (this.queued % 2);
          if (ready === 0 || (ready < min && !flush)) break;
          const pcm = this.take(Math.min(ready, Math.max(min, min * Math.floor(ready / min))));
          this.samplesIn += pcm.length;
          this.lastWriteAt = performance.now();
          await this.stream.write(pcm);
          // Awaited: the next chunk waits for the charge and its quota check, so a key passes its
          // day by at most CHARGE_EVERY_SECONDS and one chunk, however slow the store is.
          await this.chargeDue();
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
      if (this.stopped !== undefined) return this.fail(this.stopped);
      this.events.onDone({ audioSeconds: this.audioSeconds() });
      await this.cleanup('ok');
    } catch (err) {
      this.fail(err);
    }
  }

  private emit(kind: 'partial' | 'final', send: () => void): void {
    if (this.state === 'closed') return;
    send();
    this.deps.observer?.resultSent({ kind, latencySeconds: (performance.now() - this.lastWriteAt) / 1000 });
  }

  /** Charges what reached the engine since the last charge once it is CHARGE_EVERY_SECONDS, one charge at a time. */
  private chargeDue(): Promise<void> {
    if (this.deps.usage === undefined || this.charging !== undefined) return this.charging ?? Promise.resolve();
    if (this.samplesIn - this.samplesCharged < CHARGE_EVERY_SECONDS * 16_000) return Promise.resolve();
    this.charging = this.charge(true).finally(() => (this.charging = undefined));
    return this.charging;
  }

  /** Counts the audio not yet charged against the key; `thenCheck`: stops the stream with QUOTA_EXCEEDED when the day's hours are spent. */
  private async charge(thenCheck: boolean): Promise<void> {
    const usage = this.deps.usage;
    const samples = this.samplesIn - this.samplesCharged;
    if (usage === undefined || samples <= 0) return;
    this.samplesCharged += samples;
    try {
      await usage.charge(samples / 16_000);
      if (thenCheck) await usage.check(0);
    } catch (err) {
      if (err instanceof AppError && err.code === 'QUOTA_EXCEEDED') return this.stop(err, { dropUnfed: true });
      this.deps.logger.warn({ err }, 'could not count the stream\'s audio against its key');
    }
  }

  private async cleanup(outcome: 'ok' | ErrorCode): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    clearTimeout(this.stopTimer);
    try {
      await this.letGo(outcome);
    } finally {
      this.settle();
    }
  }

  private async letGo(outcome: 'ok' | ErrorCode): Promise<void> {
    this.abortController.abort();
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
    if (!this.started) return;
    const { plan } = this.deps;
    const audioSeconds = this.audioSeconds();
    this.deps.observer?.streamEnded({ engine: plan.engine, isolation: plan.isolation, audioSeconds, outcome });
    // However the stream ended, its audio was decoded: the rest counts against the key's day.
    await this.charging;
    await this.charge(false);
  }
}
