/**
 * Entry point of a worker process: loads the engine once, says `ready`, then
 * decodes one task or live stream at a time for the server over IPC. It exits
 * when the server goes away (IPC disconnect, or the kernel's parent-death
 * signal), so no worker outlives its server.
 */
import type { Config } from '../config/index.js';
import { engineNotReady, loadAddon, loadEngines, releaseFreeMemory } from '../engines/index.js';
import { toSerializedError } from '../errors.js';
import { ModelCache } from '../models/index.js';
import { fromWorkerSchema, toWorkerSchema, WORKER_CONFIG_ENV, type FromWorker, type TaskMessage } from './protocol.js';
import { StreamHost } from './stream-host.js';
import { alignThreadPriorities } from './worker-priority.js';
import { transcribeFile } from '../transcription/pipeline.js';

function send(msg: FromWorker): void {
  // Validated on the way out too: a malformed message is a bug here, not there.
  process.send?.(fromWorkerSchema.parse(msg));
}

async function start(): Promise<void> {
  if (process.send === undefined) throw new Error('hark worker must be started by the server (no IPC channel)');
  process.on('disconnect', () => process.exit(0));
  alignThreadPriorities();
  try {
    loadAddon().setParentDeathSignal(9);
  } catch {
    // Only Linux has prctl; the disconnect handler above still applies.
  }
  const config = JSON.parse(process.env[WORKER_CONFIG_ENV] ?? '{}') as Config;
  const started = performance.now();
  // The models this worker holds; the pool learns of each load and unload, and routes by them.
  const models = new ModelCache({
    limitBytes: config.MODEL_MEMORY_LIMIT_MB * 1e6,
    idleTtlMs: config.MODEL_IDLE_TTL_SECONDS * 1000,
    rss: () => process.memoryUsage.rss(),
    afterUnload: releaseFreeMemory,
    onEvent: (e) =>
      send(e.type === 'loaded'
        ? { type: 'model', event: 'loaded', model: e.id, bytes: e.bytes, loadMs: e.loadMs }
        : e.type === 'resized'
          ? { type: 'model', event: 'resized', model: e.id, bytes: e.bytes }
          : { type: 'model', event: 'unloaded', model: e.id, bytes: e.bytes, reason: e.reason }),
  });
  const { instances, status } = await loadEngines(config.ENGINES, config, 1, { models });
  if (instances.size === 0) {
    const first = status.find((s) => s.state === 'failed');
    send({
      type: 'startup-failed',
      error: { code: 'ENGINE_ERROR', message: first?.state === 'failed' ? first.error.message : 'no engine configured' },
    });
    process.exit(3);
  }
  const engines = new Map([...instances].map(([name, list]) => [name, list[0]!]));

  let busy = false;
  const run = async (task: TaskMessage) => {
    busy = true;
    try {
      const engine = engines.get(task.engine);
      if (engine === undefined) throw engineNotReady(task.engine, status, `in worker ${process.pid}`);
      const transcript = await transcribeFile(engine, task.audio, task.options, {
        onProgress: (p) => send({ type: 'progress', id: task.id, ...p }),
        onLog: (message) => send({ type: 'log', id: task.id, message }),
        onSegment: (segment) => send({ type: 'segment', id: task.id, segment }),
      });
      send({ type: 'result', id: task.id, transcript });
    } catch (err) {
      send({ type: 'error', id: task.id, error: toSerializedError(err) });
    } finally {
      busy = false;
    }
  };

  const streams = new StreamHost({ engines, status, send, taskRunning: () => busy });
  process.on('message', (raw: unknown) => {
    const parsed = toWorkerSchema.safeParse(raw);
    if (!parsed.success) return; // not ours; the server only sends validated messages
    const msg = parsed.data;
    if (msg.type === 'shutdown') {
      void Promise.allSettled([...engines.values()].map((e) => e.unload()))
        .then(() => models.close())
        .finally(() => process.exit(0));
      return;
    }
    if (msg.type === 'evict-model') {
      void models.evict(msg.model);
      return;
    }
    if (msg.type !== 'task') return streams.handle(msg);
    if (busy || streams.active) {
      send({ type: 'error', id: msg.id, error: { code: 'WORKER_UNAVAILABLE', message: 'worker is busy' } });
      return;
    }
    void run(msg);
  });
  send({ type: 'ready', pid: process.pid, loadMs: Math.round(performance.now() - started), engines: status });
}

start().catch((err: unknown) => {
  process.stderr.write(`hark worker: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(3);
});
