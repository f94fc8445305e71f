import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../src/config/index.js';
import { createLogger } from '../src/logger.js';
import { WorkerPool } from '../src/pool/index.js';
import type { TaskMessage } from '../src/pool/protocol.js';

/*
 * The pool's exit handling (WorkerPool.onExit and what it schedules) on real child
 * processes: test/support/fake-worker.mjs speaks the worker protocol without an
 * engine, so each branch (crash idle or mid-task, recycle by tasks or memory,
 * timeout, cancel, shutdown, failed starts and their backoff) runs in milliseconds.
 * Waits are on conditions, bounded; time is only asserted as a lower bound.
 */

const ENTRY = fileURLToPath(new URL('./support/fake-worker.mjs', import.meta.url));

interface Harness {
  pool: WorkerPool;
  dir: string;
  /** Warnings the pool logged (pino lines, parsed). */
  warnings: () => { msg: string; reason?: string }[];
  /** [pid, start time ms] of every worker process started, in order. */
  spawns: () => [number, number][];
}

let h: Harness | undefined;
afterEach(async () => {
  await h?.pool.close(1000);
  if (h) rmSync(h.dir, { recursive: true, force: true });
  h = undefined;
});

async function startPool(env: Record<string, string> = {}, control: { failSpawns?: number[]; readyDelayMs?: number } = {}): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'hark-pool-exit-'));
  writeFileSync(join(dir, 'fake-worker.json'), JSON.stringify(control));
  const lines: string[] = [];
  const config = loadConfig({ env: { DATA_DIR: dir, WORKER_COUNT: '1', ...env } });
  const logger = createLogger('warn', { write: (line: string) => void lines.push(line) });
  const pool = new WorkerPool({ config, logger, entry: ENTRY });
  h = {
    pool,
    dir,
    warnings: () => lines.map((l) => JSON.parse(l) as { msg: string; reason?: string; level: number }).filter((l) => l.level === 40),
    spawns: () =>
      readFileSync(join(dir, 'spawns.log'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => l.split(' ').map(Number) as [number, number]),
  };
  await pool.start();
  return h;
}

const task = (path: string): TaskMessage => ({ type: 'task', id: randomUUID(), audio: { path, samples: 0, durationSeconds: 1 }, engine: 'pocketsphinx', options: {} });
const alive = (pid: number) => existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
const until = (check: () => boolean) => vi.waitFor(() => expect(check()).toBe(true), { timeout: 10_000, interval: 20 });
/** The slot has a worker ready for work again. */
const readyAgain = (pool: WorkerPool) => until(() => pool.snapshot().readyWorkers === pool.size && pool.snapshot().workers.every((w) => w.state === 'idle'));

describe('WorkerPool exit handling', () => {
  it('respawns a worker killed while idle, after a backoff, and counts a crash', async () => {
    const { pool, spawns, warnings } = await startPool();
    const [first] = pool.pids();
    const killedAt = Date.now();
    process.kill(first!, 'SIGKILL');
    await until(() => pool.totals.crashed === 1);
    await readyAgain(pool);
    const [second] = pool.pids();
    expect(second).not.toBe(first);
    // One failure: the respawn waited 250 ms (BACKOFF_BASE_MS), however late it ran.
    expect(spawns()[1]![1] - killedAt).toBeGreaterThanOrEqual(250);
    expect(pool.totals).toMatchObject({ spawned: 2, crashed: 1, recycled: { crash: 1, tasks: 0 }, timedOut: 0, startupFailures: 0 });
    expect(pool.snapshot().degraded).toBe(false);
    expect(warnings()).toMatchObject([{ msg: 'worker exited', reason: 'crash' }]);
  });

  it('rejects the task of a worker that dies mid-task with WORKER_CRASHED, and the respawned slot takes the next task', async () => {
    const { pool } = await startPool();
    const [first] = pool.pids();
    await expect(pool.run(task('crash'))).rejects.toMatchObject({ code: 'WORKER_CRASHED', details: { exit_code: 7, signal: null } });
    expect(pool.totals).toMatchObject({ crashed: 1, recycled: { crash: 1 } });
    const next = await pool.run(task('ok')); // waits in the FIFO through the backoff
    expect(next.pid).not.toBe(first);
    expect(pool.totals.spawned).toBe(2);
  });

  it('replaces a worker after MAX_TASKS_PER_WORKER: it serves until its replacement is warm, then leaves, with no crash', async () => {
    const { pool, warnings } = await startPool({ MAX_TASKS_PER_WORKER: '2' }, { readyDelayMs: 300 });
    const [first] = pool.pids();
    await pool.run(task('ok'));
    expect((await pool.run(task('ok'))).pid).toBe(first);
    expect(pool.totals.recycled.tasks).toBe(1);
    // The replacement is still warming: the due worker takes this one too.
    expect((await pool.run(task('ok'))).pid).toBe(first);
    await until(() => !alive(first!) && pool.pids().length === 1);
    const [second] = pool.pids();
    expect(second).not.toBe(first);
    expect((await pool.run(task('ok'))).pid).toBe(second);
    expect(pool.totals).toMatchObject({ spawned: 2, crashed: 0, recycled: { tasks: 1, crash: 0 } });
    expect(warnings()).toEqual([]);
  });

  it('retires a worker past WORKER_MAX_RSS_MB at once; its replacement takes the slot when ready', async () => {
    const { pool, warnings } = await startPool({ WORKER_MAX_RSS_MB: '64' }, { readyDelayMs: 300 });
    const [first] = pool.pids();
    expect((await pool.run(task('bloat'))).pid).toBe(first);
    expect(pool.totals.recycled.rss).toBe(1);
    // Past its cap it takes no more work: this task waits for the replacement.
    const next = await pool.run(task('ok'));
    expect(next.pid).not.toBe(first);
    await until(() => !alive(first!));
    expect(pool.pids()).toEqual([next.pid]);
    expect(pool.totals).toMatchObject({ spawned: 2, crashed: 0, recycled: { rss: 1, tasks: 0 } });
    expect(warnings()).toEqual([]);
  });

  it('kills a worker past TASK_TIMEOUT_SECONDS (TRANSCRIPTION_TIMEOUT) and respawns it at once', async () => {
    const { pool, warnings } = await startPool({ TASK_TIMEOUT_SECONDS: '0.3' });
    const [first] = pool.pids();
    await expect(pool.run(task('hang'))).rejects.toMatchObject({ code: 'TRANSCRIPTION_TIMEOUT' });
    await until(() => !alive(first!));
    expect((await pool.run(task('ok'))).pid).not.toBe(first);
    expect(pool.totals).toMatchObject({ spawned: 2, timedOut: 1, crashed: 0, recycled: { timeout: 1, crash: 0 } });
    expect(warnings()).toMatchObject([{ msg: 'worker exited', reason: 'timeout' }]);
  });

  it('kills the worker of a cancelled task (REQUEST_ABORTED) and respawns it', async () => {
    const { pool } = await startPool();
    const [first] = pool.pids();
    const ac = new AbortController();
    const running = pool.run(task('hang'), { signal: ac.signal, onStart: () => ac.abort() });
    await expect(running).rejects.toMatchObject({ code: 'REQUEST_ABORTED' });
    expect((await pool.run(task('ok'))).pid).not.toBe(first);
    expect(pool.totals).toMatchObject({ crashed: 0, recycled: { cancel: 1 } });
  });

  it('close() lets a running task finish, then leaves no worker and respawns none', async () => {
    const { pool, warnings } = await startPool({ WORKER_COUNT: '2' });
    const workers = pool.pids();
    const running = pool.run(task('slow'));
    await until(() => pool.snapshot().busyWorkers === 1);
    await pool.close(5000);
    expect((await running).transcript.text).toBe('ok');
    expect(pool.pids()).toEqual([]);
    for (const pid of workers) expect(alive(pid)).toBe(false);
    await expect(pool.run(task('ok'))).rejects.toMatchObject({ code: 'SHUTTING_DOWN' });
    expect(pool.totals).toMatchObject({ spawned: 2, crashed: 0 });
    expect(warnings()).toEqual([]);
  });

  it('close() past its grace kills a hung worker; the exit is not counted as a crash and nothing respawns', async () => {
    const { pool } = await startPool();
    const [first] = pool.pids();
    const running = pool.run(task('hang')).catch((e: unknown) => e);
    await until(() => pool.snapshot().busyWorkers === 1);
    await pool.close(200);
    expect(alive(first!)).toBe(false);
    expect(await running).toMatchObject({ code: 'WORKER_CRASHED' });
    await new Promise((r) => setTimeout(r, 300)); // past BACKOFF_BASE_MS: a respawn would have started
    expect(pool.totals).toMatchObject({ spawned: 1, crashed: 0 });
  });

  it('backs off a worker that cannot start (doubling, capped), reports degraded, and clears it once one starts', async () => {
    const { pool, spawns } = await startPool({ WORKER_RESPAWN_BACKOFF_MAX_SECONDS: '0.4' }, { failSpawns: [1, 2, 3] });
    await until(() => pool.snapshot().degraded);
    expect(pool.snapshot().readyWorkers).toBe(0);
    await readyAgain(pool);
    expect(pool.snapshot().degraded).toBe(false);
    expect(pool.totals).toMatchObject({ spawned: 4, startupFailures: 3, crashed: 0 });
    expect(String(pool.lastStartupError)).toContain('fake start 3 fails');
    // 250 ms, then 500 ms capped to 400, then 400: lower bounds only (a busy machine is only later).
    const starts = spawns().map(([, at]) => at);
    const gaps = starts.slice(1).map((at, i) => at - starts[i]!);
    expect(gaps[0]).toBeGreaterThanOrEqual(250);
    expect(gaps[1]).toBeGreaterThanOrEqual(400);
    expect(gaps[2]).toBeGreaterThanOrEqual(400);
  });

  it('keeps a due worker serving when its replacement fails to start, and retries the recycle after a backoff', async () => {
    const { pool, spawns } = await startPool({ MAX_TASKS_PER_WORKER: '1' }, { failSpawns: [2] });
    const [first] = pool.pids();
    expect((await pool.run(task('ok'))).pid).toBe(first);
    await until(() => pool.totals.startupFailures === 1);
    expect(alive(first!)).toBe(true);
    await until(() => spawns().length === 3 && !alive(first!) && pool.pids().length === 1);
    await readyAgain(pool);
    expect(pool.pids()).toEqual([spawns()[2]![0]]);
    expect(pool.totals).toMatchObject({ spawned: 3, startupFailures: 1, crashed: 0, recycled: { tasks: 1 } });
  });
});
