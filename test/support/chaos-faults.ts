import { poolView } from './http.js';

/** mulberry32: a small seeded generator, so a run's fault schedule can be replayed from its seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface WorkerKill {
  /** ms since the injector started. */
  t: number;
  pid: number;
  /** The worker's state in /debug/pool when it was picked (busy, idle, starting, retiring). */
  state: string;
}

export interface WorkerKillerOptions {
  random: () => number;
  /** The server to pick a victim from (it changes at the restart). */
  url: () => string | undefined;
  /** Wait between kills, ms: uniform in [min, max). */
  gapMs: [number, number];
  maxKills: number;
}

/**
 * SIGKILLs one worker process of the current server at random moments, as the
 * OOM killer or a native crash would: the victim is picked at random among the
 * live workers /debug/pool lists (busy, idle, warming or retiring), never the
 * server. While `url()` is undefined (the server is being restarted) it waits.
 */
export class WorkerKiller {
  readonly kills: WorkerKill[] = [];
  private running = false;
  private loop: Promise<void> = Promise.resolve();
  private wake: (() => void) | undefined;

  constructor(private readonly o: WorkerKillerOptions) {}

  start(): void {
    this.running = true;
    const started = performance.now();
    this.loop = (async () => {
      while (this.running && this.kills.length < this.o.maxKills) {
        const [min, max] = this.o.gapMs;
        await this.sleep(min + this.o.random() * (max - min));
        // Drawn whether or not it is used, so the schedule depends on the seed alone.
        const pick = this.o.random();
        const url = this.o.url();
        if (!this.running || url === undefined) continue;
        const view = await poolView(url).catch(() => undefined);
        const live = (view?.workers ?? []).filter((w) => w.state !== 'dead');
        const victim = live[Math.floor(pick * live.length)];
        if (victim === undefined) continue;
        try {
          process.kill(victim.pid, 'SIGKILL');
          this.kills.push({ t: Math.round(performance.now() - started), pid: victim.pid, state: victim.state });
        } catch {
          // It exited between the listing and the kill (a recycle): no fault injected.
        }
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }
}
