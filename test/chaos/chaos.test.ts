import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ERROR_CODES, type ErrorCode } from '../../src/errors.js';
import { tally, wer } from '../support/eval/index.js';
import { ERROR_STATUS } from '../../src/http/error-status.js';
import { loadPresets } from '../../src/loadtest/presets.js';
import { runLoad, type RequestRecord, type RunResult } from '../../src/loadtest/runner.js';
import { settingsFrom } from '../../src/loadtest/settings.js';
import { readRssBytes } from '../../src/os/index.js';
import { waitFor } from '../support/child-server.js';
import { seededRandom, WorkerKiller } from '../support/chaos-faults.js';
import { AnswerRecorder } from '../support/chaos-observer.js';
import { ProcessWatch } from '../support/chaos-procs.js';
import { spawnHark, type HarkProcess } from '../support/chaos-server.js';
import { clip } from '../support/corpus.js';
import { poolView, postAudio } from '../support/http.js';
import { submitJob, waitFinished, type JobView } from '../support/jobs.js';
import { freePort } from '../support/net.js';
import { filesUnder } from '../support/server.js';

/*
 * The chaos test: hark as users run it (process isolation, a 2-worker pool,
 * SQLite, PocketSphinx), loaded by its own load runner with synchronous
 * transcriptions and jobs at once, while worker processes are SIGKILLed at
 * random moments and the server itself is SIGKILLed once and started again on
 * the same port and DATA_DIR. `make test` runs a bounded form; HARK_CHAOS=full
 * (npm run test:chaos) a longer one. HARK_CHAOS_SEED replays a fault schedule.
 */

const FULL = process.env['HARK_CHAOS'] === 'full';
const SEED = Number(process.env['HARK_CHAOS_SEED'] ?? Math.floor(Math.random() * 2 ** 31));
/*
 * The job runner claims a job only when a decoder is free, so sync requests with no
 * pause would take both workers and starve the jobs: one sync VU (two with a longer
 * think time in the full run) leaves room for the jobs, and kills land on both.
 */
const PLAN = FULL
  ? { loadSeconds: 180, syncVus: 2, syncThink: 1, jobVus: 4, gapMs: [1500, 5000] as [number, number], maxKills: 80 }
  : { loadSeconds: 40, syncVus: 1, syncThink: 0.25, jobVus: 3, gapMs: [1500, 4500] as [number, number], maxKills: 20 };
/**
 * Each fault ends at most one attempt of one job (a kill: the job on that worker;
 * the restart: every running job, once). With more attempts than faults no job can
 * run out of them, so anything short of "completed" is a lost job, not bad luck.
 */
const MAX_ATTEMPTS = PLAN.maxKills + 2;
/**
 * The server's RSS after the load may exceed its RSS before by this much (see docs/isolation.md, the chaos test).
 * "After" is the restarted server's, which ran part of the load; V8 grows its heap to the working
 * size at its own pace, so warm baselines of the same build vary by 30 MB between runs (179-211 MB
 * seen). A leak of 1 MB per request (over 100 requests here) still passes the bound by far.
 */
const RSS_TOLERANCE = { ratio: 1.25, bytes: 64 * 2 ** 20 };

const HARK_ENV: Record<string, string> = {
  WORKER_COUNT: '2',
  // Small, so workers are also recycled (warm replacement first) during the run.
  MAX_TASKS_PER_WORKER: '6',
  MAX_ATTEMPTS: String(MAX_ATTEMPTS),
  HEARTBEAT_SECONDS: '1',
  // A worker killed while warming backs off; a short cap keeps the run's pace.
  WORKER_RESPAWN_BACKOFF_MAX_SECONDS: '2',
  SHUTDOWN_GRACE_SECONDS: '10',
};

// Real speech, 2-7 s each: short enough that many requests fit in the run, long enough that kills land mid-decode.
const CLIPS = ['1089-134686-0014', '1089-134686-0001', '1089-134686-0026', '1089-134686-0010', '1221-135766-0002', '61-70968-0026', '1089-134686-0004', 'librivox-sas01-0920', '1089-134686-0002'].map(clip);

/** Answers a sync request may get while workers die: the pool's own codes, each with its documented status. */
const SYNC_CODES: readonly ErrorCode[] = ['WORKER_CRASHED', 'AT_CAPACITY'];
/** What a client sees when the server process is gone: only in the restart window. */
const CONNECTION_ERRORS = ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'socket hang up', 'response aborted'];

let dataDir: string | undefined;
const servers: HarkProcess[] = [];
const watch = new ProcessWatch();
const recorder = new AnswerRecorder();
let killer: WorkerKiller | undefined;
let keepDataDir = true;

afterAll(async () => {
  await killer?.stop();
  recorder.stop();
  watch.stop();
  for (const s of servers) {
    s.signal('SIGKILL');
    await s.exited;
  }
  // Kept after a failure, for its hark.db.
  if (dataDir !== undefined && !keepDataDir) await rm(dataDir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Median of a few RSS readings of `pid` once it is idle (one reading jitters by a page or two). */
async function settledRss(pid: number): Promise<number> {
  const readings: number[] = [];
  for (let i = 0; i < 5; i++) {
    readings.push(readRssBytes(pid) ?? 0);
    await sleep(300);
  }
  return readings.sort((a, b) => a - b)[2]!;
}

/** Waits until every worker slot holds one idle worker: no task, no replacement warming. */
async function poolSettled(url: string): Promise<void> {
  await waitFor(async () => {
    const v = await poolView(url);
    return v.ready_workers === v.size && v.workers.length === v.size && v.workers.every((w) => w.state === 'idle');
  }, 60_000, 200);
}

async function allJobs(url: string): Promise<JobView[]> {
  const out: JobView[] = [];
  let cursor: string | null = null;
  do {
    const page = (await (await fetch(`${url}/api/v1/jobs?limit=200${cursor ? `&cursor=${cursor}` : ''}`)).json()) as { jobs: JobView[]; next_cursor: string | null };
    out.push(...page.jobs);
    cursor = page.next_cursor;
  } while (cursor !== null);
  return out;
}

const MB = (b: number) => Math.round(b / 2 ** 20);

/** Records by outcome/status/code, e.g. {"ok 200": 40, "http_error 502 WORKER_CRASHED": 3}. */
function byAnswer(records: RequestRecord[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of records) {
    const key = `${r.outcome} ${r.status}${r.code ? ` ${r.code}` : ''}`;
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}

describe(`chaos (${FULL ? 'full' : 'bounded'}: ${PLAN.loadSeconds} s of load, seed ${SEED})`, () => {
  it('loses no job, leaves no request unanswered, no process alive and no memory behind, while workers are killed and the server restarted', async () => {
    const random = seededRandom(SEED);
    dataDir = await mkdtemp(join(tmpdir(), 'hark-chaos-'));
    const port = await freePort();
    const first = await spawnHark(port, dataDir, HARK_ENV);
    servers.push(first);
    watch.watch(first.pid, 1);

    // Each clip once, before any fault: its transcript (PocketSphinx is deterministic, so every later
    // answer for it must be this text exactly), and the server's lazy start-up costs paid before the baseline.
    const sizes = new Set(CLIPS.map((c) => statSync(c.path).size));
    expect(sizes.size, 'each clip is told apart by its upload size').toBe(CLIPS.length);
    const expected = new Map<string, string>();
    for (const c of CLIPS) {
      const res = await postAudio(`${first.url}/transcriptions`, c.path);
      expect(res.status, c.id).toBe(200);
      expected.set(c.id, ((await res.json()) as { text: string }).text);
    }
    const referenceWer = wer(CLIPS.map((c) => tally(c.transcript, expected.get(c.id)!)));
    expect(referenceWer).toBeLessThan(0.35);
    // The job path warmed too (store, runner, logs), so the baseline is a working server's.
    for (const c of CLIPS.slice(0, 3)) await waitFinished(first.url, (await submitJob(first.url, c.path)).job_id);
    await poolSettled(first.url);
    const rssBefore = await settledRss(first.pid);

    // The load: two runs of the built-in runner at once, one sync, one jobs.
    const presets = await loadPresets();
    const settings = (endpoint: string, vus: number, think: number) =>
      settingsFrom(
        {
          BASE_URL: first.url,
          TEST_MODE: 'smoke',
          ENDPOINT: endpoint,
          MAX_VUS: String(vus),
          STEADY: `${PLAN.loadSeconds}s`,
          THINK_TIME: String(think),
          REQUEST_TIMEOUT: '120s',
          JOB_POLL_INTERVAL: '0.25',
        },
        presets,
        { audioFiles: CLIPS.map((c) => c.path), gracefulStopSeconds: 90 },
      );
    let current: string | undefined = first.url;
    killer = new WorkerKiller({ random, url: () => current, gapMs: PLAN.gapMs, maxKills: PLAN.maxKills });
    const restartAt = (0.35 + 0.2 * random()) * PLAN.loadSeconds * 1000;
    const restartWindow = { start: 0, end: 0 };
    let second: HarkProcess | undefined;

    recorder.start();
    const loadStart = performance.now();
    killer.start();
    const restart = (async () => {
      await sleep(restartAt);
      current = undefined; // the killer waits while there is no server
      restartWindow.start = performance.now() - loadStart;
      first.signal('SIGKILL');
      await first.exited;
      second = await spawnHark(port, dataDir!, HARK_ENV);
      servers.push(second);
      watch.watch(second.pid, 2);
      restartWindow.end = performance.now() - loadStart;
      current = second.url;
    })();
    const [syncRun, jobsRun] = await Promise.all([
      runLoad(settings('/transcriptions', PLAN.syncVus, PLAN.syncThink), presets),
      runLoad(settings('jobs', PLAN.jobVus, 0.25), presets),
    ]);
    await restart;
    await killer.stop();
    recorder.stop();
    const url = second!.url;

    // Every request got a definite answer: a transcript, a documented error code with its status,
    // or (only while no server was there) a connection error. Never a hang.
    const inWindow = (r: RequestRecord) => r.t <= restartWindow.end + 250 && r.t + r.ms >= restartWindow.start - 250;
    const verdicts = (run: RunResult, codes: readonly ErrorCode[]) =>
      run.requests.flatMap((r) => {
        if (r.outcome === 'ok') return [];
        if (r.outcome === 'error' && CONNECTION_ERRORS.includes(r.code ?? '') && inWindow(r)) return [];
        const code = (ERROR_CODES as readonly string[]).includes(r.code ?? '') ? (r.code as ErrorCode) : undefined;
        if ((r.outcome === 'http_error' || r.outcome === 'rejected') && code !== undefined && codes.includes(code) && ERROR_STATUS[code] === r.status) return [];
        return [r];
      });
    expect(verdicts(syncRun, SYNC_CODES), 'sync requests without a definite answer').toEqual([]);
    expect(verdicts(jobsRun, ['AT_CAPACITY']), 'job submissions or polls without a definite answer').toEqual([]);
    for (const a of recorder.answers.filter((x) => x.status === 503)) expect(a.retryAfter, a.body).toMatch(/^\d+$/);

    // Every sync transcript is its clip's, word for word.
    const syncTexts = recorder.answers.filter((a) => a.path === '/transcriptions' && a.status === 200).map((a) => ({ bytes: a.requestBytes, text: (JSON.parse(a.body) as { text: string }).text }));
    const textsByBytes = new Map<number | undefined, Set<string>>();
    for (const s of syncTexts) textsByBytes.set(s.bytes, (textsByBytes.get(s.bytes) ?? new Set()).add(s.text));
    for (const [bytes, texts] of textsByBytes) {
      expect([...texts].length, `upload of ${bytes} bytes got different transcripts: ${[...texts].join(' | ')}`).toBe(1);
      expect([...expected.values()]).toContain([...texts][0]);
    }

    // Jobs: every one the server accepted (the 202s the runner saw, and any whose 202 the kill cut off)
    // completes exactly once, with its clip's transcript.
    const accepted = recorder.answers.filter((a) => a.method === 'POST' && a.path === '/api/v1/jobs' && a.status === 202).map((a) => (JSON.parse(a.body) as { job_id: string }).job_id);
    let stored: JobView[] = [];
    await waitFor(async () => {
      stored = await allJobs(url);
      return stored.every((j) => j.status === 'completed' || j.status === 'failed' || j.status === 'cancelled');
    }, 180_000, 500).catch(() => undefined);
    const storedIds = new Set(stored.map((j) => j.id));
    const missing = accepted.filter((id) => !storedIds.has(id));
    const unfinished = stored.filter((j) => j.status !== 'completed').map((j) => ({ id: j.id, status: j.status, attempts: j.attempts, error: j.error }));
    expect(missing, 'accepted jobs missing from the store').toEqual([]);
    expect(unfinished, 'jobs that did not complete').toEqual([]);
    const clipByName = new Map(CLIPS.map((c) => [basename(c.path), c.id]));
    let retried = 0;
    const hits = { worker_crash: 0, server_lost: 0 };
    for (const j of stored) {
      const id = clipByName.get(j.file_name);
      expect(id, j.file_name).toBeDefined();
      const result = (await (await fetch(`${url}/api/v1/jobs/${j.id}/result`)).json()) as { text: string };
      expect(result.text, `job ${j.id} (${id}, ${j.attempts} attempts)`).toBe(expected.get(id!));
      const log = ((await (await fetch(`${url}/api/v1/jobs/${j.id}/logs`)).json()) as { lines: string[] }).lines.join('\n');
      // At most one: a kill between the result's write and the log's flush may lose the line, never add one.
      expect(log.match(/ completed in /g)?.length ?? 0, `job ${j.id} completed more than once:\n${log}`).toBeLessThanOrEqual(1);
      if (j.attempts > 1) retried++;
      hits.worker_crash += log.match(/WORKER_CRASHED.*queued again/g)?.length ?? 0;
      hits.server_lost += log.match(/its server was lost/g)?.length ?? 0;
    }
    // The run did what it claims: faults landed, and both kinds of work went through them.
    expect(killer.kills.length).toBeGreaterThan(0);
    expect(stored.length).toBeGreaterThan(0);
    expect(syncTexts.length).toBeGreaterThan(0);

    // Memory returns to baseline once the load is over and the pool has settled.
    await poolSettled(url);
    const rssAfter = await settledRss(second!.pid);
    const pool = await poolView(url);
    expect(rssAfter, `server RSS ${MB(rssBefore)} MB before the load, ${MB(rssAfter)} MB after`).toBeLessThanOrEqual(
      Math.max(rssBefore * RSS_TOLERANCE.ratio, rssBefore + RSS_TOLERANCE.bytes),
    );

    // A clean shutdown leaves no process of either server alive, and no temp file.
    second!.signal('SIGTERM');
    const exit = await second!.exited;
    expect(exit).toEqual({ code: 0, signal: null });
    watch.scan();
    watch.stop();
    await waitFor(() => watch.survivors().length === 0, 10_000).catch(() => undefined);
    expect(watch.survivors(), 'processes left alive').toEqual([]);
    expect(await filesUnder(join(dataDir, 'tmp')), 'files left in DATA_DIR/tmp').toEqual([]);
    const jobsDir = join(dataDir, 'jobs');
    expect(existsSync(jobsDir) ? readdirSync(jobsDir) : [], 'job folders left after their jobs ended').toEqual([]);
    const scratch = watch.all().filter((p) => existsSync(join(tmpdir(), `hark-worker-${p.pid}`)));
    expect(scratch, 'worker scratch folders left').toEqual([]);

    const kills = killer.kills;
    const summary = {
      mode: FULL ? 'full' : 'bounded',
      seed: SEED,
      load_seconds: PLAN.loadSeconds,
      faults: { worker_kills: kills.length, worker_kills_by_state: countBy(kills.map((k) => k.state)), server_restarts: 1, restart_at_s: +(restartWindow.start / 1000).toFixed(1), restart_gap_s: +((restartWindow.end - restartWindow.start) / 1000).toFixed(1) },
      sync: { requests: syncRun.requests.length, answers: byAnswer(syncRun.requests) },
      jobs: { accepted_seen_by_client: accepted.length, stored: stored.length, completed: stored.filter((j) => j.status === 'completed').length, retried, attempts_ended_by: hits, lost: missing.length + unfinished.length, runner_answers: byAnswer(jobsRun.requests) },
      processes: { seen: watch.all().length, worker_processes: watch.workerCount(), alive_after_shutdown: watch.survivors().length },
      pool_after_restart: pool.totals,
      server_rss_mb: { before: MB(rssBefore), after: MB(rssAfter) },
      transcripts: { clips: CLIPS.length, wer_vs_reference: +referenceWer.toFixed(3), sync_checked: syncTexts.length, jobs_checked: stored.length },
    };
    // The figures docs/isolation.md quotes; one line, so a `make test` log stays readable.
    // HARK_CHAOS_REPORT=FILE also writes them to FILE (nothing is left in the temp folder otherwise).
    const file = process.env['HARK_CHAOS_REPORT'];
    if (file !== undefined && file !== '') await writeFile(file, JSON.stringify(summary, null, 2));
    console.log(`chaos summary${file ? ` (${file})` : ''}: ${JSON.stringify(summary)}`);
    keepDataDir = false;
  }, FULL ? 480_000 : 240_000);
});

function countBy(values: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}
