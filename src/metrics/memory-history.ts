import type { WorkerPool } from '../pool/index.js';

/** One reading of the server's and each live worker's resident memory. */
export interface MemorySample {
  /** Epoch milliseconds. */
  t: number;
  server_rss_bytes: number;
  workers: { slot: number; pid: number; rss_bytes: number | null }[];
}

export interface MemoryHistoryOptions {
  /** Undefined when ENABLE_PROCESS_ISOLATED=false: only the server is sampled. */
  pool: WorkerPool | undefined;
  intervalMs?: number;
  /** Samples kept; the oldest is dropped first. */
  capacity?: number;
}

/**
 * A ring buffer of memory samples taken on a timer, so the web page can draw the
 * last minutes without a Prometheus. It only reads (process.memoryUsage and the
 * pool's read-only snapshot), never steers.
 */
export class MemoryHistory {
  readonly intervalMs: number;
  readonly capacity: number;
  private readonly pool: WorkerPool | undefined;
  private readonly ring: MemorySample[] = [];
  private timer: NodeJS.Timeout | undefined;
  private sampling = false;

  constructor(options: MemoryHistoryOptions) {
    this.pool = options.pool;
    this.intervalMs = options.intervalMs ?? 2000;
    this.capacity = options.capacity ?? 300;
  }

  start(): void {
    if (this.timer !== undefined) return;
    void this.sample();
    this.timer = setInterval(() => void this.sample(), this.intervalMs);
    // A sampler never keeps the process alive on its own.
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Oldest first. */
  samples(): MemorySample[] {
    return [...this.ring];
  }

  /** Takes one sample now (the timer calls this; tests may too). */
  async sample(): Promise<void> {
    // A slow /proc read must not pile up readings behind it.
    if (this.sampling) return;
    this.sampling = true;
    try {
      await this.pool?.refreshRss();
      const workers = (this.pool?.snapshot().workers ?? [])
        .filter((w) => w.state !== 'dead')
        .map((w) => ({ slot: w.slot, pid: w.pid, rss_bytes: w.rssBytes ?? null }));
      this.ring.push({ t: Date.now(), server_rss_bytes: process.memoryUsage.rss(), workers });
      if (this.ring.length > this.capacity) this.ring.splice(0, this.ring.length - this.capacity);
    } finally {
      this.sampling = false;
    }
  }
}
