import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AppDeps } from '../types.js';

const workerSchema = z.object({
  slot: z.number().int(),
  pid: z.number().int(),
  state: z.enum(['starting', 'idle', 'busy', 'retiring', 'dead']),
  tasks_done: z.number().int(),
  rss_bytes: z.number().nullable(),
  uptime_seconds: z.number(),
  spawn_to_ready_ms: z.number().nullable(),
  current_task: z.object({ id: z.string(), age_seconds: z.number() }).nullable(),
  models: z.array(z.object({ id: z.string(), bytes: z.number(), in_use: z.boolean() })).describe('Models the worker holds (the pool sends a task to a worker holding its model).'),
});

export const poolViewSchema = z.object({
  enabled: z.boolean(),
  size: z.number().int(),
  ready_workers: z.number().int(),
  busy_workers: z.number().int(),
  waiting_tasks: z.number().int(),
  degraded: z.boolean(),
  workers: z.array(workerSchema),
  totals: z.object({
    spawned: z.number().int(),
    recycled: z.object({ tasks: z.number(), rss: z.number(), timeout: z.number(), crash: z.number(), cancel: z.number() }),
    crashed: z.number().int(),
    timed_out: z.number().int(),
    startup_failures: z.number().int(),
  }),
});

/** The pool as seen by operators; zeros when ENABLE_PROCESS_ISOLATED=false (nothing is spawned to answer). */
export async function poolView(deps: AppDeps): Promise<z.infer<typeof poolViewSchema>> {
  const pool = deps.pool;
  if (pool === undefined) {
    return {
      enabled: false, size: 0, ready_workers: 0, busy_workers: 0, waiting_tasks: 0, degraded: false, workers: [],
      totals: { spawned: 0, recycled: { tasks: 0, rss: 0, timeout: 0, crash: 0, cancel: 0 }, crashed: 0, timed_out: 0, startup_failures: 0 },
    };
  }
  await pool.refreshRss();
  const s = pool.snapshot();
  const held = pool.models();
  return {
    enabled: true,
    size: s.size,
    ready_workers: s.readyWorkers,
    busy_workers: s.busyWorkers,
    waiting_tasks: s.waitingTasks,
    degraded: s.degraded,
    workers: s.workers.map((w) => ({
      slot: w.slot,
      pid: w.pid,
      state: w.state,
      tasks_done: w.tasksDone,
      rss_bytes: w.rssBytes ?? null,
      uptime_seconds: Math.round(w.uptimeSeconds * 10) / 10,
      spawn_to_ready_ms: w.spawnToReadyMs === undefined ? null : Math.round(w.spawnToReadyMs),
      current_task: w.currentTask ? { id: w.currentTask.id, age_seconds: Math.round(w.currentTask.ageSeconds * 10) / 10 } : null,
      models: held.filter((m) => m.pid === w.pid).map((m) => ({ id: m.id, bytes: m.bytes, in_use: m.inUse })),
    })),
    totals: {
      spawned: s.totals.spawned,
      recycled: s.totals.recycled,
      crashed: s.totals.crashed,
      timed_out: s.totals.timedOut,
      startup_failures: s.totals.startupFailures,
    },
  };
}

export const debugRoutes: FastifyPluginAsyncZod<AppDeps> = async (app, deps) => {
  app.get(
    '/debug/pool',
    {
      schema: {
        tags: ['debug'],
        summary: 'Worker pool: each worker (pid, state, tasks, RSS, uptime, current task) and totals (ENABLE_DEBUG_ENDPOINTS)',
        response: { 200: poolViewSchema },
      },
      config: { scope: 'admin' },
    },
    async () => poolView(deps),
  );
};
