import type { Config } from '../config/index.js';
import { decodeToPcm } from '../audio/index.js';
import { type ScratchDir } from '../os/index.js';
import {
  checkTranslation,
  engineCapabilities,
  engineNotReady,
  resolveModelRef,
  DEFAULT_MODEL_ALIASES,
  type ModelRef,
  type EngineName,
  type EngineStatus,
  type EngineStream,
  type Isolation,
  type StreamOptions,
  type TranscribeHooks,
  type TranscribeOptions,
} from '../engines/index.js';
import { AppError, type ErrorCode } from '../errors.js';
import { Admission, type AdmissionSnapshot, type ExecutionResult, type Executor, type ExecutorStreamCallbacks } from '../executors/index.js';
import type { Logger } from '../logger.js';
import { vadSettingsFromConfig } from '../vad/index.js';
import { whisperModelFile, type ModelEvent, type ModelPlace } from '../models/index.js';
import { Plan, type PlanRequest } from './plan.js';
import { StreamPlaces, type StreamOwner, type StreamPlace } from './stream-places.js';

export interface TranscribeFileRequest {
  id: string;
  /** Uploaded file on disk; the caller owns (and removes) it. */
  inputPath: string;
  options: TranscribeOptions;
  logger: Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;
  hooks?: TranscribeHooks;
  /** The requesting key's audio hours: checked once the length is known, charged on success. */
  usage?: { check(audioSeconds: number): Promise<void>; charge(audioSeconds: number): Promise<void> } | undefined;
}

/** What the engine made of a file, and where: each route or the job runner shapes its own answer from it. */
export interface FileTranscription extends ExecutionResult {
  engine: EngineName;
  /** The id of the engine's model that decoded (`whisper-base.en`); undefined for engines with one model. */
  model: string | undefined;
  /** From the call to the transcript: decoding the audio, waiting for a slot, recognition. */
  processingMs: number;
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
  /** A model loaded into or unloaded from a process. */
  modelEvent?(event: ModelEvent & { pid: number; isolation: Isolation }): void;
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
 * The one path of every transcription: plan (engine, mode, readiness, a place
 * in line) -> decode to PCM -> executor -> engine-level result. Sync routes,
 * the job runner and live streams call it; each shapes its own answer.
 */
export class TranscriptionService {
  private readonly lanes = new Map<Isolation, Lane>();
  private readonly observers: TranscriptionObserver[] = [];

  constructor(
    private readonly config: Config,
    private readonly scratch: ScratchDir,
    executors: readonly Executor[],
  ) {
    for (const executor of executors) {
      this.lanes.set(executor.isolation, {
        executor,
        admission: new Admission({ concurrency: executor.concurrency, maxQueue: config.MAX_QUEUE_SIZE }),
      });
    }
    this.streamPlaces = new StreamPlaces({ maxStreams: config.MAX_STREAMS, perOwner: config.KEY_MAX_STREAMS }, (request) => {
      const { isolation, ...ref } = this.resolve(request);
      const lane = this.lane(isolation);
      return new Plan(ref, isolation, request, true, lane.admission.lease({ reserved: this.reservedEngines(lane) }));
    });
  }

  observe(observer: TranscriptionObserver): void {
    this.observers.push(observer);
    for (const [isolation, lane] of this.lanes) lane.executor.observeModels((event) => observer.modelEvent?.({ ...event, isolation }));
  }

  /** Every model loaded now, and where (the server in-process, each worker). */
  models(): (ModelPlace & { id: string })[] {
    return [...this.lanes].flatMap(([isolation, lane]) =>
      lane.executor.models().map((m) => ({ id: m.id, isolation, pid: m.pid, slot: m.slot, bytes: m.bytes, inUse: m.inUse })),
    );
  }

  /** Unloads model `id` in every mode (its file is being deleted). */
  async evictModel(id: string): Promise<void> {
    await Promise.all([...this.lanes.values()].map((l) => l.executor.evictModel(id)));
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
  private requireReady(engine: EngineName, isolation: Isolation): void {
    const status = this.lane(isolation).executor.engineStatus();
    if (status.some((s) => s.name === engine && s.state === 'ready')) return;
    // Before the first worker is ready the pool knows nothing yet: let the task wait for it.
    if (status.length === 0 && isolation === 'process') return;
    throw engineNotReady(engine, status, isolation === 'process' ? 'in the worker processes' : 'in this server');
  }

  /**
   * Resolves engine and mode and checks that the engine is ready there, without
   * taking a place (a job being stored for later). Throws MODEL_NOT_FOUND,
   * PROCESS_ISOLATION_DISABLED or ENGINE_NOT_READY.
   */
  resolve(request: PlanRequest): ModelRef & { isolation: Isolation } {
    const chosen = this.choose(request);
    this.requireReady(chosen.engine, chosen.isolation);
    return chosen;
  }

  /** The engine (and model) a request names (or the default) and the mode it asked for (or the engine's own). */
  private choose(request: PlanRequest): ModelRef & { isolation: Isolation } {
    const ref = resolveModelRef(request.engine, this.config);
    return { ...ref, isolation: request.isolation ?? this.isolationFor(ref.engine) };
  }

  /**
   * An upload's plan, decided before its body is read: the engine it named (or
   * the default) and the mode, with the line looked at but no place taken
   * (`admit` takes it once the upload is in: a slow upload holds none). Throws
   * MODEL_NOT_FOUND, PROCESS_ISOLATION_DISABLED, ENGINE_NOT_READY or, when the
   * line is full now, AT_CAPACITY. A request that named no engine is checked
   * for readiness by `settle`, once its form has had the chance to name one.
   */
  preflight(request: PlanRequest): Plan {
    const named = request.engine !== undefined;
    const { isolation, ...ref } = named ? this.resolve(request) : this.choose(request);
    this.lane(isolation).admission.check();
    return new Plan(ref, isolation, request, named);
  }

  /** Takes the plan's place in its mode's line (AT_CAPACITY when full); a plan that holds one is returned as it is. */
  admit(plan: Plan): Plan {
    return plan.placed ? plan : plan.withPlace(this.lane(plan.isolation).admission.admit());
  }

  /** `preflight` and `admit` at once: a place taken now (the job runner, before it claims a job). */
  plan(request: PlanRequest): Plan {
    return this.admit(this.preflight(request));
  }

  /**
   * The plan once the form is read: `engine` is the form's engine field, if
   * any. A name that disagrees with one given before the body is a 400; a name
   * the plan did not have moves the plan (and its place, if it holds one) to
   * that engine's mode when it differs (the old place released first).
   * Returns the plan to use.
   */
  settle(plan: Plan, engine: string | undefined): Plan {
    if (engine === undefined || engine === '') {
      if (plan.checked) return plan;
      this.requireReady(plan.engine, plan.isolation);
      return plan.ready({ engine: plan.engine, model: plan.model });
    }
    const resolved = resolveModelRef(engine, this.config);
    if (plan.request.engine !== undefined) {
      // `whisper-1` in an OpenAI client's form (the SDK requires a model) defers to the name given early.
      if ((resolved.engine === plan.engine && resolved.model === plan.model) || (DEFAULT_MODEL_ALIASES as readonly string[]).includes(engine)) return plan;
      throw new AppError(
        'INVALID_REQUEST',
        `the form names engine "${engine}" but the request named "${plan.request.engine}" before its body (query or X-Hark-Engine header); name one engine`,
      );
    }
    const isolation = plan.request.isolation ?? this.isolationFor(resolved.engine);
    if (isolation === plan.isolation) {
      this.requireReady(resolved.engine, isolation);
      return plan.ready(resolved);
    }
    plan.release();
    const moved = { ...plan.request, engine };
    return plan.placed ? this.plan(moved) : this.preflight(moved);
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

  /** MAX_STREAMS and KEY_MAX_STREAMS; each stream's engine slot comes from its mode's admission, less the engines kept for files. */
  private readonly streamPlaces: StreamPlaces;

  /**
   * A live stream's place among MAX_STREAMS and its owner's KEY_MAX_STREAMS,
   * taken when its connection opens (AT_CAPACITY or RATE_LIMITED when full);
   * `place.plan()` then takes an engine slot at once, never one of the
   * STREAM_RESERVED_ENGINES.
   */
  streamPlace(owner?: StreamOwner): StreamPlace {
    return this.streamPlaces.take(owner);
  }

  /** Throws AT_CAPACITY past MAX_STREAMS, RATE_LIMITED past the owner's KEY_MAX_STREAMS (checked before a WebSocket upgrade, and when a place is taken). */
  requireStreamRoom(owner?: StreamOwner): void {
    this.streamPlaces.require(owner);
  }

  /** Live streams open now, MAX_STREAMS, and how many streams can hold an engine at once (each mode's engines less those kept for files). */
  streams(): { active: number; max: number; engines: number } {
    let engines = 0;
    for (const lane of this.lanes.values()) engines += Math.max(0, lane.executor.concurrency - this.reservedEngines(lane));
    return { active: this.streamPlaces.open, max: this.config.MAX_STREAMS, engines };
  }

  /** STREAM_RESERVED_ENGINES of a mode: as set, or 1 where the mode has 2 engines or more (with one engine, keeping it would leave streams none). */
  private reservedEngines(lane: Lane): number {
    return this.config.STREAM_RESERVED_ENGINES ?? (lane.executor.concurrency >= 2 ? 1 : 0);
  }

  /** Opens a live stream on the plan's engine and mode; the plan holds its slot until released. */
  openStream(plan: Plan, options: StreamOptions, callbacks: ExecutorStreamCallbacks, signal?: AbortSignal): Promise<EngineStream> {
    return this.lane(plan.isolation).executor.openStream(plan.engine, withModel(options, plan.model), callbacks, signal);
  }

  capacity(isolation: Isolation): AdmissionSnapshot {
    return this.lane(isolation).admission.snapshot();
  }

  /**
   * Decodes the file to PCM and runs it on the plan's engine, in the plan's
   * place in line. The plan's owner releases it afterwards (a no-op once run).
   */
  async transcribeFile(plan: Plan, req: TranscribeFileRequest): Promise<FileTranscription> {
    if (!plan.checked) throw new Error('transcribeFile needs a settled plan (TranscriptionService.settle)');
    if (!plan.placed) throw new Error('transcribeFile needs a plan with its place in line (TranscriptionService.admit)');
    const started = performance.now();
    const { engine, isolation } = plan;
    checkTranslation(engine, engineCapabilities(engine), req.options);
    const lane = this.lane(isolation);
    const pcmPath = this.scratch.file('.pcm');
    let audioSeconds: number | undefined;
    let outcome: 'ok' | ErrorCode = 'INTERNAL_ERROR';
    try {
      const audio = await decodeToPcm(req.inputPath, pcmPath, { maxSeconds: this.config.MAX_AUDIO_SECONDS, signal: req.hooks?.signal });
      audioSeconds = audio.durationSeconds;
      req.logger.debug({ durationSeconds: audio.durationSeconds }, 'audio decoded');
      await req.usage?.check(audio.durationSeconds);
      // A request without VAD settings of its own gets the server's.
      const options = withModel({ ...req.options, vad: req.options.vad ?? vadSettingsFromConfig(this.config) }, plan.model);
      const result = await plan.run(() => lane.executor.run({ id: req.id, audio, engine, options }, req.hooks), req.hooks?.signal);
      outcome = 'ok';
      await req.usage?.charge(audio.durationSeconds).catch((err: unknown) => req.logger.warn({ err }, 'could not count the audio against the key'));
      const model = engine === 'whisper' ? whisperModelFile(this.config, options.model ?? undefined).id : undefined;
      return { ...result, engine, model, processingMs: Math.round(performance.now() - started) };
    } catch (err) {
      outcome = err instanceof AppError ? err.code : (err as Error).name === 'AbortError' ? 'REQUEST_ABORTED' : 'INTERNAL_ERROR';
      // Decoding is work done for the key even when the request then fails (a file that lies
      // about its length, an engine error, a client that leaves): it is charged, or failing on
      // purpose would be a free way to hold the decoders. A refusal of decoding says how much it
      // decoded (details.decoded_seconds). Not a quota refusal: that audio was turned away.
      const decoded = audioSeconds ?? (err instanceof AppError ? err.details?.['decoded_seconds'] : undefined);
      if (typeof decoded === 'number' && decoded > 0 && outcome !== 'QUOTA_EXCEEDED') {
        await req.usage?.charge(decoded).catch((e: unknown) => req.logger.warn({ err: e }, 'could not count the audio against the key'));
      }
      throw err;
    } finally {
      await this.scratch.remove(pcmPath);
      const seconds = (performance.now() - started) / 1000;
      for (const o of this.observers) o.transcriptionFinished({ isolation, engine, outcome, seconds, audioSeconds });
    }
  }
}

/** The plan's model on the options: a plan that picked one overrides the options' (a job's stored model is used when its plan names none). */
function withModel<T extends TranscribeOptions>(options: T, model: string | undefined): T {
  return model === undefined ? options : { ...options, model };
}
