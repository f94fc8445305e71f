/**
 * What a Prometheus scrape of GET /metrics costs a busy-sized hark:
 *   - a child server (`node dist/main.js`) with WORKER_COUNT=12 real worker
 *     processes and 10,000 finished jobs in its SQLite store (inserted before it
 *     starts);
 *   - ~200 sequential scrapes: client-side time p50/p95/p99/max (target p95 < 5 ms)
 *     and body size;
 *   - the server's event-loop delay while scraping back to back, read from its own
 *     prom-client gauges (perf_hooks monitorEventLoopDelay, reset at every scrape,
 *     so each scrape reports the delay since the previous one);
 *   - GET /healthz latency idle and during back-to-back scrapes (what other clients feel);
 *   - the two job-store queries a scrape makes (count by status, running jobs),
 *     timed in this process on the same database file.
 * Prints figures; asserts nothing.
 *
 *   npm run bench:metrics [-- --workers 12 --jobs 10000 --scrapes 200]
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { SqliteStore } from '../src/store/index.js';
import { startChildServer, waitFor, type ChildServer } from '../src/loadtest/child-server.js';

const TARGET_P95_MS = 5;
const CLIP = fileURLToPath(new URL('../../shared/corpus/dev/wav/1089-134686-0001.wav', import.meta.url));

const { values: flags } = parseArgs({
  options: {
    workers: { type: 'string', default: '12' },
    jobs: { type: 'string', default: '10000' },
    scrapes: { type: 'string', default: '200' },
  },
});
const WORKERS = Number(flags.workers);
const JOBS = Number(flags.jobs);
const SCRAPES = Number(flags.scrapes);

// ---- small helpers (kept here: bench/lib belongs to the other benches) ----

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}

const ms = (x: number) => `${x.toFixed(2)} ms`;
const summary = (xs: number[]) => `p50 ${ms(quantile(xs, 0.5))}  p95 ${ms(quantile(xs, 0.95))}  p99 ${ms(quantile(xs, 0.99))}  max ${ms(Math.max(...xs))}  (n=${xs.length})`;

async function timed<T>(f: () => Promise<T>): Promise<[number, T]> {
  const t0 = performance.now();
  const v = await f();
  return [performance.now() - t0, v];
}

/** The value of an unlabelled sample in a /metrics body. */
function sampleValue(body: string, name: string): number {
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(body);
  return m ? Number(m[1]) : NaN;
}

/** CPU seconds (user + system, all threads) the process has used: steady under a loaded machine, unlike wall time. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in USER_HZ (100 on Linux)
}

function rssMb(pid: number): number {
  try {
    return Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
  } catch {
    return 0;
  }
}

/** 10,000 finished jobs (completed/failed/cancelled: nothing for the runner to pick up), in one transaction. */
async function seedJobs(dbPath: string, n: number): Promise<void> {
  const store = await SqliteStore.open(dbPath);
  await store.migrate();
  await store.close();
  const db = new Database(dbPath);
  const insert = db.prepare(`INSERT INTO transcription_jobs
    (id, status, priority, priority_rank, created_at, started_at, finished_at, file_name, file_size, duration_seconds,
     audio_path, options, engine, isolation, attempts, error_code, error_message, result, progress, log_file_path)
    VALUES (?, ?, 'normal', 1, ?, ?, ?, 'clip.wav', 105000, 3.3, NULL, '{}', 'pocketsphinx', 'process', 1, ?, ?, ?, 1, ?)`);
  const now = Date.now();
  const result = JSON.stringify({ text: 'stuff it into you', language: 'en', duration_seconds: 3.3, confidence: 0.5, segments: [], words: [] });
  db.transaction(() => {
    for (let i = 0; i < n; i++) {
      const status = i % 10 === 0 ? 'failed' : i % 25 === 1 ? 'cancelled' : 'completed';
      const at = now - (n - i) * 1000;
      insert.run(
        `bench-${String(i).padStart(6, '0')}`, status, at, at + 100, at + 900,
        status === 'failed' ? 'WORKER_CRASHED' : null, status === 'failed' ? 'worker died' : null,
        status === 'completed' ? result : null, join(tmpdir(), `bench-${i}.log`),
      );
    }
  })();
  db.close();
}

/** The server: SIGTERM lets it take its workers down; SIGKILL to its group after 15 s. */
async function startServer(dataDir: string): Promise<ChildServer> {
  const server = await startChildServer({ dataDir, env: { LOG_LEVEL: 'warn', WORKER_COUNT: String(WORKERS), SHUTDOWN_GRACE_SECONDS: '2' } });
  return { ...server, stop: () => server.stop({ graceMs: 15_000 }) };
}

// ---- the bench ----

const dataDir = await mkdtemp(join(tmpdir(), 'hark-bench-metrics-'));
let server: ChildServer | undefined;
const cleanup = async () => {
  await server?.stop();
  await rm(dataDir, { recursive: true, force: true });
};
process.once('SIGINT', () => void cleanup().finally(() => process.exit(130)));

try {
  console.log(`hark /metrics scrape cost: ${WORKERS} workers, ${JOBS} jobs, ${SCRAPES} scrapes; load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  const dbPath = join(dataDir, 'hark.db');
  const [seedMs] = await timed(() => seedJobs(dbPath, JOBS));
  console.log(`seeded ${JOBS} jobs in ${seedMs.toFixed(0)} ms`);

  const [bootMs, s] = await timed(async () => {
    // Kept where cleanup() finds it as soon as it runs, so a failed wait leaves no server behind.
    const s = (server = await startServer(dataDir));
    await waitFor(async () => {
      const view = (await (await fetch(`${s.url}/debug/pool`)).json()) as { workers: { state: string }[] };
      return view.workers.length === WORKERS && view.workers.every((w) => w.state === 'idle');
    }, 120_000).catch(() => {
      throw new Error(`${WORKERS} workers were not idle within 120 s`);
    });
    return s;
  });
  console.log(`server ready with ${WORKERS} warm workers in ${(bootMs / 1000).toFixed(1)} s; server RSS ${rssMb(s.pid).toFixed(0)} MB`);

  // A few transcriptions first, so histograms and counters have the series a real server has.
  const form = () => {
    const f = new FormData();
    f.append('file', new Blob([readFileSync(CLIP)], { type: 'audio/wav' }), 'clip.wav');
    return f;
  };
  const warm = await Promise.all([
    fetch(`${s.url}/transcriptions/process-isolated`, { method: 'POST', body: form() }),
    fetch(`${s.url}/transcriptions/process-isolated`, { method: 'POST', body: form() }),
    fetch(`${s.url}/transcriptions/sync`, { method: 'POST', body: form() }),
  ]);
  if (warm.some((r) => r.status !== 200)) throw new Error(`warm-up transcriptions answered ${warm.map((r) => r.status).join(', ')}`);

  const first = await (await fetch(`${s.url}/metrics`)).text();
  const jobsSeen = [...first.matchAll(/^hark_jobs\{status="\w+"\} (\d+)$/gm)].reduce((a, m) => a + Number(m[1]), 0);
  const workerSeries = [...first.matchAll(/^hark_worker_resident_memory_bytes\{slot="\d+"\} (\d+)$/gm)].filter((m) => Number(m[1]) > 0).length;
  console.log(`/metrics: ${first.length} bytes, ${first.split('\n').filter((l) => l && !l.startsWith('#')).length} samples; hark_jobs total ${jobsSeen}; ${workerSeries} worker RSS series > 0`);
  for (let i = 0; i < 20; i++) await (await fetch(`${s.url}/metrics`)).text(); // JIT warm-up

  // 1. /healthz idle: the HTTP round trip without a scrape.
  const healthIdle: number[] = [];
  const cpuHealth0 = cpuSeconds(s.pid);
  for (let i = 0; i < SCRAPES; i++) {
    healthIdle.push((await timed(async () => (await fetch(`${s.url}/healthz`)).text()))[0]);
    await sleep(5);
  }

  const cpuHealthMs = ((cpuSeconds(s.pid) - cpuHealth0) * 1000) / SCRAPES;

  // 2. Sequential scrapes, spaced like a busy Prometheus (and to let the loop idle between them).
  const scrapeMs: number[] = [];
  const cpuScrape0 = cpuSeconds(s.pid);
  const lagMaxMs: number[] = [];
  for (let i = 0; i < SCRAPES; i++) {
    const [t, body] = await timed(async () => (await fetch(`${s.url}/metrics`)).text());
    scrapeMs.push(t);
    lagMaxMs.push(sampleValue(body, 'nodejs_eventloop_lag_max_seconds') * 1000);
    await sleep(5);
  }
  const cpuScrapeMs = ((cpuSeconds(s.pid) - cpuScrape0) * 1000) / SCRAPES;

  // 3. Back-to-back scrapes (no pause) while /healthz is probed every ~5 ms.
  const healthBusy: number[] = [];
  const busyLagMaxMs: number[] = [];
  let scraping = true;
  const prober = (async () => {
    while (scraping) {
      healthBusy.push((await timed(async () => (await fetch(`${s.url}/healthz`)).text()))[0]);
      await sleep(5);
    }
  })();
  const [burstMs] = await timed(async () => {
    for (let i = 0; i < SCRAPES; i++) busyLagMaxMs.push(sampleValue(await (await fetch(`${s.url}/metrics`)).text(), 'nodejs_eventloop_lag_max_seconds') * 1000);
  });
  scraping = false;
  await prober;

  // 4. The store queries behind hark_jobs and the running-job gauges, on the same file.
  const store = await SqliteStore.open(dbPath);
  const countMs: number[] = [];
  const runningMs: number[] = [];
  for (let i = 0; i < SCRAPES; i++) {
    countMs.push((await timed(() => store.jobs.countByStatus()))[0]);
    runningMs.push((await timed(() => store.runs.runningJobs()))[0]);
  }
  await store.close();

  console.log('');
  console.log(`scrape (client side, sequential)      ${summary(scrapeMs)}`);
  console.log(`/healthz idle (HTTP round trip)       ${summary(healthIdle)}`);
  console.log(`server CPU per request                /metrics ${ms(cpuScrapeMs)}, /healthz ${ms(cpuHealthMs)} (idle timers included; 10 ms ticks over ${SCRAPES} requests)`);
  // The server samples its loop every 10 ms (prom-client's default resolution), so
  // only stalls are meaningful here, not the percentiles of a 10 ms window.
  console.log(`server event-loop stall (its own gauge) worst ${ms(Math.max(...lagMaxMs))} sequential, ${ms(Math.max(...busyLagMaxMs))} back-to-back; p95 of per-scrape max ${ms(quantile(lagMaxMs, 0.95))} / ${ms(quantile(busyLagMaxMs, 0.95))}`);
  console.log(`back-to-back scrapes                  ${(SCRAPES / (burstMs / 1000)).toFixed(0)} scrapes/s`);
  console.log(`/healthz during back-to-back scrapes  ${summary(healthBusy)}`);
  console.log(`store: count by status (${JOBS} jobs)  ${summary(countMs)}`);
  console.log(`store: running jobs                   ${summary(runningMs)}`);
  console.log('');
  const p95 = quantile(scrapeMs, 0.95);
  console.log(`target: scrape p95 < ${TARGET_P95_MS} ms -> ${ms(p95)} ${p95 < TARGET_P95_MS ? 'OK' : 'OVER'}; load average at end ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
} finally {
  await cleanup();
}
