import { fork, type ChildProcess } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { Config } from '../config/index.js';
import type { EngineName, EngineStatus, StreamOptions, TranscribeHooks, Transcript } from '../engines/index.js';
import { AppError, fromSerializedError } from '../errors.js';
import type { Logger } from '../logger.js';
import { killGroup } from '../os/index.js';
import { PoolStream, type PoolStreamCallbacks } from './pool-stream.js';
import { fromWorkerSchema, WORKER_CONFIG_ENV, type FromWorker, type ModelEventMessage, type TaskMessage } from './protocol.js';
import { workerScratchDir } from './stream-protocol.js';
import { lowerWorkerPriority, workerNiceValue } from './worker-priority.js';

export type WorkerState = 'starting' | 'idle' | 'busy' | 'retiring' | 'dead';

/** Why a worker ended; the pool counts recycles by these. */
export type EndReason = 'tasks' | 'rss' | 'timeout' | 'crash' | 'cancel' | 'shutdown' | 'startup-failed';

interface Running {
  id: string;
  startedAt: number;
  hooks: TranscribeHooks;
  resolve: (t: Transcript) => void;
  reject: (e: unknown) => void;
  timer: NodeJS.Timeout;
  onAbort: () => void;
}

export interface WorkerSpawnOptions {
  slot: number;
  config: Config;
  logger: Logger;
  entry: string;
  execArgv: string[];
  /** Told of each model the worker loads or unloads. */
  onModel?: (worker: WorkerProcess, event: ModelEventMessage) => void;
  /** Called once when the process has exited, whatever the reason. */
  onExit: (worker: WorkerProcess, code: number | null, signal: NodeJS.Signals | null) => void;
}

/**
 * One worker child process. It is its own process group (detached), so a
 * timeout or cancel kills everything it started with one signal.
 */
export class WorkerProcess {
  readonly slot: number;
  readonly child: ChildProcess;
  readonly pid: number;
  readonly spawnedAt = performance.now();
  readonly spawnedAtMs = Date.now();
  state: WorkerState = 'starting';
  tasksDone = 0;
  readyMs: number | undefined;
  /** Each engine's load outcome in this worker, from its `ready` message. */
  engines: EngineStatus[] = [];
  /** The models it holds, as it reported their loads and unloads (the pool routes a task to a worker holding its model). */
  readonly models = new Map<string, { bytes: number; lastUsedAt: number }>();
  /** The model of the task or stream running now, if any. */
  currentModel: string | undefined;
  /** When it last became idle (ready, or a task ended): the pool hands work to the longest idle. */
  idleSince = 0;
  rssBytes: number | undefined;
  /** Set when the pool decided this worker's end (so its exit is not a crash). */
  endReason: EndReason | undefined;
  exitCode: number | null = null;
  exitSignal: NodeJS.Signals | null = null;
  /** Resolves when the engine is loaded; rejects if the worker dies first. */
  readonly ready: Promise<void>;
  readonly exited: Promise<void>;
  private running: Running | undefined;
  /** A live stream holding this worker (instead of a task). */
  private streaming: PoolStream | undefined;
  private readonly log: Logger;

  constructor(opts: WorkerSpawnOptions) {
    this.slot = opts.slot;
    this.child = fork(opts.entry, [], {
      detached: true,
      execArgv: opts.execArgv,
      // V8's structured clone, not JSON: a stream's PCM crosses as raw bytes (an Int16Array), never base64.
      serialization: 'advanced',
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env: { ...process.env, [WORKER_CONFIG_ENV]: JSON.stringify(opts.config) },
    });
    if (this.child.pid === undefined) throw new AppError('WORKER_UNAVAILABLE', 'could not spawn a worker process');
    this.pid = this.child.pid;
    // Before the worker loads its engine: its whole life runs below the server (WORKER_NICE).
    lowerWorkerPriority(this.pid, workerNiceValue(opts.config.WORKER_NICE));
    this.log = opts.logger.child({ workerPid: this.pid, slot: this.slot });
    for (const stream of [this.child.stdout, this.child.stderr]) {
      if (stream) createInterface({ input: stream }).on('line', (line) => this.log.warn({ line }, 'worker output'));
    }

    let readyResolve!: () => void;
    let readyReject!: (e: unknown) => void;
    this.ready = new Promise((res, rej) => {
      readyResolve = res;
      readyReject = rej;
    });
    this.ready.catch(() => undefined);

    this.child.on('message', (raw: unknown) => {
      const parsed = fromWorkerSchema.safeParse(raw);
      if (!parsed.success) {
        this.log.error({ issues: parsed.error.issues }, 'invalid message from worker; killing it');
        this.kill('crash');
        return;
      }
      const msg = parsed.data;
      if (msg.type === 'model') {
        const held = this.models.get(msg.model);
        if (msg.event === 'loaded') this.models.set(msg.model, { bytes: msg.bytes, lastUsedAt: Date.now() });
        else if (msg.event === 'resized' && held !== undefined) held.bytes = msg.bytes;
        else if (msg.event === 'unloaded') this.models.delete(msg.model);
        opts.onModel?.(this, msg);
      } else if (msg.type === 'ready') {
        this.readyMs = performance.now() - this.spawnedAt;
        this.engines = msg.engines;
        this.idleSince = performance.now();
        if (this.state === 'starting') this.state = 'idle';
        readyResolve();
      } else if (msg.type === 'startup-failed') {
        this.endReason = 'startup-failed';
        readyReject(fromSerializedError(msg.error));
      } else if (this.streaming?.id === msg.id) {
        this.streaming.receive(msg);
      } else {
        this.onTaskMessage(msg);
      }
    });

    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exitCode = code;
        this.exitSignal = signal;
        const wasRunning = this.running;
        const wasStreaming = this.streaming;
        this.streaming = undefined;
        this.state = 'dead';
        // `exited` waits for this: a server that stops right after its workers leaves no folder behind.
        const scratchRemoved = rm(workerScratchDir(this.pid), { recursive: true, force: true }).catch((err: unknown) =>
          this.log.warn({ err }, 'could not remove the worker\'s scratch folder'),
        );
        wasStreaming?.workerExited(
          this.endReason === 'shutdown'
            ? new AppError('SHUTTING_DOWN', 'the server shut down during the stream')
            : new AppError('WORKER_CRASHED', `worker ${this.pid} died during the stream (${describeExit(code, signal)})`, {
                details: { exit_code: code, signal },
              }),
        );
        readyReject(new AppError('WORKER_CRASHED', `worker ${this.pid} exited before it was ready (${describeExit(code, signal)})`));
        if (wasRunning !== undefined) {
          this.finish();
          const reason = this.endReason;
          if (reason === 'timeout') {
            wasRunning.reject(new AppError('TRANSCRIPTION_TIMEOUT', `the transcription ran past its time limit; worker ${this.pid} was killed`));
          } else if (reason === 'cancel') {
            wasRunning.reject(new AppError('REQUEST_ABORTED', 'the transcription was cancelled; its worker was killed'));
          } else {
            this.endReason ??= 'crash';
            wasRunning.reject(
              new AppError('WORKER_CRASHED', `worker ${this.pid} died during the transcription (${describeExit(code, signal)})`, {
                details: { exit_code: code, signal },
              }),
            );
          }
        }
        opts.onExit(this, code, signal);
        void scratchRemoved.then(resolve);
      });
    });
    this.child.on('error', (err) => this.log.error({ err }, 'worker process error'));
  }

  /** Age in seconds of the task running now, if any. */
  currentTask(): { id: string; ageSeconds: number } | undefined {
    const current = this.running ?? this.streaming;
    return current && { id: current.id, ageSeconds: (performance.now() - current.startedAt) / 1000 };
  }

  /**
   * Starts a live stream on this worker, which holds it (busy) until the
   * stream is over; `opened` settles once the worker's engine accepted it.
   * No time limit: an abort the worker does not answer kills it instead.
   */
  openStream(id: string, engine: EngineName, options: StreamOptions, callbacks: PoolStreamCallbacks): PoolStream {
    if (this.state !== 'idle') throw new AppError('WORKER_UNAVAILABLE', `worker ${this.pid} is ${this.state}`);
    this.state = 'busy';
    const stream = new PoolStream({
      id,
      callbacks,
      send: (msg) => this.child.send(msg),
      kill: () => this.kill('cancel'),
      release: () => {
        // A stream counts as one task for MAX_TASKS_PER_WORKER.
        this.tasksDone++;
        this.streaming = undefined;
        this.idleSince = performance.now();
        if (this.state === 'busy') this.state = 'idle';
      },
    });
    this.streaming = stream;
    this.child.send({ type: 'stream-start', id, engine, options });
    return stream;
  }

  run(task: TaskMessage, hooks: TranscribeHooks, timeoutMs: number): Promise<Transcript> {
    if (this.state !== 'idle') throw new AppError('WORKER_UNAVAILABLE', `worker ${this.pid} is ${this.state}`);
    this.state = 'busy';
    return new Promise<Transcript>((resolve, reject) => {
      const onAbort = () => this.kill('cancel');
      this.running = {
        id: task.id,
        startedAt: performance.now(),
        hooks,
        resolve,
        reject,
        // Past the limit the whole process tree goes: a hung native call cannot be interrupted any other way.
        timer: setTimeout(() => this.kill('timeout'), timeoutMs),
        onAbort,
      };
      if (hooks.signal?.aborted) return onAbort();
      hooks.signal?.addEventListener('abort', onAbort, { once: true });
      this.child.send(task);
      hooks.onStart?.({ pid: this.pid });
    });
  }

  private onTaskMessage(msg: Exclude<FromWorker, { type: 'ready' | 'startup-failed' | 'model' }>): void {
    const r = this.running;
    if (r === undefined || msg.id !== r.id) return;
    switch (msg.type) {
      case 'progress':
        r.hooks.onProgress?.({ fraction: msg.fraction, processedSeconds: msg.processedSeconds, totalSeconds: msg.totalSeconds });
        return;
      case 'log':
        r.hooks.onLog?.(msg.message);
        return;
      case 'segment':
        r.hooks.onSegment?.(msg.segment);
        return;
      case 'result':
        this.tasksDone++;
        this.finish();
        r.resolve(msg.transcript);
        return;
      case 'error':
        this.tasksDone++;
        this.finish();
        r.reject(fromSerializedError(msg.error));
        return;
    }
  }

  private finish(): void {
    const r = this.running;
    if (r === undefined) return;
    clearTimeout(r.timer);
    r.hooks.signal?.removeEventListener('abort', r.onAbort);
    this.running = undefined;
    this.idleSince = performance.now();
    if (this.state === 'busy') this.state = 'idle';
  }

  /** Asks the worker to exit after its current task; kills it if it has not within `graceMs`. */
  retire(reason: EndReason, graceMs = 5000): void {
    if (this.state === 'dead') return;
    this.endReason ??= reason;
    if (this.state === 'busy') {
      this.state = 'retiring';
      return; // the pool calls retire() again when the task is done
    }
    this.state = 'retiring';
    if (this.child.connected) this.child.send({ type: 'shutdown' });
    const timer = setTimeout(() => this.kill(reason), graceMs);
    void this.exited.then(() => clearTimeout(timer));
  }

  /** SIGKILLs the worker's whole process group at once. */
  kill(reason: EndReason): void {
    if (this.state === 'dead') return;
    this.endReason ??= reason;
    killGroup(this.pid, 'SIGKILL');
  }
}

function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return signal !== null ? `killed by ${signal}` : `exit code ${code}`;
}
