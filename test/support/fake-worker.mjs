/* global process, setTimeout, Buffer */
/**
 * A stand-in for src/pool/worker-entry.ts that speaks the same IPC protocol but
 * loads no engine, so the pool's supervision (test/pool-exit.test.ts) runs on
 * real child processes in milliseconds. What it does is told by:
 *  - DATA_DIR/fake-worker.json: { failSpawns?: number[], readyDelayMs?: number }; the
 *    n-th start (1-based, counted in DATA_DIR/spawns.log) fails when n is in failSpawns;
 *  - each task's audio.path: 'ok', 'slow' (300 ms), 'crash' (exit 7), 'hang' (never answers),
 *    'bloat' (holds 100 MB more, then answers).
 */
import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const config = JSON.parse(process.env.HARK_WORKER_CONFIG ?? '{}');
const dir = config.DATA_DIR;
let control = {};
try {
  control = JSON.parse(readFileSync(join(dir, 'fake-worker.json'), 'utf8'));
} catch {
  // no control file: every start succeeds at once
}
appendFileSync(join(dir, 'spawns.log'), `${process.pid} ${Date.now()}\n`);
const spawnNumber = readFileSync(join(dir, 'spawns.log'), 'utf8').trim().split('\n').length;

const send = (msg) => process.send(msg);
process.on('disconnect', () => process.exit(0));
const held = [];
const transcript = { text: 'ok', language: 'en', duration_seconds: 1, confidence: null, segments: [], words: [] };

process.on('message', (msg) => {
  if (msg.type === 'shutdown') process.exit(0);
  if (msg.type !== 'task') return;
  const done = () => send({ type: 'result', id: msg.id, transcript });
  switch (msg.audio.path) {
    case 'ok':
      return done();
    case 'slow':
      return void setTimeout(done, 300);
    case 'crash':
      return process.exit(7);
    case 'hang':
      return;
    case 'bloat':
      held.push(Buffer.alloc(100 * 1024 * 1024, 1));
      return done();
  }
});

if ((control.failSpawns ?? []).includes(spawnNumber)) {
  send({ type: 'startup-failed', error: { code: 'ENGINE_ERROR', message: `fake start ${spawnNumber} fails` } });
  setTimeout(() => process.exit(3), 10);
} else {
  setTimeout(() => send({ type: 'ready', pid: process.pid, loadMs: 0, engines: [] }), control.readyDelayMs ?? 0);
}
