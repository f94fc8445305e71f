import type { EngineStream, StreamCallbacks } from '../engines/index.js';
import { AppError, fromSerializedError } from '../errors.js';
import type { FromWorker, ToWorker } from './protocol.js';

/** What a stream tells its opener; `onError` ends it (a worker crash, an engine failure). */
export type PoolStreamCallbacks = StreamCallbacks & { onError(err: Error): void };

/** How long a worker has to answer `stream-abort` before it is killed. */
export const STREAM_ABORT_GRACE_MS = 2000;

interface Deferred {
  promise: Promise<void>;
  resolve(): void;
  reject(err: unknown): void;
}

export interface PoolStreamOptions {
  id: string;
  callbacks: PoolStreamCallbacks;
  send(msg: ToWorker): void;
  /** Kills the worker: it did not answer an abort in time. */
  kill(): void;
  /** The worker answered that the stream is over: it is free again. */
  release(): void;
  abortGraceMs?: number | undefined;
}

type State = 'starting' | 'open' | 'ending' | 'aborting' | 'over';

/**
 * The server's side of a live stream running in a worker: the EngineStream a
 * caller writes to, each write resolved by the worker's acknowledgement (the
 * backpressure), results and errors passed on from the worker's messages.
 * No time limit applies: a stream lasts as long as its client sends.
 */
export class PoolStream implements EngineStream {
  readonly id: string;
  readonly startedAt = performance.now();
  /** Resolves when the worker has opened the engine stream; rejects if it could not. */
  readonly opened: Promise<void>;
  /** Resolves once the stream is over, whichever way (the worker is then free or dead). */
  readonly over: Promise<void>;
  private state: State = 'starting';
  private readonly openedD = deferred();
  private readonly overD = deferred();
  private readonly writes: Deferred[] = [];
  private ending: Deferred | undefined;
  private aborting: Deferred | undefined;
  private abortTimer: NodeJS.Timeout | undefined;
  /** Why the stream ended, for calls made after. */
  private failure: Error | undefined;

  constructor(private readonly options: PoolStreamOptions) {
    this.id = options.id;
    this.opened = this.openedD.promise;
    this.over = this.overD.promise;
  }

  write(pcm: Int16Array): Promise<void> {
    if (this.state !== 'open') return Promise.reject(this.closedError('write to'));
    const d = deferred();
    this.writes.push(d);
    this.options.send({ type: 'stream-audio', id: this.id, pcm });
    return d.promise;
  }

  end(): Promise<void> {
    if (this.state === 'ending') return this.ending!.promise;
    if (this.state !== 'open') return Promise.reject(this.closedError('end'));
    this.state = 'ending';
    this.ending = deferred();
    this.options.send({ type: 'stream-end', id: this.id });
    return this.ending.promise;
  }

  abort(): Promise<void> {
    if (this.state === 'over') return Promise.resolve();
    if (this.aborting !== undefined) return this.aborting.promise;
    this.aborting = deferred();
    this.rejectPending(new AppError('REQUEST_ABORTED', 'the stream was aborted'));
    this.state = 'aborting';
    this.options.send({ type: 'stream-abort', id: this.id });
    // A worker stuck in native code cannot answer; killing it is the only way to get the slot back.
    this.abortTimer = setTimeout(() => this.options.kill(), this.options.abortGraceMs ?? STREAM_ABORT_GRACE_MS);
    return this.aborting.promise;
  }

  /** A message from the worker with this stream's id. */
  receive(msg: Extract<FromWorker, { id: string }>): void {
    if (this.state === 'over') return;
    switch (msg.type) {
      case 'stream-started':
        if (this.state === 'starting') this.state = 'open';
        this.openedD.resolve();
        return;
      case 'stream-partial':
        if (this.state === 'open' || this.state === 'ending') this.options.callbacks.onPartial(msg.text);
        return;
      case 'stream-partial-held':
        if (this.state === 'open' || this.state === 'ending') this.options.callbacks.onPartialHeld?.();
        return;
      case 'stream-final':
        if (this.state === 'open' || this.state === 'ending') this.options.callbacks.onFinal(msg.final);
        return;
      case 'stream-speech':
        if (this.state === 'open' || this.state === 'ending') this.options.callbacks.onSpeech?.(msg.event);
        return;
      case 'stream-written':
        this.writes.shift()?.resolve();
        return;
      case 'stream-ended':
        this.ending?.resolve();
        this.finish(true);
        return;
      case 'error':
        // After an abort the error only says the worker is free; the caller asked for the end.
        if (this.state !== 'aborting') this.fail(fromSerializedError(msg.error));
        this.finish(true);
        return;
    }
  }

  /** The worker process exited: a crash, unless the stream was being aborted (then it was killed for that). */
  workerExited(err: AppError): void {
    if (this.state === 'over') return;
    if (this.state !== 'aborting') this.fail(err);
    this.finish(false);
  }

  private fail(err: Error): void {
    this.failure = err;
    const wasStarting = this.state === 'starting';
    this.rejectPending(err);
    // Before `opened` resolved, the opener learns of it from that rejection instead.
    if (!wasStarting) this.options.callbacks.onError(err);
  }

  private rejectPending(err: unknown): void {
    this.openedD.reject(err);
    for (const w of this.writes.splice(0)) w.reject(err);
    this.ending?.reject(err);
  }

  private finish(workerFree: boolean): void {
    // Normally nothing is left: the worker acknowledges every write before it ends.
    this.rejectPending(this.failure ?? new AppError('INTERNAL_ERROR', 'the stream ended before the worker answered'));
    this.state = 'over';
    clearTimeout(this.abortTimer);
    this.aborting?.resolve();
    if (workerFree) this.options.release();
    this.overD.resolve();
  }

  private closedError(what: string): Error {
    return this.failure ?? new AppError('INTERNAL_ERROR', `cannot ${what} a stream that is ${this.state}`);
  }
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Rejections nobody asked for (a write never made, an end never called) are not errors.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}
