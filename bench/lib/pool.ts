import { setTimeout as sleep } from 'node:timers/promises';

/** GET /debug/pool as the server answers it (src/http/routes/debug.ts). */
export interface PoolWorkerView {
  slot: number;
  pid: number;
  state: 'starting' | 'idle' | 'busy' | 'retiring' | 'dead';
  tasks_done: number;
  rss_bytes: number | null;
  uptime_seconds: number;
  spawn_to_ready_ms: number | null;
  current_task: { id: string; age_seconds: number } | null;
}

export interface PoolView {
  enabled: boolean;
  size: number;
  ready_workers: number;
  busy_workers: number;
  waiting_tasks: number;
  degraded: boolean;
  workers: PoolWorkerView[];
  totals: {
    spawned: number;
    recycled: { tasks: number; rss: number; timeout: number; crash: number; cancel: number };
    crashed: number;
    timed_out: number;
    startup_failures: number;
  };
}

export async function readPool(baseUrl: string): Promise<PoolView> {
  const res = await fetch(`${baseUrl}/debug/pool`);
  if (res.status !== 200) throw new Error(`GET /debug/pool: HTTP ${res.status} (is ENABLE_DEBUG_ENDPOINTS on?)`);
  return (await res.json()) as PoolView;
}

/** Polls /debug/pool until `done` holds; throws with the last view after `timeoutMs`. */
export async function waitForPool(baseUrl: string, done: (p: PoolView) => boolean, timeoutMs: number, pollMs = 50): Promise<PoolView> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const view = await readPool(baseUrl);
    if (done(view)) return view;
    if (performance.now() > deadline) throw new Error(`the pool did not settle within ${timeoutMs} ms: ${JSON.stringify(view)}`);
    await sleep(pollMs);
  }
}

/** Every worker warm: `size` workers listed, all idle, none starting or retiring, each with a spawn time. */
export function poolSettled(p: PoolView): boolean {
  return p.workers.length === p.size && p.workers.every((w) => w.state === 'idle' && w.spawn_to_ready_ms !== null);
}

/** Total of recycles of every reason. */
export function recycledTotal(p: PoolView): number {
  return Object.values(p.totals.recycled).reduce((a, b) => a + b, 0);
}

/** GET /metrics as `name{labels}` -> value (Prometheus text format; comments skipped). */
export async function readMetrics(baseUrl: string): Promise<Map<string, number>> {
  const res = await fetch(`${baseUrl}/metrics`);
  if (res.status !== 200) throw new Error(`GET /metrics: HTTP ${res.status}`);
  const out = new Map<string, number>();
  for (const line of (await res.text()).split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}
