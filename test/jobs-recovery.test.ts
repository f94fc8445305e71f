import { spawn } from 'node:child_process';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { readStartTime } from '../src/os/index.js';
import { joinWavs } from './support/audio.js';
import { alive, spawnServer, waitFor, type ChildServer } from './support/child-server.js';
import { clip, devClips } from './support/corpus.js';
import { poolView, postAudio } from './support/http.js';

interface JobView {
  id: string;
  status: string;
  attempts: number;
  process_id: number | null;
  error: { code: string } | null;
}

const servers: ChildServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.stop();
});

async function start(env: Record<string, string>): Promise<ChildServer> {
  const s = await spawnServer(env);
  servers.push(s);
  return s;
}

async function submit(url: string, path: string): Promise<string> {
  const res = await postAudio(`${url}/api/v1/jobs`, path);
  expect(res.status).toBe(202);
  return ((await res.json()) as { job_id: string }).job_id;
}

async function job(url: string, id: string): Promise<JobView> {
  return (await (await fetch(`${url}/api/v1/jobs/${id}`)).json()) as JobView;
}

describe('jobs survive what kills their processes', () => {
  it('retries a job whose worker is killed -9 and completes it', async () => {
    const s = await start({ WORKER_COUNT: '1' });
    const long = join(s.dataDir, 'long.wav');
    joinWavs(devClips.slice(0, 4).map((c) => c.path), long);
    const id = await submit(s.url, long);
    let pid = 0;
    await waitFor(async () => {
      const j = await job(s.url, id);
      pid = j.status === 'running' && j.process_id !== null ? j.process_id : 0;
      return pid > 0;
    }, 15_000, 50);
    process.kill(pid, 'SIGKILL');
    await waitFor(async () => (await job(s.url, id)).status === 'completed', 60_000, 200);
    const done = await job(s.url, id);
    expect(done.attempts).toBe(2);
    expect(done.process_id).not.toBe(pid);
    const logs = (await (await fetch(`${s.url}/api/v1/jobs/${id}/logs`)).json()) as { lines: string[] };
    expect(logs.lines.some((l) => l.includes('WORKER_CRASHED') && l.includes('queued again'))).toBe(true);
  }, 180_000);

  it('crash test: 20 jobs, the server killed with SIGKILL mid-way, a new server on the same DATA_DIR completes all 20', async () => {
    const first = await start({ WORKER_COUNT: '2', HEARTBEAT_SECONDS: '1' });
    const dataDir = first.dataDir;
    // The 20 shortest clips (1-5 s): what is tested is where each job ends up, not how long it decodes.
    const clips = [...devClips].sort((a, b) => a.durationSeconds - b.durationSeconds).slice(0, 20);
    const ids: string[] = [];
    for (const c of clips) ids.push(await submit(first.url, c.path));
    const oldWorkers = (await poolView(first.url)).workers.map((w) => w.pid);
    // Kill it while some jobs are done and others are running or queued.
    await waitFor(async () => {
      const list = (await (await fetch(`${first.url}/api/v1/jobs?status=completed&limit=200`)).json()) as { jobs: unknown[] };
      return list.jobs.length >= 3;
    }, 60_000, 100);
    first.child.kill('SIGKILL');
    await first.exited;
    // The old server's workers notice their parent is gone and exit.
    await waitFor(() => oldWorkers.every((pid) => !alive(pid)), 5000);

    const second = await start({ WORKER_COUNT: '2', DATA_DIR: dataDir, HEARTBEAT_SECONDS: '1' });
    await waitFor(async () => {
      const views = await Promise.all(ids.map((id) => job(second.url, id)));
      return views.every((v) => v.status === 'completed');
    }, 120_000, 250);
    const views = await Promise.all(ids.map((id) => job(second.url, id)));
    expect(views.map((v) => v.status)).toEqual(ids.map(() => 'completed'));
    // No result was written twice: one "completed" line in each job's log.
    for (const id of ids) {
      const log = ((await (await fetch(`${second.url}/api/v1/jobs/${id}/logs`)).json()) as { lines: string[] }).lines.join('\n');
      expect(log.match(/ completed in /g)?.length, id).toBe(1);
    }
    for (const pid of oldWorkers) expect(alive(pid)).toBe(false);
  }, 180_000);

  it('a server draining on SIGTERM keeps its running job\'s heartbeat fresh, so no other instance takes it for an orphan', async () => {
    const s = await start({ WORKER_COUNT: '1', HEARTBEAT_SECONDS: '1', SHUTDOWN_GRACE_SECONDS: '60' });
    const long = join(s.dataDir, 'long.wav');
    joinWavs(devClips.slice(0, 6).map((c) => c.path), long);
    const id = await submit(s.url, long);
    await waitFor(async () => (await job(s.url, id)).status === 'running', 15_000, 50);
    s.child.kill('SIGTERM');
    // Other instances call a job lost after 3 heartbeats without news; the drain lasts longer than that.
    const db = new Database(join(s.dataDir, 'hark.db'), { readonly: true });
    const read = () => db.prepare('SELECT status, last_heartbeat FROM transcription_jobs WHERE id = ?').get(id) as { status: string; last_heartbeat: number };
    const stalest: number[] = [];
    try {
      while (read().status === 'running' && s.child.exitCode === null) {
        stalest.push(Date.now() - read().last_heartbeat);
        await new Promise((r) => setTimeout(r, 250));
      }
      expect(read().status).toBe('completed');
    } finally {
      db.close();
    }
    expect(await s.exited).toEqual({ code: 0, signal: null });
    expect(stalest.length).toBeGreaterThan(16); // drained for more than 4 s
    expect(Math.max(...stalest)).toBeLessThan(3000);
  }, 120_000);

  it('leaves alone an unrelated process that now has an orphaned job\'s pid, and kills the same process', async () => {
    // Audio kept, so the jobs can be made "running" again below and re-run.
    const s = await start({ ENABLE_PROCESS_ISOLATED: 'false', KEEP_JOB_AUDIO: 'true' });
    const dataDir = s.dataDir;
    const a = await submit(s.url, clip('1089-134686-0001').path);
    const b = await submit(s.url, clip('1089-134686-0004').path);
    await waitFor(async () => (await job(s.url, a)).status === 'completed' && (await job(s.url, b)).status === 'completed', 30_000);
    s.child.kill('SIGKILL');
    await s.exited;

    // Two stand-ins: one whose pid is recorded with another start time (a reused pid),
    // one recorded exactly (still the same process).
    const unrelated = spawn('sleep', ['60'], { stdio: 'ignore' });
    const same = spawn('sleep', ['60'], { stdio: 'ignore', detached: true });
    try {
      await waitFor(async () => (await readStartTime(same.pid!)) !== undefined);
      const db = new Database(join(dataDir, 'hark.db'));
      const mark = db.prepare(
        "UPDATE transcription_jobs SET status = 'running', finished_at = NULL, result = NULL, run_token = 'old', owner_instance_id = 'gone', process_id = ?, process_started_at = ?, last_heartbeat = ? WHERE id = ?",
      );
      mark.run(unrelated.pid, 1, Date.now(), a);
      mark.run(same.pid, (await readStartTime(same.pid!))!, Date.now(), b);
      db.close();

      const next = await start({ ENABLE_PROCESS_ISOLATED: 'false', KEEP_JOB_AUDIO: 'true', DATA_DIR: dataDir });
      await waitFor(async () => (await job(next.url, a)).status === 'completed' && (await job(next.url, b)).status === 'completed', 30_000);
      expect(alive(unrelated.pid!)).toBe(true);
      await waitFor(() => !alive(same.pid!), 5000);
      expect(next.logs.some((l) => l.includes('killed the process of an orphaned job') && l.includes(String(same.pid)))).toBe(true);
    } finally {
      unrelated.kill('SIGKILL');
      same.kill('SIGKILL');
    }
  }, 180_000);
});
