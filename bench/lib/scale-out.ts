/**
 * The scale-out comparison of bench:scale: one job set through
 *   A. one instance (ROLE=all) with a pool of 2 workers, and
 *   B. one ROLE=api instance plus 2 ROLE=worker instances with a pool of 1 worker each,
 * every instance on one PostgreSQL (a fresh database per setup). Jobs are submitted
 * all at once through the instance that takes uploads; throughput is audio seconds
 * per wall second from the first submit to the last finish, latency is a job's
 * created_at to finished_at (queueing included), from the store.
 */
import type { Clip } from '../../test/support/eval/index.js';
import { PostgresStore } from '../../src/store/index.js';
import { startPostgres, type TestPostgres } from '../../test/support/postgres.js';
import { startChildServer, type ChildServer } from './child-server.js';
import { postFile } from './http.js';
import { sum } from './runs.js';
import { percentile } from './stats.js';

export interface ScaleOutRun {
  setup: string;
  instances: string;
  jobs: number;
  audioSeconds: number;
  wallMs: number;
  latencyP50: number;
  latencyP95: number;
  /** Jobs finished by each instance that ran any (by pid of the process that decoded). */
  perProcess: Record<string, number>;
  /** Jobs run more than once (should be 0). */
  retried: number;
  failed: number;
}

const base = { ENABLE_PROCESS_ISOLATED: 'true', IN_PROCESS_CONCURRENCY: '1', ENABLE_DEBUG_ENDPOINTS: 'true', MAX_QUEUE_SIZE: '10000' };

async function submitAll(url: string, clips: readonly Clip[]): Promise<string[]> {
  const ids: string[] = [];
  for (const c of clips) {
    const res = await postFile(`${url}/api/v1/jobs`, c.path, { isolation: 'process' });
    if (res.status !== 202) throw new Error(`submit answered ${res.status}: ${res.body}`);
    ids.push((JSON.parse(res.body) as { job_id: string }).job_id);
  }
  return ids;
}

async function waitAll(store: PostgresStore, ids: readonly string[], timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const counts = await store.jobs.countByStatus();
    if (counts.completed + counts.failed + counts.cancelled >= ids.length) return;
    if (Date.now() > end) throw new Error(`jobs not finished within ${timeoutMs} ms: ${JSON.stringify(counts)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Runs the job set through one setup; `servers` get the database URL, the first takes uploads. */
async function runSetup(pg: TestPostgres, name: string, setup: string, instances: string, envs: Record<string, string>[], clips: readonly Clip[], warmup: Clip): Promise<ScaleOutRun> {
  const dbUrl = pg.createDatabase(name);
  const servers: ChildServer[] = [];
  const store = await PostgresStore.open(dbUrl, 2);
  try {
    // One at a time: the first migrates the database, the others find it ready.
    for (const env of envs) servers.push(await startChildServer({ env: { ...base, ...env, DATABASE_URL: dbUrl } }));
    const front = servers[0]!.url;
    // Warm: enough jobs that every pool worker has decoded once.
    const warm = await submitAll(front, Array.from({ length: 4 }, () => warmup));
    await waitAll(store, warm, 120_000);
    const ids = await submitAll(front, clips);
    await waitAll(store, [...warm, ...ids], 600_000);
    const jobs = await Promise.all(ids.map(async (id) => (await store.jobs.get(id))!));
    const first = Math.min(...jobs.map((j) => j.createdAt));
    const last = Math.max(...jobs.map((j) => j.finishedAt ?? 0));
    const latencies = jobs.map((j) => (j.finishedAt ?? last) - j.createdAt);
    const perProcess: Record<string, number> = {};
    for (const j of jobs) perProcess[String(j.processId)] = (perProcess[String(j.processId)] ?? 0) + 1;
    return {
      setup,
      instances,
      jobs: jobs.length,
      audioSeconds: sum(clips.map((c) => c.durationSeconds)),
      wallMs: last - first,
      latencyP50: percentile(latencies, 50),
      latencyP95: percentile(latencies, 95),
      perProcess,
      retried: jobs.filter((j) => j.attempts > 1).length,
      failed: jobs.filter((j) => j.status !== 'completed').length,
    };
  } finally {
    await store.close();
    for (const s of servers.reverse()) await s.stop();
  }
}

/** Both setups, one after the other, on one PostgreSQL started for the comparison. */
export async function compareScaleOut(clips: readonly Clip[], warmup: Clip): Promise<ScaleOutRun[]> {
  const pg = await startPostgres();
  try {
    const one = await runSetup(pg, 'scale_one', '1 instance x 2 workers', 'ROLE=all WORKER_COUNT=2', [{ ROLE: 'all', WORKER_COUNT: '2' }], clips, warmup);
    // The api keeps a pool of one (it validates jobs' isolation against its own settings and serves
    // synchronous requests); it claims no job, so that worker stays idle here.
    const two = await runSetup(
      pg,
      'scale_two',
      '2 worker instances x 1 worker (+1 api)',
      'ROLE=api + 2 x ROLE=worker WORKER_COUNT=1',
      [
        { ROLE: 'api', WORKER_COUNT: '1' },
        { ROLE: 'worker', WORKER_COUNT: '1' },
        { ROLE: 'worker', WORKER_COUNT: '1' },
      ],
      clips,
      warmup,
    );
    return [one, two];
  } finally {
    await pg.stop();
  }
}
