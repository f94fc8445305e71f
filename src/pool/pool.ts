import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { Config } from '../config/index.js';
import type { EngineName, EngineStatus, EngineStream, StreamOptions, TranscribeHooks, Transcript } from '../engines/index.js';
import { AppError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { PoolStreamCallbacks } from './pool-stream.js';
import { readRssBytes } from '../os/index.js';
import type { ModelEventMessage, TaskMessage } from './protocol.js';
import type { HeldModel } from '../executors/types.js';
import { whisperModelFile } from '../models/index.js';
import { snapshotOf, type PoolSnapshot, type SlotWorkers } from './pool-view.js';
import { countExit, emptyTotals, recycleDue, respawnDelayMs, type PoolTotals, type RecycleReason } from './recycle-policy.js';
import { WorkerProcess, type EndReason } from './worker-process.js';

interface Slot extends SlotWorkers {
  respawnTimer: NodeJS.Timeout | undefined;
  recycleReason: RecycleReason | undefined;
}

/** A task or a stream waiting for an idle worker. */
interface Waiting {
  /** The model id the work decodes with (whisper's), to hand it to a worker that holds it. */
  model: string | undefined;
  /** Starts the work on `worker` when its turn comes. */
  begin(slot: Slot, worker: WorkerProcess): void;
  signal: AbortSignal | undefined;
  reject: (e: unknown) => void;
  onAbort: () => void;
}

export interface WorkerPoolOptions {
  config: Config;
  logger: Logger;
  /** Worker entry module; defaults to worker-entry beside this file (.js built, .ts under tsx/vitest). */
  entry?: string;
}

/** Told of pool events (metrics); never steers the pool. */
export interface PoolObserver {
  workerReady(spawnToReadyMs: number): void;
}

function defaultEntry(): { entry: string; execArgv: string[] } {
  const self = fileURLToPath(import.meta.url);
  const isTs = self.endsWith('.ts');
  // Under vitest/tsx the sources are TypeScript: the worker needs the same loader.
  return { entry: self.replace(/pool\.(ts|js)$/, `worker-entry.${isTs ? 'ts' : 'js'}`), execArgv: isTs ? ['--import', 'tsx'] : [] };
}

/**
 * The supervisor of WORKER_COUNT worker processes. It keeps each slot filled
 * with a warm worker, hands tasks to idle ones (FIFO when all are busy),
 * replaces a worker after MAX_TASKS_PER_WORKER tasks or past WORKER_MAX_RSS_MB
 * (for task count, the replacement starts warming as the last task begins and
 * takes over when ready; one recycle at a time), kills a worker's process
 * group on timeout or cancel, and respawns crashed workers with backoff.
 */
export class WorkerPool {
  private readonly slots: Slot[];
  private readonly waiting: Waiting[] = [];
  private readonly recycleQueue: Slot[] = [];
  /** The slot whose tasks-recycle is under way: those are staggered, one at a time. */
  private recyclingSlot: Slot | undefined;
  private closing = false;
  private readonly entry: string;
  private readonly execArgv: string[];
  readonly totals: PoolTotals = emptyTotals();
  private lastEngineStatus: readonly EngineStatus[] = [];
  /** Recent spawn-to-ready durations (ms). */
  readonly spawnToReadyMs: number[] = [];
  private readonly observers: PoolObserver[] = [];
  private readonly modelListeners: ((event: ModelEventMessage & { pid: number }) => void)[] = [];

  constructor(private readonly options: WorkerPoolOptions) {
    this.slots = Array.from({ length: options.config.WORKER_COUNT }, (_, index) => ({
      index,
      worker: undefined,
      replacement: undefined,
      leaving: [],
      failures: 0,
      respawnTimer: undefined,
      recycleReason: undefined,
    }));
    const d = defaultEntry();
    this.entry = options.entry ?? d.entry;
    this.execArgv = options.entry ? [] : d.execArgv;
  }

  observe(observer: PoolObserver): void {
    this.observers.push(observer);
  }

  get size(): number {
    return this.slots.length;
  }

  /** Spawns every slot; resolves when each has been ready once or has failed to start once. */
  async start(): Promise<void> {
    await Promise.allSettled(this.slots.map((slot) => this.spawnInto(slot).ready));
  }

  /** Runs one task on a worker; waits (FIFO) while none is idle. */
  run(task: TaskMessage, hooks: TranscribeHooks = {}): Promise<{ transcript: Transcript; pid: number }> {
    if (this.closing) return Promise.reject(new AppError('SHUTTING_DOWN', 'the server is shutting down'));
    const timeoutMs = 1000 * (this.options.config.TASK_TIMEOUT_SECONDS ?? Math.max(120, 2.5 * task.audio.durationSeconds));
    const model = this.modelOf(task.engine, task.options.model);
    return new Promise((resolve, reject) => {
      this.enqueue(hooks.signal, reject, model, (slot, worker) => {
        worker.run(task, hooks, timeoutMs).then(
          (transcript) => {
            resolve({ transcript, pid: worker.pid });
            void this.afterTask(slot, worker);
          },
          (err: unknown) => {
            reject(err);
            if (worker.state !== 'dead') void this.afterTask(slot, worker);
          },
        );
      });
    });
  }

  /**
   * Opens a live stream on a worker, which it holds (busy, no time limit) until
   * the stream ends; waits in the same FIFO as tasks while none is idle.
   * Resolves once the worker's engine has accepted the stream.
   */
  openStream(
    id: string,
    engine: EngineName,
    options: StreamOptions,
    callbacks: PoolStreamCallbacks,
    signal?: AbortSignal,
  ): Promise<{ stream: EngineStream; pid: number }> {
    if (this.closing) return Promise.reject(new AppError('SHUTTING_DOWN', 'the server is shutting down'));
    return new Promise((resolve, reject) => {
      this.enqueue(signal, reject, this.modelOf(engine, options.model), (slot, worker) => {
        const stream = worker.openStream(id, engine, options, callbacks);
        const onAbort = () => void stream.abort();
        signal?.addEventListener('abort', onAbort, { once: true });
        void stream.over.then(() => {
          signal?.removeEventListener('abort', onAbort);
          // Like a task: the recycle rules apply, then the worker takes the next in line.
          if (worker.state !== 'dead') void this.afterTask(slot, worker);
        });
        stream.opened.then(() => resolve({ stream, pid: worker.pid }), reject);
      });
    });
  }

  /** The id of the model a task on `engine` decodes with: whisper's (named, or its default); none for engines with one model. */
  private modelOf(engine: EngineName, model: string | undefined): string | undefined {
    return engine === 'whisper' ? whisperModelFile(this.options.config, model).id : undefined;
  }

  private enqueue(signal: AbortSignal | undefined, reject: (e: unknown) => void, model: string | undefined, begin: Waiting['begin']): void {
    const waiting: Waiting = {
      model,
      begin,
      signal,
      reject,
      onAbort: () => {
        const i = this.waiting.indexOf(waiting);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(new AppError('REQUEST_ABORTED', 'the request was cancelled while waiting for a worker'));
      },
    };
    if (signal?.aborted) return waiting.onAbort();
    signal?.addEventListener('abort', waiting.onAbort, { once: true });
    this.waiting.push(waiting);
    this.dispatch();
  }

  /** Why the last worker that failed to start failed (e.g. no engine loaded). */
  lastStartupError: unknown;

  /** What the most recently ready worker loaded: every worker runs the same engines. */
  engineStatus(): readonly EngineStatus[] {
    return this.lastEngineStatus;
  }

  snapshot(): PoolSnapshot {
    return snapshotOf(this.slots, this.waiting.length, this.totals);
  }

  /** Refreshes every worker's RSS from /proc (for scrapes and /debug/pool). */
  async refreshRss(): Promise<void> {
    for (const w of this.allWorkers()) {
      if (w.state !== 'dead') w.rssBytes = readRssBytes(w.pid);
    }
  }

  /** Pids of every live worker (for shutdown checks and tests). */
  pids(): number[] {
    return this.allWorkers().flatMap((w) => (w.state !== 'dead' ? [w.pid] : []));
  }

  /** Every worker process of every slot: serving, warming, or finishing its last task. */
  private allWorkers(): WorkerProcess[] {
    return this.slots.flatMap((s) => [s.worker, s.replacement, ...s.leaving]).filter((w): w is WorkerProcess => w !== undefined);
  }

  /**
   * Stops taking tasks, lets running ones finish for up to `graceMs`, then kills
   * every worker's process group. Resolves when no worker process is left.
   */
  async close(graceMs: number): Promise<void> {
    this.closing = true;
    for (const w of this.waiting.splice(0)) {
      w.signal?.removeEventListener('abort', w.onAbort);
      w.reject(new AppError('SHUTTING_DOWN', 'the server is shutting down'));
    }
    for (const slot of this.slots) clearTimeout(slot.respawnTimer);
    const all = () => this.allWorkers().filter((w) => w.state !== 'dead');
    for (const w of all()) w.retire('shutdown', graceMs);
    const deadline = new Promise((r) => setTimeout(r, graceMs).unref());
    await Promise.race([Promise.all(all().map((w) => w.exited)), deadline]);
    for (const w of all()) w.kill('shutdown');
    await Promise.all(all().map((w) => w.exited));
  }

  /** Synchronous last resort at process exit: no worker outlives the server. */
  killAllNow(): void {
    for (const w of this.allWorkers()) if (w.state !== 'dead') w.kill('shutdown');
  }

  private spawnInto(slot: Slot, asReplacement = false): WorkerProcess {
    const worker = new WorkerProcess({
      slot: slot.index,
      config: this.options.config,
      logger: this.options.logger,
      entry: this.entry,
      execArgv: this.execArgv,
      onModel: (w, event) => {
        for (const l of this.modelListeners) l({ ...event, pid: w.pid });
      },
      onExit: (w, code, signal) => this.onExit(slot, w, code, signal),
    });
    this.totals.spawned++;
    if (asReplacement) slot.replacement = worker;
    else slot.worker = worker;
    worker.ready.then(
      () => {
        slot.failures = 0;
        this.lastEngineStatus = worker.engines;
        if (worker.readyMs !== undefined) {
          this.spawnToReadyMs.push(worker.readyMs);
          for (const o of this.observers) o.workerReady(worker.readyMs);
          if (this.spawnToReadyMs.length > 100) this.spawnToReadyMs.shift();
        }
        this.options.logger.debug({ workerPid: worker.pid, slot: slot.index, readyMs: Math.round(worker.readyMs ?? 0) }, 'worker ready');
        if (slot.replacement === worker) this.promoteReplacement(slot);
        this.dispatch();
      },
      (err: unknown) => {
        this.lastStartupError = err;
        this.options.logger.error({ err, workerPid: worker.pid, slot: slot.index }, 'worker failed to start');
      },
    );
    return worker;
  }

  private promoteReplacement(slot: Slot): void {
    const old = slot.worker;
    slot.worker = slot.replacement;
    slot.replacement = undefined;
    if (old !== undefined && old.state !== 'dead') {
      slot.leaving.push(old);
      old.retire(slot.recycleReason ?? 'tasks');
    }
    slot.recycleReason = undefined;
    if (this.recyclingSlot === slot) {
      this.recyclingSlot = undefined;
      this.nextRecycle();
    }
  }

  /**
   * The idle worker for work on `model`: one that holds it (no load), else the
   * one that has waited longest (work, and wear, spread over every slot).
   */
  private nextIdle(model: string | undefined): Slot | undefined {
    let best: Slot | undefined;
    let bestHolds = false;
    for (const s of this.slots) {
      if (s.worker?.state !== 'idle') continue;
      const holds = model !== undefined && s.worker.models.has(model);
      const longer = best === undefined || s.worker.idleSince < (best.worker?.idleSince ?? Infinity);
      if ((holds && !bestHolds) || (holds === bestHolds && longer)) {
        best = s;
        bestHolds = holds;
      }
    }
    return best;
  }

  private dispatch(): void {
    while (this.waiting.length > 0 && !this.closing) {
      const slot = this.nextIdle(this.waiting[0]?.model);
      if (slot === undefined || slot.worker === undefined) return;
      const job = this.waiting.shift()!;
      job.signal?.removeEventListener('abort', job.onAbort);
      const worker = slot.worker;
      worker.currentModel = job.model;
      job.begin(slot, worker);
      this.beforeTask(slot, worker);
    }
  }

  /** The models every live worker holds, as each reported them. */
  models(): HeldModel[] {
    return this.allWorkers().flatMap((w) =>
      w.state === 'dead'
        ? []
        : [...w.models].map(([id, m]) => ({ id, bytes: m.bytes, inUse: w.state !== 'idle' && w.currentModel === id, lastUsedAt: m.lastUsedAt, pid: w.pid, slot: w.slot })),
    );
  }

  /**
   * Asks every live worker holding model `id` to unload it: an idle one at
   * once (awaited, up to 5 s, until it reports the unload), a busy one after
   * the decode using it (not awaited).
   */
  async evictModel(id: string): Promise<void> {
    const idle: WorkerProcess[] = [];
    for (const w of this.allWorkers()) {
      if (w.state === 'dead' || !w.models.has(id) || !w.child.connected) continue;
      w.child.send({ type: 'evict-model', model: id });
      if (w.currentModel !== id) idle.push(w);
    }
    const deadline = performance.now() + 5000;
    while (idle.some((w) => w.state !== 'dead' && w.models.has(id)) && performance.now() < deadline) await sleep(20);
  }

  observeModels(listener: (event: ModelEventMessage & { pid: number }) => void): void {
    this.modelListeners.push(listener);
  }

  /**
   * As a worker takes a task (or stream) that is its last by
   * MAX_TASKS_PER_WORKER, its replacement starts warming, so that it is
   * ready by the time that task ends and no request waits for a spawn.
   */
  private beforeTask(slot: Slot, worker: WorkerProcess): void {
    if (worker.tasksDone + 1 >= this.options.config.MAX_TASKS_PER_WORKER) this.recycle(slot, worker, 'tasks');
  }

  /** After each task: retire a worker that is due (tasks or RSS), else give it the next task. */
  private async afterTask(slot: Slot, worker: WorkerProcess): Promise<void> {
    const used = worker.currentModel === undefined ? undefined : worker.models.get(worker.currentModel);
    if (used !== undefined) used.lastUsedAt = Date.now();
    worker.currentModel = undefined;
    if (worker.state === 'retiring') {
      worker.retire(worker.endReason ?? 'tasks');
      return;
    }
    worker.rssBytes = readRssBytes(worker.pid);
    const reason = recycleDue(worker, this.options.config);
    if (reason !== undefined) this.recycle(slot, worker, reason);
    this.dispatch();
  }

  /** Starts replacing the slot's worker, once (a later reason for the same worker changes nothing). */
  private recycle(slot: Slot, worker: WorkerProcess, reason: RecycleReason): void {
    if (slot.worker !== worker || slot.recycleReason !== undefined) return;
    slot.recycleReason = reason;
    this.totals.recycled[reason]++;
    this.options.logger.info({ workerPid: worker.pid, slot: slot.index, reason, tasksDone: worker.tasksDone, rssBytes: worker.rssBytes }, 'recycling worker');
    if (reason === 'rss') {
      // Past its memory cap a worker takes no more work: it retires now and its
      // replacement starts at once (not staggered: this slot is out of service anyway).
      worker.retire('rss');
      this.spawnInto(slot, true);
    } else {
      // Due by task count (from the start of its last task): it keeps serving until its
      // replacement is warm, and such recycles go one at a time, so capacity never dips.
      if (!this.recycleQueue.includes(slot)) this.recycleQueue.push(slot);
      this.nextRecycle();
    }
  }

  /** One tasks-recycle at a time (staggered), each replacement warm before its old worker retires. */
  private nextRecycle(): void {
    if (this.recyclingSlot !== undefined || this.closing) return;
    const slot = this.recycleQueue.shift();
    if (slot === undefined) return;
    if (slot.worker === undefined || slot.worker.state === 'dead' || slot.replacement !== undefined) return this.nextRecycle();
    this.recyclingSlot = slot;
    this.spawnInto(slot, true);
  }

  private onExit(slot: Slot, worker: WorkerProcess, code: number | null, signal: NodeJS.Signals | null): void {
    const reason: EndReason = worker.endReason ?? 'crash';
    const planned = countExit(this.totals, reason);
    if (!planned) {
      this.options.logger.warn({ workerPid: worker.pid, slot: slot.index, reason, code, signal }, 'worker exited');
    }

    if (slot.replacement === worker) {
      // A replacement died while warming. A worker still serving the slot (a tasks
      // recycle) keeps it and the recycle is retried later; an empty slot respawns.
      slot.replacement = undefined;
      slot.failures++;
      const stillServing = slot.worker !== undefined && slot.worker.state !== 'dead' && slot.worker.state !== 'retiring';
      if (this.recyclingSlot === slot) this.recyclingSlot = undefined;
      if (stillServing && slot.recycleReason !== undefined) {
        if (!this.recycleQueue.includes(slot)) this.recycleQueue.push(slot);
        this.scheduleRespawn(slot, () => this.nextRecycle());
      } else {
        slot.recycleReason = undefined;
        this.scheduleRespawn(slot, () => {
          if (slot.worker === undefined && slot.replacement === undefined) this.spawnInto(slot);
        });
        this.nextRecycle();
      }
      return;
    }
    const leaving = slot.leaving.indexOf(worker);
    if (leaving >= 0) slot.leaving.splice(leaving, 1);
    if (slot.worker !== worker) return; // a retired worker leaving: its slot already has the new one
    slot.worker = undefined;
    if (this.closing) return;
    if (slot.replacement !== undefined) return; // its replacement is warming and takes the slot when ready
    if (reason === 'crash' || reason === 'startup-failed') slot.failures++;
    this.scheduleRespawn(slot, () => {
      if (slot.worker === undefined && slot.replacement === undefined) this.spawnInto(slot);
    });
  }

  /** Respawns at once after a planned kill, with doubling backoff after failures (never a hot loop). */
  private scheduleRespawn(slot: Slot, spawn: () => void): void {
    if (this.closing) return;
    const delay = respawnDelayMs(slot.failures, this.options.config.WORKER_RESPAWN_BACKOFF_MAX_SECONDS * 1000);
    clearTimeout(slot.respawnTimer);
    slot.respawnTimer = setTimeout(() => {
      slot.respawnTimer = undefined;
      if (!this.closing) spawn();
    }, delay);
  }
}
