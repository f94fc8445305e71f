import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { joinWavs } from './support/audio.js';
import { alive, spawnServer, waitFor, type ChildServer } from './support/child-server.js';
import { clip, devClips } from './support/corpus.js';
import { poolView, postAudio } from './support/http.js';

const short = clip('1089-134686-0001').path; // 3.3 s
let server: ChildServer | undefined;
afterEach(async () => {
  await server?.stop();
  server = undefined;
});

/** A process's (or thread's) nice value: field 19 of its /proc stat file. */
function niceOf(statPath: string): number {
  const stat = readFileSync(statPath, 'utf8');
  // The command name (field 2) may hold spaces: count fields after its last ')', which start at field 3.
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19 - 3]);
}

function longFile(dir: string, n = 12): string {
  const out = join(dir, `long-${n}.wav`);
  joinWavs(devClips.slice(0, n).map((c) => c.path), out);
  return out;
}

describe('worker pool', () => {
  it('replaces a worker after MAX_TASKS_PER_WORKER tasks, warm first, with no request failing', async () => {
    server = await spawnServer({ WORKER_COUNT: '2', MAX_TASKS_PER_WORKER: '2' });
    const before = (await poolView(server.url)).workers.map((w) => w.pid);
    const url = `${server.url}/transcriptions/process-isolated`;
    const statuses: number[] = [];
    const pids = new Set<number>();
    // A worker due by task count serves on until its replacement is warm (capacity never dips), so on a
    // busy machine the old ones may take a few more short requests before the new ones do: send rounds
    // until both slots have been handed over.
    const deadline = Date.now() + 60_000;
    while (before.some((pid) => !pids.has(pid)) || pids.size < 4) {
      if (Date.now() > deadline) break;
      const res = await Promise.all([postAudio(url, short), postAudio(url, short)]);
      for (const r of res) {
        statuses.push(r.status);
        pids.add(((await r.json()) as { pid: number }).pid);
      }
    }
    expect(statuses.every((s) => s === 200)).toBe(true);
    expect(pids.size).toBeGreaterThanOrEqual(4); // both old workers served, then new ones took over
    await waitFor(async () => (await poolView(server!.url)).totals.recycled.tasks >= 2);
    const view = await poolView(server.url);
    expect(view.totals.crashed).toBe(0);
    for (const pid of before) await waitFor(() => !alive(pid)); // the old ones are gone
    expect(view.ready_workers).toBe(2);
  });

  it('warms a replacement while a worker runs its last task, so the next request waits for no spawn', async () => {
    server = await spawnServer({ WORKER_COUNT: '1', MAX_TASKS_PER_WORKER: '2' });
    const url = `${server.url}/transcriptions/process-isolated`;
    const first = (await poolView(server.url)).workers[0]!.pid;
    expect((await postAudio(url, short)).status).toBe(200);
    const last = postAudio(url, longFile(server.dataDir, 4)); // its 2nd and last task, ~30 s of audio
    last.catch(() => undefined); // awaited below; a failed wait must not leave it unhandled
    // While that task still runs, its replacement is spawned and becomes ready (idle) beside it.
    await waitFor(async () => {
      const { workers } = await poolView(server!.url);
      const old = workers.find((w) => w.pid === first);
      return old?.state === 'retiring' && old.current_task !== null && workers.some((w) => w.pid !== first && w.state === 'idle');
    }, 30_000);
    const answer = await last;
    expect(answer.status).toBe(200);
    expect(((await answer.json()) as { pid: number }).pid).toBe(first);
    // A request arriving as the old worker retires goes to the ready replacement: no spawn in between.
    const next = await postAudio(url, short);
    expect(next.status).toBe(200);
    const { pid } = (await next.json()) as { pid: number };
    expect(pid).not.toBe(first);
    const view = await poolView(server.url);
    expect(view.totals.spawned).toBe(2);
    expect(view.totals.recycled.tasks).toBe(1);
    await waitFor(() => !alive(first));
  });

  it('runs every thread of a worker WORKER_NICE steps below the server', async () => {
    server = await spawnServer({ WORKER_COUNT: '1', WORKER_NICE: '7' });
    const worker = (await poolView(server.url)).workers[0]!.pid;
    const serverNice = niceOf(`/proc/${server.pid}/stat`);
    const threads = readdirSync(`/proc/${worker}/task`);
    expect(threads.length).toBeGreaterThan(1); // Node's own threads, started before the server lowered the worker
    expect(new Set(threads.map((tid) => niceOf(`/proc/${worker}/task/${tid}/stat`)))).toEqual(new Set([Math.min(19, serverNice + 7)]));
    // And the work done there still answers.
    expect((await postAudio(`${server.url}/transcriptions/process-isolated`, short)).status).toBe(200);
  });

  it('replaces a worker whose RSS passes WORKER_MAX_RSS_MB (simulated native leak), the server unaffected', async () => {
    server = await spawnServer({ WORKER_COUNT: '1', SIMULATE_NATIVE_LEAK_MB: '80', WORKER_MAX_RSS_MB: '300', MAX_TASKS_PER_WORKER: '1000' });
    expect(server.logs.join('\n')).toContain('SIMULATE_NATIVE_LEAK_MB is set');
    const first = (await poolView(server.url)).workers[0]!.pid;
    for (let i = 0; i < 4; i++) {
      const r = await postAudio(`${server.url}/transcriptions/process-isolated`, short);
      expect(r.status).toBe(200);
    }
    await waitFor(async () => (await poolView(server!.url)).totals.recycled.rss >= 1);
    await waitFor(() => !alive(first));
    // A worker past its cap takes no more work; a warm replacement serves the slot.
    await waitFor(async () => (await poolView(server!.url)).workers.some((w) => w.pid !== first && w.state === 'idle'));
    const view = await poolView(server.url);
    expect(view.totals.crashed).toBe(0);
  });

  it('kills a hung task\'s worker at TASK_TIMEOUT_SECONDS (504), and the next request succeeds', async () => {
    // WORKER_NICE=0: with a 2 s limit on a machine shared with other work, a niced worker yields its CPU
    // to every other process there too, and the next request's short clip could run past the limit.
    server = await spawnServer({ WORKER_COUNT: '1', TASK_TIMEOUT_SECONDS: '2', WORKER_NICE: '0' });
    const worker = (await poolView(server.url)).workers[0]!.pid;
    const pending = postAudio(`${server.url}/transcriptions/process-isolated`, longFile(server.dataDir));
    await waitFor(async () => (await poolView(server!.url)).workers[0]?.state === 'busy');
    process.kill(worker, 'SIGSTOP'); // a real hang: the process stops answering anything
    const res = await pending;
    expect(res.status).toBe(504);
    expect(await res.json()).toMatchObject({ error: { code: 'TRANSCRIPTION_TIMEOUT' } });
    await waitFor(() => !alive(worker));
    await waitFor(async () => (await poolView(server!.url)).ready_workers === 1);
    const next = await postAudio(`${server.url}/transcriptions/process-isolated`, short);
    expect(next.status).toBe(200);
    expect((await poolView(server.url)).totals.timed_out).toBe(1);
  });

  it('answers 502 WORKER_CRASHED to the one request whose worker is killed -9, and stays up', async () => {
    server = await spawnServer({ WORKER_COUNT: '2' });
    const url = `${server.url}/transcriptions/process-isolated`;
    const doomed = postAudio(url, longFile(server.dataDir));
    let victim = 0;
    await waitFor(async () => {
      victim = (await poolView(server!.url)).workers.find((w) => w.state === 'busy')?.pid ?? 0;
      return victim > 0;
    });
    const bystander = postAudio(url, short);
    process.kill(victim, 'SIGKILL');
    const res = await doomed;
    expect(res.status).toBe(502);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('WORKER_CRASHED');
    expect(body.error.message).toContain('SIGKILL');
    expect((await bystander).status).toBe(200);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    await waitFor(async () => (await poolView(server!.url)).ready_workers === 2);
    expect((await postAudio(url, short)).status).toBe(200);
  });

  it('backs off respawning a worker that cannot start, and reports the pool as not ready', async () => {
    // The model is missing everywhere, so the in-process engine fails too; the pool must not spin.
    server = await spawnServer({ WORKER_COUNT: '1', POCKETSPHINX_MODEL_DIR: '/nonexistent', WORKER_RESPAWN_BACKOFF_MAX_SECONDS: '2' }, { waitReady: false });
    await new Promise((r) => setTimeout(r, 4000));
    const view = await poolView(server.url);
    // 250 ms, 500 ms, 1 s, 2 s, 2 s...: about 5 attempts in 4 s; a hot loop would make hundreds.
    expect(view.totals.startup_failures).toBeGreaterThanOrEqual(2);
    expect(view.totals.spawned).toBeLessThanOrEqual(7);
    expect(view.degraded).toBe(true);
    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(503);
    const failure = server.logs.find((l) => l.includes('worker failed to start'));
    expect(failure).toContain('/nonexistent');
  });
});
