/**
 * Entry point of a worker process: loads the engine once, says `ready`, then
 * decodes one task at a time for the server over IPC. It exits when the server
 * goes away (IPC disconnect, or the kernel's parent-death signal), so no worker
 * outlives its server.
 */
import type { Config } from '../config/index.js';
import { createEngine, loadAddon } from '../engines/index.js';
import { AppError, toSerializedError } from '../errors.js';
import { fromWorkerSchema, toWorkerSchema, WORKER_CONFIG_ENV, type FromWorker, type TaskMessage } from './protocol.js';

function send(msg: FromWorker): void {
  // Validated on the way out too: a malformed message is a bug here, not there.
  process.send?.(fromWorkerSchema.parse(msg));
}

async function start(): Promise<void> {
  if (process.send === undefined) throw new Error('hark worker must be started by the server (no IPC channel)');
  process.on('disconnect', () => process.exit(0));
  try {
    loadAddon().setParentDeathSignal(9);
  } catch {
    // Only Linux has prctl; the disconnect handler above still applies.
  }
  const config = JSON.parse(process.env[WORKER_CONFIG_ENV] ?? '{}') as Config;
  const engine = createEngine(config.ENGINE, config);
  const started = performance.now();
  try {
    await engine.load();
  } catch (err) {
    send({ type: 'startup-failed', error: toSerializedError(err) });
    process.exit(3);
  }

  let busy = false;
  const run = async (task: TaskMessage) => {
    busy = true;
    try {
      if (task.engine !== config.ENGINE) throw new AppError('ENGINE_NOT_READY', `engine "${task.engine}" is not loaded in this worker`);
      const transcript = await engine.transcribe(task.audio, task.options, {
        onProgress: (p) => send({ type: 'progress', id: task.id, ...p }),
        onLog: (message) => send({ type: 'log', id: task.id, message }),
      });
      send({ type: 'result', id: task.id, transcript });
    } catch (err) {
      send({ type: 'error', id: task.id, error: toSerializedError(err) });
    } finally {
      busy = false;
    }
  };

  process.on('message', (raw: unknown) => {
    const parsed = toWorkerSchema.safeParse(raw);
    if (!parsed.success) return; // not ours; the server only sends validated messages
    const msg = parsed.data;
    if (msg.type === 'shutdown') {
      void engine.unload().finally(() => process.exit(0));
      return;
    }
    if (busy) {
      send({ type: 'error', id: msg.id, error: { code: 'WORKER_UNAVAILABLE', message: 'worker is busy' } });
      return;
    }
    void run(msg);
  });
  send({ type: 'ready', pid: process.pid, loadMs: Math.round(performance.now() - started) });
}

start().catch((err: unknown) => {
  process.stderr.write(`hark worker: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(3);
});
