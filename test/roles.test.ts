import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/index.js';
import { JobLogs, OrphanRecovery, type Job } from '../src/jobs/index.js';
import { createLogger } from '../src/logger.js';
import { PostgresStore } from '../src/store/index.js';
import { joinWavs } from './support/audio.js';
import { spawnServer, waitFor, type ChildServer } from './support/child-server.js';
import { devClips } from './support/corpus.js';
import { newJob } from './support/store-suite/index.js';
import { getJob, submitJob } from './support/jobs.js';
import { startPostgres, type TestPostgres } from './support/postgres.js';

/*
 * ROLE=api and ROLE=worker instances as separate processes (`node dist/main.js`)
 * on one real PostgreSQL: the api stores jobs and answers for them, the workers
 * claim and run them, and a job's log lines live in the database.
 */

let pg: TestPostgres;
let dbUrl: string;
let store: PostgresStore;
let api: ChildServer;
const workers: ChildServer[] = [];
const short = [...devClips].sort((a, b) => a.durationSeconds - b.durationSeconds).slice(0, 30);

// In-process decodes keep the process count (and the test's time) down on two cores; the
// roles do not depend on the isolation mode. A heartbeat every 2 s: a lost worker's jobs are
// orphans after 6 s (at once when its pid is dead on this host), scanned every second. (With
// 1 s, a running job was once taken for an orphan on a machine at load 5 with four servers on
// one PostgreSQL: a 3 s gap between beats is within reach there.)
const common = { ENABLE_PROCESS_ISOLATED: 'false', IN_PROCESS_CONCURRENCY: '1', HEARTBEAT_SECONDS: '2', ORPHAN_SCAN_SECONDS: '1', SHUTDOWN_GRACE_SECONDS: '20' };
const startWorker = async () => {
  const w = await spawnServer({ ...common, ROLE: 'worker', DATABASE_URL: dbUrl });
  workers.push(w);
  return w;
};

beforeAll(async () => {
  pg = await startPostgres();
  dbUrl = pg.createDatabase('roles');
  api = await spawnServer({ ...common, ROLE: 'api', DATABASE_URL: dbUrl });
  store = await PostgresStore.open(dbUrl, 2);
}, 90_000);

afterAll(async () => {
  for (const w of workers) await w.stop();
  await api?.stop();
  await store?.close();
  await pg?.stop();
});

async function logLines(url: string, id: string): Promise<string[]> {
  return ((await (await fetch(`${url}/api/v1/jobs/${id}/logs`)).json()) as { lines: string[] }).lines;
}

/** Reads an SSE stream until its `end` event (or `stopWhen` says so); returns the events. */
async function readSse(url: string, headers: Record<string, string> = {}, stopWhen: (events: SseEvent[]) => boolean = () => false): Promise<SseEvent[]> {
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(60_000) });
  expect(res.status).toBe(200);
  const events: SseEvent[] = [];
  const decoder = new TextDecoder();
  let buf = '';
  const reader = res.body!.getReader();
  for (let r = await reader.read(); !r.done; r = await reader.read()) {
    buf += decoder.decode(r.value, { stream: true });
    for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const e: SseEvent = { event: 'message', data: '' };
      for (const line of block.split('\n')) {
        if (line.startsWith('id: ')) e.id = Number(line.slice(4));
        if (line.startsWith('event: ')) e.event = line.slice(7);
        if (line.startsWith('data: ')) e.data = line.slice(6);
      }
      if (block.split('\n').some((l) => l.startsWith('event: '))) events.push(e);
      if (e.event === 'end' || stopWhen(events)) {
        await reader.cancel();
        return events;
      }
    }
  }
  return events;
}

interface SseEvent {
  id?: number;
  event: string;
  data: string;
}

/** Every job ended once: completed, one result line, and no run's result discarded or written twice. */
async function expectCompletedOnce(ids: readonly string[]): Promise<Job[]> {
  const jobs = await Promise.all(ids.map(async (id) => (await store.jobs.get(id))!));
  expect(jobs.map((j) => j.status)).toEqual(ids.map(() => 'completed'));
  for (const j of jobs) {
    const lines = (await store.logs.logLines(j.id)).map((l) => l.line);
    expect(lines.filter((l) => l.startsWith('completed in ')), j.id).toHaveLength(1);
    expect(lines.filter((l) => l.includes('result discarded')), j.id).toEqual([]);
    expect(j.attempts, j.id).toBeLessThanOrEqual(2);
  }
  return jobs;
}

describe('ROLE=api and ROLE=worker on one PostgreSQL', () => {
  it('the api claims nothing; 2 workers run 30 jobs, one killed -9 mid-way: all complete once; live logs and /readyz through the api', async () => {
    expect(((await (await fetch(`${api.url}/readyz`)).json()) as { role: string }).role).toBe('api');
    expect(((await (await fetch(`${api.url}/api/v1/system`)).json()) as { role: string }).role).toBe('api');
    const [a, b] = [await startWorker(), await startWorker()];
    expect(((await (await fetch(`${a.url}/readyz`)).json()) as { role: string }).role).toBe('worker');
    // A worker takes no uploads and serves no jobs API; it does serve probes, metrics and capacity.
    expect((await fetch(`${a.url}/api/v1/jobs`, { method: 'POST' })).status).toBe(404);
    expect((await fetch(`${a.url}/v1/audio/transcriptions`, { method: 'POST' })).status).toBe(404);
    for (const path of ['/healthz', '/metrics', '/api/v1/capacity']) expect((await fetch(`${a.url}${path}`)).status, path).toBe(200);

    const ids: string[] = [];
    for (const c of short) ids.push((await submitJob(api.url, c.path)).job_id);

    // Follow one job live through the api while a worker runs it.
    const followed = ids[2]!;
    const live = readSse(`${api.url}/api/v1/jobs/${followed}/logs/stream`);

    // Kill worker `a` while it runs a job, with some jobs done.
    await waitFor(async () => (await store.jobs.countByStatus()).completed >= 5, 60_000, 50);
    let victim: Job | undefined;
    await waitFor(async () => {
      victim = (await store.runs.runningJobs()).find((j) => j.processId === a.pid);
      return victim !== undefined;
    }, 30_000, 20);
    a.child.kill('SIGKILL');
    await a.exited;

    await waitFor(async () => (await store.jobs.countByStatus()).completed === ids.length, 90_000, 250);
    const jobs = await expectCompletedOnce(ids);
    // What `a` was running went back to the queue once and was finished by `b`.
    const retried = jobs.filter((j) => j.attempts === 2);
    expect(retried.map((j) => j.id)).toContain(victim!.id);
    for (const j of retried) {
      expect(j.processId).toBe(b.pid);
      expect((await store.logs.logLines(j.id)).filter((l) => l.line.includes('queued again'))).toHaveLength(1);
    }

    // The api ran nothing: no job is (or was last) owned by its instance or decoded in its process.
    const apiInstance = (await store.instances.listInstances()).find((i) => i.pid === api.pid);
    expect(apiInstance).toBeDefined();
    for (const j of jobs) {
      expect(j.ownerInstanceId).not.toBe(apiInstance!.id);
      expect([a.pid, b.pid]).toContain(j.processId);
    }
    expect(api.logs.some((l) => l.includes('"role":"api"') && l.includes('hark listening'))).toBe(true);

    const events = await live;
    const followedJob = jobs.find((j) => j.id === followed)!;
    expect(events.some((e) => e.event === 'log' && e.data.includes(`decoding in process ${followedJob.processId}`))).toBe(true);
    expect(events.some((e) => e.event === 'log' && e.data.includes('completed in '))).toBe(true);
    expect(events[events.length - 1]).toMatchObject({ event: 'end', data: JSON.stringify({ status: 'completed' }) });
    // Event ids are the lines' numbers: 1, 2, 3 ...; a reconnect with Last-Event-ID gets only what follows.
    const logEvents = events.filter((e) => e.event === 'log');
    expect(logEvents.map((e) => e.id)).toEqual(logEvents.map((_, i) => i + 1));
    const resumed = await readSse(`${api.url}/api/v1/jobs/${followed}/logs/stream`, { 'last-event-id': String(logEvents.length - 2) });
    expect(resumed.filter((e) => e.event === 'log').map((e) => e.id)).toEqual([logEvents.length - 1, logEvents.length]);
  }, 180_000);

  it('a cancel sent to the api stops the job on the worker running it', async () => {
    const long = join(api.dataDir, 'long.wav'); // removed with the server's DATA_DIR
    joinWavs(devClips.slice(0, 10).map((c) => c.path), long);
    const { job_id } = await submitJob(api.url, long);
    await waitFor(async () => (await getJob(api.url, job_id)).status === 'running' && (await logLines(api.url, job_id)).some((l) => l.includes('decoding in process')), 30_000, 50);
    const runner = (await getJob(api.url, job_id)).process_id;
    expect(workers.map((w) => w.pid)).toContain(runner);
    const res = await fetch(`${api.url}/api/v1/jobs/${job_id}/cancel`, { method: 'POST' });
    expect(res.status).toBe(200);
    // The worker sees the cancel at its next heartbeat (2 s) and stops the decode.
    await waitFor(async () => (await logLines(api.url, job_id)).some((l) => l.includes('cancelled; its process was stopped')), 10_000, 100);
    const job = await store.jobs.get(job_id);
    expect(job).toMatchObject({ status: 'cancelled', result: null });
    const lines = await logLines(api.url, job_id);
    expect(lines.some((l) => l.includes('completed in'))).toBe(false);
  }, 60_000);

  it('rolling restart of the workers under load (SIGTERM one, start one, then the other) loses nothing', async () => {
    const live = workers.filter((w) => w.child.exitCode === null && w.child.signalCode === null);
    expect(live).toHaveLength(1);
    await startWorker(); // two workers again before the roll
    const ids: string[] = [];
    for (const c of short.slice(0, 20)) ids.push((await submitJob(api.url, c.path)).job_id);
    for (const old of workers.filter((w) => w.child.exitCode === null && w.child.signalCode === null).slice(0, 2)) {
      // Under load means this worker is running a job when it is stopped: should the others have
      // taken every job meanwhile (a slow machine), more are sent until it runs one.
      await waitFor(async () => {
        if ((await store.runs.runningJobs()).some((j) => j.processId === old.pid)) return true;
        if ((await store.jobs.countByStatus()).queued === 0) ids.push((await submitJob(api.url, short[ids.length % short.length]!.path)).job_id);
        return false;
      }, 30_000, 20);
      old.child.kill('SIGTERM');
      expect(await old.exited).toEqual({ code: 0, signal: null });
      await startWorker();
    }
    await waitFor(async () => (await Promise.all(ids.map((id) => store.jobs.get(id)))).every((j) => j?.status === 'completed'), 90_000, 250);
    const jobs = await expectCompletedOnce(ids);
    // A worker that stops drains (its running jobs finish) or hands its jobs back; none is lost.
    // Each with its log's account of the recovery (why the scan took it for an orphan), should one fail.
    const unexpected = jobs.filter((j) => j.errorCode !== null && j.errorCode !== 'SHUTTING_DOWN');
    const explained = await Promise.all(unexpected.map(async (j) => `${j.errorCode}: ${j.errorMessage} | ${(await logLines(api.url, j.id)).filter((l) => l.includes('was lost')).join(' | ')}`));
    expect(explained).toEqual([]);
  }, 180_000);
});

describe('orphan recovery on one PostgreSQL from two instances at once', () => {
  it('requeues each orphan exactly once when two scanners race', async () => {
    const url = pg.createDatabase('orphan_race');
    const [s1, s2] = [await PostgresStore.open(url, 4), await PostgresStore.open(url, 4)];
    await s1.migrate();
    const config = loadConfig({ env: { HEARTBEAT_SECONDS: '1' } });
    const logger = createLogger('silent');
    const now = Date.now();
    // A dead instance on this host (a pid that cannot exist) owned 12 running jobs.
    await s1.instances.registerInstance({ id: 'dead', hostname: hostname(), pid: 2 ** 22 + 1, processStartedAt: 1, startedAt: now, lastHeartbeat: now });
    for (let i = 0; i < 12; i++) {
      await s1.jobs.create(newJob({ id: `o${i}` }));
      await s1.runs.claimNext({ instanceId: 'dead', now, agingMs: 1000 });
    }
    const scanners = [s1, s2].map((s, i) => {
      const id = `scanner-${i}`;
      return { id, store: s, recovery: new OrphanRecovery({ config, logger, instances: s.instances, runs: s.runs, instanceId: id, logs: new JobLogs({ store: s.logs, logger }), runningHere: () => [] }) };
    });
    for (const s of scanners) await s.store.instances.registerInstance({ id: s.id, hostname: hostname(), pid: process.pid, processStartedAt: null, startedAt: now, lastHeartbeat: now });
    const reports = await Promise.all(scanners.map((s) => s.recovery.scan()));
    expect(reports[0]!.requeued + reports[1]!.requeued).toBe(12);
    for (let i = 0; i < 12; i++) {
      const job = await s1.jobs.get(`o${i}`);
      expect(job).toMatchObject({ status: 'queued', errorCode: 'ORPHANED', attempts: 1 });
      expect((await s1.logs.logLines(`o${i}`)).filter((l) => l.line.includes('queued again'))).toHaveLength(1);
    }
    await s1.close();
    await s2.close();
  }, 30_000);
});
