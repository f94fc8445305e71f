import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { joinWavs } from './support/audio.js';
import { alive, childPids, spawnServer, waitFor, type ChildServer } from './support/child-server.js';
import { clip, devClips } from './support/corpus.js';
import { poolView, postAudio } from './support/http.js';

const short = clip('1089-134686-0001').path;
let server: ChildServer | undefined;
afterEach(async () => {
  await server?.stop();
  server = undefined;
});

describe('ENABLE_PROCESS_ISOLATED=false', () => {
  it('never spawns a worker, answers 503 PROCESS_ISOLATION_DISABLED on the isolated route, and reports zero workers', async () => {
    server = await spawnServer({ ENABLE_PROCESS_ISOLATED: 'false' });
    expect(childPids(server.pid)).toEqual([]);
    const iso = await postAudio(`${server.url}/transcriptions/process-isolated`, short);
    expect(iso.status).toBe(503);
    const body = (await iso.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('PROCESS_ISOLATION_DISABLED');
    expect(body.error.message).toContain('ENABLE_PROCESS_ISOLATED=true');
    const q = await postAudio(`${server.url}/transcriptions?isolation=process`, short);
    expect(q.status).toBe(503);
    // The default route and the OpenAI route work in-process.
    const ok = await postAudio(`${server.url}/transcriptions`, short);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ isolation: 'in-process', pid: server.pid });
    expect((await postAudio(`${server.url}/v1/audio/transcriptions`, short, { model: 'whisper-1' })).status).toBe(200);
    const view = await poolView(server.url);
    expect(view).toMatchObject({ enabled: false, size: 0, ready_workers: 0, workers: [] });
    expect(view.totals.spawned).toBe(0);
    // ffmpeg children come and go per request; none is left, and no worker ever existed.
    await waitFor(() => childPids(server!.pid).length === 0);
    expect(server.logs.join('\n')).not.toContain('worker ready');
  });

  it('refuses to start with a non-boolean value', async () => {
    await expect(spawnServer({ ENABLE_PROCESS_ISOLATED: 'maybe' })).rejects.toThrow(
      'ENABLE_PROCESS_ISOLATED="maybe" is not allowed (expected one of true, false, 1, 0, yes, no)',
    );
  });
});

describe('bounded queue', () => {
  it('answers 503 AT_CAPACITY with Retry-After at once when full, while accepted requests all complete', async () => {
    server = await spawnServer({ WORKER_COUNT: '1', MAX_QUEUE_SIZE: '1' });
    const long = join(server.dataDir, 'long.wav');
    joinWavs(devClips.slice(0, 4).map((c) => c.path), long);
    const url = `${server.url}/transcriptions/process-isolated`;
    // A place in line is taken when an upload is in: the long file runs, then the short one waits behind it.
    const capacity = async () => (await (await fetch(`${server!.url}/api/v1/capacity`)).json()) as { active_jobs: number; queued_jobs: number };
    const accepted = [postAudio(url, long)];
    await waitFor(async () => (await capacity()).active_jobs === 1);
    accepted.push(postAudio(url, short));
    await waitFor(async () => (await capacity()).queued_jobs === 1);
    const cap = (await (await fetch(`${server.url}/api/v1/capacity`)).json()) as Record<string, unknown>;
    expect(cap).toMatchObject({ active_jobs: 1, queued_jobs: 1, max_workers: 1, max_queue_size: 1, available_capacity: 0, at_capacity: true });
    const refused = await postAudio(url, short);
    expect(refused.status).toBe(503);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await refused.json()).toMatchObject({ error: { code: 'AT_CAPACITY', details: { retry_after_seconds: expect.any(Number) } } });
    // The other mode has its own queue.
    expect((await postAudio(`${server.url}/transcriptions/sync`, short)).status).toBe(200);
    const done = await Promise.all(accepted);
    expect(done.map((r) => r.status)).toEqual([200, 200]);
  });
});

describe('queued client that goes away', () => {
  it('leaves the queue, and the next request runs', async () => {
    server = await spawnServer({ WORKER_COUNT: '1', MAX_QUEUE_SIZE: '4' });
    const long = join(server.dataDir, 'long.wav');
    joinWavs(devClips.slice(0, 4).map((c) => c.path), long);
    const url = `${server.url}/transcriptions/process-isolated`;
    const first = postAudio(url, long);
    const capacity = async () => (await (await fetch(`${server!.url}/api/v1/capacity`)).json()) as { active_jobs: number; queued_jobs: number };
    await waitFor(async () => (await capacity()).active_jobs === 1);
    const ac = new AbortController();
    const gone = postAudio(url, short, {}, { signal: ac.signal }).catch((e: unknown) => e);
    await waitFor(async () => (await capacity()).queued_jobs === 1);
    ac.abort();
    await gone;
    await waitFor(async () => (await capacity()).queued_jobs === 0);
    expect((await first).status).toBe(200);
    const after = await postAudio(url, short);
    expect(after.status).toBe(200);
    const view = await poolView(server.url);
    expect(view.totals.crashed).toBe(0);
  });
});

describe('shutdown', () => {
  it('SIGTERM lets the running task finish, then exits with no child process left', async () => {
    server = await spawnServer({ WORKER_COUNT: '2', SHUTDOWN_GRACE_SECONDS: '20' });
    const workers = (await poolView(server.url)).workers.map((w) => w.pid);
    expect(workers).toHaveLength(2);
    const running = postAudio(`${server.url}/transcriptions/process-isolated`, clip('1089-134686-0000').path);
    await waitFor(async () => (await poolView(server!.url)).workers.some((w) => w.state === 'busy'), 10_000, 20);
    server.child.kill('SIGTERM');
    const res = await running;
    expect(res.status).toBe(200);
    const exit = await server.exited;
    expect(exit.code).toBe(0);
    // It exits once the task is done, not at the end of the grace period: the client's keep-alive
    // connection is closed with the answer instead of holding the server open.
    expect(server.logs.join('\n')).not.toContain('grace period over');
    for (const pid of workers) expect(alive(pid)).toBe(false);
    expect(childPids(server.pid)).toEqual([]);
  });

  it('SIGTERM past SHUTDOWN_GRACE_SECONDS kills the running task\'s worker and exits', async () => {
    server = await spawnServer({ WORKER_COUNT: '1', SHUTDOWN_GRACE_SECONDS: '1' });
    const worker = (await poolView(server.url)).workers[0]!.pid;
    const long = join(server.dataDir, 'long.wav');
    joinWavs(devClips.slice(0, 12).map((c) => c.path), long);
    const running = postAudio(`${server.url}/transcriptions/process-isolated`, long).catch((e: unknown) => e);
    await waitFor(async () => (await poolView(server!.url)).workers[0]?.state === 'busy', 10_000, 20);
    server.child.kill('SIGTERM');
    const exit = await server.exited;
    expect(exit.code).toBe(0);
    expect(alive(worker)).toBe(false);
    await running;
  });

  it('workers exit by themselves when the server is killed with SIGKILL', async () => {
    server = await spawnServer({ WORKER_COUNT: '2' });
    const workers = (await poolView(server.url)).workers.map((w) => w.pid);
    server.child.kill('SIGKILL');
    await server.exited;
    await waitFor(() => workers.every((pid) => !alive(pid)), 5000);
  });
});
