import { isTerminal, type JobStatus } from './model.js';

/** What a follower of a job's log sees: its lines in order, then once how the job ended. */
export type FollowEvent =
  | { type: 'line'; seq: number; text: string }
  /** `deleted`: the job is gone from the store (deleted while it was followed). */
  | { type: 'end'; status: JobStatus | 'deleted' };

/** Where followers read: the job store (through the job service), shared by every instance. */
export interface FollowSource {
  /** At most `limit` lines after `afterSeq`, in seq order. */
  lines(jobId: string, afterSeq: number, limit: number): Promise<{ seq: number; text: string }[]>;
  /** The job's status; undefined only when there is no such job. A failed read throws. */
  status(jobId: string): Promise<JobStatus | undefined>;
}

export interface LogFollowersOptions {
  /** Wait between two reads of the log (default 250 ms). */
  pollMs?: number;
  /** The status is read every this many polls (default 4: once a second). */
  statusEvery?: number;
  /** Wait after the job ended before the last read: its last lines are stored right after its status (default 300 ms). */
  settleMs?: number;
  /** Lines per read (default 500). */
  pageSize?: number;
  /** Waits after the 1st, 2nd, ... failed read in a row; the last repeats (default 250, 500, 1000, 2000 ms). */
  retryMs?: readonly number[];
}

export interface FollowOptions {
  /** Start after this line (a reconnect's Last-Event-ID); 0: from the first line. */
  afterSeq?: number | undefined;
  /** Stops following (the client left, the server stops). */
  signal?: AbortSignal | undefined;
  /** A read of the store failed; it is retried after a short wait, the follower goes on. */
  onError?: ((err: unknown) => void) | undefined;
}

/**
 * Followers of jobs' logs. The store is the source (so lines another instance
 * writes reach a follower here), polled by seq; every follower of one job on
 * this instance shares one poll, so a hundred followers cost one read every
 * 250 ms, not a hundred. A read that fails is retried with a short backoff:
 * only a job the store no longer has ends as `deleted`.
 */
export class LogFollowers {
  private readonly channels = new Map<string, Channel>();
  private readonly o: Required<LogFollowersOptions>;

  constructor(
    private readonly source: FollowSource,
    options: LogFollowersOptions = {},
  ) {
    this.o = {
      pollMs: options.pollMs ?? 250,
      statusEvery: options.statusEvery ?? 4,
      settleMs: options.settleMs ?? 300,
      pageSize: options.pageSize ?? 500,
      retryMs: options.retryMs ?? [250, 500, 1000, 2000],
    };
  }

  /**
   * Follows `jobId`'s log from `afterSeq`: line events, then one end event, then done.
   * Following starts at once (not at the first `next()`); `return()` (a `break` out of
   * `for await`) or the signal stops it.
   */
  follow(jobId: string, options: FollowOptions = {}): AsyncIterableIterator<FollowEvent> {
    const signal = options.signal;
    const channel = this.channels.get(jobId) ?? this.open(jobId);
    const stop = () => follower.close();
    const follower = new Follower(options.afterSeq ?? 0, options.onError, (f) => {
      signal?.removeEventListener('abort', stop);
      channel.remove(f);
    });
    channel.add(follower);
    if (signal?.aborted) follower.close();
    else signal?.addEventListener('abort', stop, { once: true });
    return follower;
  }

  private open(jobId: string): Channel {
    const channel = new Channel(jobId, this.source, this.o, () => {
      if (this.channels.get(jobId) === channel) this.channels.delete(jobId);
    });
    this.channels.set(jobId, channel);
    return channel;
  }

  /** Jobs followed on this instance right now (one poll each). */
  get followedJobs(): number {
    return this.channels.size;
  }
}

/** One follower's queue: events the shared poll pushed that its reader has not taken yet. */
class Follower implements AsyncIterableIterator<FollowEvent> {
  private readonly queue: FollowEvent[] = [];
  private waiting: ((r: IteratorResult<FollowEvent>) => void) | undefined;
  private ended = false;
  private closed = false;

  constructor(
    /** The last line pushed to this follower. */
    public after: number,
    readonly onError: ((err: unknown) => void) | undefined,
    private readonly leave: (f: Follower) => void,
  ) {}

  push(event: FollowEvent): void {
    if (this.ended || this.closed) return;
    if (event.type === 'line') this.after = event.seq;
    else this.ended = true;
    const waiting = this.waiting;
    this.waiting = undefined;
    if (waiting !== undefined) waiting({ value: event, done: false });
    else this.queue.push(event);
  }

  next(): Promise<IteratorResult<FollowEvent>> {
    const event = this.queue.shift();
    if (event !== undefined) return Promise.resolve({ value: event, done: false });
    if (this.ended || this.closed) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => (this.waiting = resolve));
  }

  return(): Promise<IteratorResult<FollowEvent>> {
    this.close();
    return Promise.resolve({ value: undefined, done: true });
  }

  /** Stops following: no more events, a pending `next()` resolves done. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue.length = 0;
    this.leave(this);
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<FollowEvent> {
    return this;
  }
}

/** The shared poll of one job's log: runs while it has followers, ends when the job does. */
class Channel {
  private readonly followers = new Set<Follower>();
  private running = false;
  private timer: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;

  constructor(
    private readonly jobId: string,
    private readonly source: FollowSource,
    private readonly o: Required<LogFollowersOptions>,
    private readonly onDone: () => void,
  ) {}

  add(f: Follower): void {
    this.followers.add(f);
    if (!this.running) {
      this.running = true;
      void this.run();
    }
  }

  remove(f: Follower): void {
    this.followers.delete(f);
    if (this.followers.size > 0) return;
    // Nobody left: a later follower gets a new channel, and this poll stops now, not after its sleep.
    this.onDone();
    this.interrupt();
  }

  private async run(): Promise<void> {
    let tick = 0;
    let failures = 0;
    while (this.followers.size > 0) {
      try {
        await this.pump();
        if (this.followers.size === 0) break;
        if (tick % this.o.statusEvery === 0) {
          const status = await this.source.status(this.jobId);
          if (status === undefined || isTerminal(status)) {
            await this.sleep(this.o.settleMs);
            await this.pump();
            this.finish({ type: 'end', status: status ?? 'deleted' });
            return;
          }
        }
        tick++;
        failures = 0;
        await this.sleep(this.o.pollMs);
      } catch (err) {
        // A failed read says nothing about the job: tell the followers, wait a little, read again.
        for (const f of this.followers) f.onError?.(err);
        await this.sleep(this.o.retryMs[Math.min(failures, this.o.retryMs.length - 1)] ?? 1000);
        failures++;
      }
    }
    this.finish(undefined);
  }

  /** Reads every line some follower has not had yet, in pages, and hands each follower what follows its position. */
  private async pump(): Promise<void> {
    for (;;) {
      if (this.followers.size === 0) return;
      const from = Math.min(...[...this.followers].map((f) => f.after));
      const lines = await this.source.lines(this.jobId, from, this.o.pageSize);
      // A follower that joined during the read, further back than it started, gets its lines on the next read.
      let behind = false;
      for (const f of this.followers) {
        if (f.after < from) behind = true;
        else for (const l of lines) if (l.seq > f.after) f.push({ type: 'line', seq: l.seq, text: l.text });
      }
      if (lines.length < this.o.pageSize && !behind) return;
    }
  }

  /** Synchronous with the last check, so a follower that comes later gets a new channel. */
  private finish(end: FollowEvent | undefined): void {
    this.onDone();
    if (end !== undefined) for (const f of [...this.followers]) f.push(end);
    this.followers.clear();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
      this.timer = setTimeout(resolve, ms);
    });
  }

  private interrupt(): void {
    clearTimeout(this.timer);
    this.wake?.();
    this.wake = undefined;
  }
}
