import { AppError } from '../errors.js';

export interface AdmissionOptions {
  /** Tasks that run at once (the executor's concurrency). */
  concurrency: number;
  /** Admitted tasks that may wait beyond those running. */
  maxQueue: number;
}

/** A read-only view for /api/v1/capacity, metrics and the web page. */
export interface AdmissionSnapshot {
  active: number;
  queued: number;
  concurrency: number;
  maxQueue: number;
  available: number;
  atCapacity: boolean;
}

interface Waiter {
  start: () => void;
}

const RECENT = 20;

/**
 * A bounded FIFO in front of an executor. `check()` tells at once, before any
 * upload is read, whether the line is full (AT_CAPACITY with a Retry-After
 * estimate), without taking a place; `admit()` takes one (a ticket), or
 * refuses the same way. An upload is admitted once it is in, so that a slow
 * sender holds no place; a job before it is claimed. A ticket counts as
 * queued from admission (while its audio decodes) until it runs.
 */
export class Admission {
  private active = 0;
  private admitted = 0;
  private readonly waiting: Waiter[] = [];
  private readonly recentMs: number[] = [];

  constructor(private readonly options: AdmissionOptions) {}

  /** Throws AT_CAPACITY when no place is free now; takes none (a request's early refusal, before its upload). */
  check(): void {
    if (this.active + this.admitted >= this.options.concurrency + this.options.maxQueue) {
      const retryAfter = this.retryAfterSeconds();
      throw new AppError('AT_CAPACITY', `server at capacity: ${this.active} running and ${this.admitted} queued; retry in ${retryAfter} s`, {
        details: { retry_after_seconds: retryAfter },
      });
    }
  }

  /** A place in line, or AT_CAPACITY when none is free. */
  admit(): Ticket {
    this.check();
    this.admitted++;
    return new Ticket(this);
  }

  /**
   * An engine slot held from now until `release()`, only if one is free right
   * now (nothing running or waiting in its place): a live stream cannot wait in
   * line while its audio arrives. `reserved` slots must stay free after it
   * (STREAM_RESERVED_ENGINES: engines kept for file work, which a stream holds
   * for minutes or hours). A lease is not a task: a stream open for an hour
   * says nothing about when a slot frees up, so it stays out of Retry-After
   * estimates.
   */
  lease(options: { reserved?: number } = {}): Lease {
    const reserved = options.reserved ?? 0;
    if (this.active + this.admitted + reserved >= this.options.concurrency) {
      const retryAfter = this.retryAfterSeconds();
      const kept = reserved > 0 ? ` of ${this.options.concurrency}, and ${reserved} kept for file work (STREAM_RESERVED_ENGINES)` : '';
      throw new AppError('AT_CAPACITY', `no engine free for a live stream: ${this.active} running and ${this.admitted} queued${kept}; retry in ${retryAfter} s`, {
        details: { retry_after_seconds: retryAfter },
      });
    }
    this.active++;
    return new Lease(() => this.handOver());
  }

  snapshot(): AdmissionSnapshot {
    const total = this.options.concurrency + this.options.maxQueue;
    const used = this.active + this.admitted;
    return {
      active: this.active,
      queued: this.admitted,
      concurrency: this.options.concurrency,
      maxQueue: this.options.maxQueue,
      available: Math.max(0, total - used),
      atCapacity: used >= total,
    };
  }

  /** Seconds until a slot is likely free, from recent task times. */
  retryAfterSeconds(): number {
    const avgMs = this.recentMs.length === 0 ? 5000 : this.recentMs.reduce((a, b) => a + b, 0) / this.recentMs.length;
    const ahead = this.admitted + 1;
    return Math.max(1, Math.ceil((avgMs * ahead) / this.options.concurrency / 1000));
  }

  /** @internal */
  async runTicket<T>(fn: () => Promise<T>, signal: AbortSignal | undefined): Promise<T> {
    if (this.active >= this.options.concurrency) {
      await new Promise<void>((resolve, reject) => {
        const waiter: Waiter = {
          start: () => {
            signal?.removeEventListener('abort', onAbort);
            resolve();
          },
        };
        const onAbort = () => {
          const i = this.waiting.indexOf(waiter);
          if (i >= 0) this.waiting.splice(i, 1);
          this.admitted--;
          reject(new AppError('REQUEST_ABORTED', 'the client went away while the request was queued'));
        };
        if (signal?.aborted) return onAbort();
        signal?.addEventListener('abort', onAbort, { once: true });
        this.waiting.push(waiter);
      });
    } else {
      this.active++;
    }
    // From here this ticket holds an active slot (handed over by the finishing task when it waited).
    this.admitted--;
    const started = performance.now();
    try {
      return await fn();
    } finally {
      this.recentMs.push(performance.now() - started);
      if (this.recentMs.length > RECENT) this.recentMs.shift();
      this.handOver();
    }
  }

  /** A slot frees: the first waiter takes it, or it becomes free. */
  private handOver(): void {
    const next = this.waiting.shift();
    if (next !== undefined) next.start();
    else this.active--;
  }

  /** @internal */
  releaseUnused(): void {
    this.admitted--;
  }
}

/** A place in line. Use it once with `run`, or give it back with `release`. */
export class Ticket {
  private used = false;
  constructor(private readonly admission: Admission) {}

  run<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (this.used) throw new Error('ticket already used');
    this.used = true;
    return this.admission.runTicket(fn, signal);
  }

  /** Gives the place back if it was never run (upload failed, bad input). Safe to call twice. */
  release(): void {
    if (this.used) return;
    this.used = true;
    this.admission.releaseUnused();
  }
}

/** An engine slot held now, for as long as its holder wants (a live stream). */
export class Lease {
  private released = false;
  constructor(private readonly free: () => void) {}

  /** Frees the slot (the next waiting task takes it). Safe to call twice. */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.free();
  }
}
