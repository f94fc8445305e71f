import type { Config } from '../config/index.js';
import { decodeToPcm } from '../audio/index.js';
import { type ScratchDir } from '../os/index.js';
import {
  engineCapabilities,
  engineNotReady,
  type EngineName,
  type EngineStatus,
  type EngineStream,
  type Isolation,
  type StreamOptions,
  type TranscribeHooks,
  type TranscribeOptions,
} from '../engines/index.js';
import { AppError, type ErrorCode } from '../errors.js';
import { Admission, type AdmissionSnapshot, type Executor, type ExecutorStreamCallbacks, type Ticket } from '../executors/index.js';
import type { Logger } from '../logger.js';
import type { TranscriptionResponse } from './schema.js';

export interface TranscribeFileRequest {
  id: string;
  /** Uploaded file on disk; the caller owns (and removes) it. */
  inputPath: string;
  engine: EngineName;
  options: TranscribeOptions;
  logger: Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;
  hooks?: TranscribeHooks;
  /** The requesting key's audio hours: checked once the length is known, charged on success. */
  quota?: { check(audioSeconds: number): Promise<void>; charge(audioSeconds: number): Promise<void> } | undefined;
}

/** Told of every transcription's end (metrics); never steers it. */
export interface TranscriptionObserver {
  transcriptionFinished(event: {
    isolation: Isolation;
    engine: EngineName;
    /** 'ok' or the error code. */
    outcome: 'ok' | ErrorCode;
    seconds: number;
    audioSeconds: number | undefined;
  }): void;
}

/** One engine as /readyz and /api/v1/system show it. */
export interface EngineView {
  name: EngineName;
  capabilities: ReturnType<typeof engineCapabilities>;
  /** Modes where it loaded. */
  ready_in: Isolation[];
  info: Extract<EngineStatus, { state: 'ready' }>['info'] | undefined;
  error: { code: string; message: string } | undefined;
}

interface Lane {
  executor: Executor;
  admission: Admission;
}

/**
 * The one path of every file transcription: admission -> decode to PCM ->
 * executor -> transcript. Routes, the CLI and (later) the job runner call it.
 */
export class TranscriptionService {
  private readonly lanes = new Map<Isolation, Lane>();
  private readonly observers: TranscriptionObserver[] = [];

  constructor(
    private readonly config: Config,
    private readonly temp: ScratchDir,
    executors: readonly Executor[],
  ) {
    for (const executor of executors) {
      this.lanes.set(executor.isolation, {
        executor,
        admission: new Admission({ concurrency: executor.concurrency, maxQueue: config.MAX_QUEUE_SIZE }),
      });
    }
  }

  observe(observer: TranscriptionObserver): void {
    this.observers.push(observer);
  }

  /**
   * Mode used when a request does not choose: DEFAULT_ISOLATION, or with auto
   * the engine's own default (native engines: the pool, when it is enabled).
   */
  isolationFor(engine: EngineName): Isolation {
    const d = this.config.DEFAULT_ISOLATION;
    if (d !== 'auto') return d;
    const preferred = engineCapabilities(engine).defaultIsolation;
    return this.lanes.has(preferred) ? preferred : 'in-process';
  }

  /** The default engine's mode (what capacity reports and what a request naming nothing gets). */
  get defaultIsolation(): Isolation {
    return this.isolationFor(this.config.ENGINE);
  }

  /**
   * Each configured engine's state across the modes: ready where it loaded,
   * failed (with the load error) where it loaded nowhere.
   */
  engineStatus(): EngineView[] {
    return this.config.ENGINES.map((name) => {
      const ready: Isolation[] = [];
      let info: EngineView['info'];
      let error: EngineView['error'];
      for (const [isolation, lane] of this.lanes) {
        const s = lane.executor.engineStatus().find((e) => e.name === name);
        if (s?.state === 'ready') {
          ready.push(isolation);
          info ??= s.info;
        } else if (s?.state === 'failed') error ??= s.error;
      }
      return { name, capabilities: engineCapabilities(name), ready_in: ready, info, error: ready.length > 0 ? undefined : error };
    });
  }

  /** Throws ENGINE_NOT_READY (with the load error) when `engine` did not load where `isolation` runs. */
  requireEngine(engine: EngineName, isolation: Isolation): void {
    const status = this.lane(isolation).executor.engineStatus();
    if (status.some((s) => s.name === engine && s.state === 'ready')) return;
    // Before the first worker is ready the pool knows nothing yet: let the task wait for it.
    if (status.length === 0 && isolation === 'process') return;
    throw engineNotReady(engine, status, isolation === 'process' ? 'in the worker processes' : 'in this server');
  }

  isolationModes(): Isolation[] {
    return [...this.lanes.keys()];
  }

  /** Starts every executor (engines loaded, warm). */
  async start(): Promise<void> {
    await Promise.all([...this.lanes.values()].map((l) => l.executor.start()));
  }

  async close(): Promise<void> {
    await Promise.all([...this.lanes.values()].map((l) => l.executor.close()));
  }

  private lane(isolation: Isolation): Lane {
    const lane = this.lanes.get(isolation);
    if (lane !== undefined) return lane;
    if (isolation === 'process') {
      throw new AppError(
        'PROCESS_ISOLATION_DISABLED',
        'process-isolated transcription is disabled on this server; start it with ENABLE_PROCESS_ISOLATED=true, or use in-process transcription',
      );
    }
    throw new AppError('ENGINE_NOT_READY', `isolation mode "${isolation}" is not available on this server`);
  }

  /** Throws PROCESS_ISOLATION_DISABLED (or ENGINE_NOT_READY) when this server cannot run `isolation`. */
  requireIsolation(isolation: Isolation): void {
    this.lane(isolation);
  }

  private activeStreams = 0;

  /** Counts a live stream against MAX_STREAMS, or throws AT_CAPACITY; call the result once when it ends. */
  reserveStream(): () => void {
    if (this.activeStreams >= this.config.MAX_STREAMS) {
      throw new AppError('AT_CAPACITY', `${this.activeStreams} live streams already (MAX_STREAMS); retry later`, { details: { retry_after_seconds: 5 } });
    }
    this.activeStreams++;
    let released = false;
    return () => {
      if (!released) this.activeStreams--;
      released = true;
    };
  }

  streams(): { active: number; max: number } {
    return { active: this.activeStreams, max: this.config.MAX_STREAMS };
  }

  /** A place for a live stream only if an engine of `isolation` is free now (a stream cannot wait in line). */
  admitStream(isolation: Isolation): Ticket {
    return this.lane(isolation).admission.admitNow();
  }

  /** Opens a live stream on the executor of `isolation`; the caller holds the ticket's slot for its duration. */
  openStream(
    isolation: Isolation,
    engine: EngineName,
    options: StreamOptions,
    callbacks: ExecutorStreamCallbacks,
    signal?: AbortSignal,
  ): Promise<EngineStream> {
    this.requireEngine(engine, isolation);
    return this.lane(isolation).executor.openStream(engine, options, callbacks, signal);
  }

  /** Takes a place in line, or throws AT_CAPACITY at once (before any upload is read). */
  admit(isolation: Isolation): Ticket {
    return this.lane(isolation).admission.admit();
  }

  capacity(isolation: Isolation): AdmissionSnapshot {
    return this.lane(isolation).admission.snapshot();
  }

  async transcribeFile(ticket: Ticket, isolation: Isolation, req: TranscribeFileRequest): Promise<TranscriptionResponse> {
    const started = performance.now();
    const lane = this.lane(isolation);
    const pcmPath = this.temp.file('.pcm');
    let audioSeconds: number | undefined;
    let outcome: 'ok' | ErrorCode = 'INTERNAL_ERROR';
    try {
      const audio = await decodeToPcm(req.inputPath, pcmPath, { maxSeconds: this.config.MAX_AUDIO_SECONDS, signal: req.hooks?.signal });
      audioSeconds = audio.durationSeconds;
      req.logger.debug({ durationSeconds: audio.durationSeconds }, 'audio decoded');
      await req.quota?.check(audio.durationSeconds);
      const result = await ticket.run(
        () => lane.executor.run({ id: req.id, audio, engine: req.engine, options: req.options }, req.hooks),
        req.hooks?.signal,
      );
      outcome = 'ok';
      await req.quota?.charge(audio.durationSeconds).catch((err: unknown) => req.logger.warn({ err }, 'could not count the audio against the key'));
      return {
        id: req.id,
        ...result.transcript,
        engine: req.engine,
        isolation: result.isolation,
        pid: result.pid,
        processing_ms: Math.round(performance.now() - started),
      };
    } catch (err) {
      outcome = err instanceof AppError ? err.code : (err as Error).name === 'AbortError' ? 'REQUEST_ABORTED' : 'INTERNAL_ERROR';
      throw err;
    } finally {
      ticket.release();
      await this.temp.remove(pcmPath);
      const seconds = (performance.now() - started) / 1000;
      for (const o of this.observers) o.transcriptionFinished({ isolation, engine: req.engine, outcome, seconds, audioSeconds });
    }
  }
}
