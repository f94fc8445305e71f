/**
 * What the durable job path costs:
 *   (a) submission latency: POST /api/v1/jobs of a short clip, one at a time,
 *       with 1,000 finished jobs already in the store (and the submitted ones
 *       running behind); p50/p99 (target p99 < 20 ms);
 *   (b) batch vs synchronous throughput on the same clips in one run, one
 *       server (WORKER_COUNT=2): the dev clips through
 *       POST /transcriptions/process-isolated (two in flight), then the same
 *       clips as jobs (all submitted at once, polled until done); wall time and
 *       the ratio (target: batch within 10% of sync).
 * Prints figures next to their targets; asserts nothing.
 *
 *   npm run bench:jobs [-- --submissions N]
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { startChildServer } from './lib/child-server.js';
import { installCleanup } from './lib/cleanup.js';
import { benchCorpus, CORPUS_CREDIT } from './lib/corpus.js';
import { postFile } from './lib/http.js';
import { fixed, heading, loadAverage, machine, pct, printMachine, table, verdict, writeResults } from './lib/report.js';
import { transcribeVia } from './lib/routes.js';
import { treeCpuSeconds } from './lib/sampling.js';
import { percentile } from './lib/stats.js';

const TARGET_P99_MS = 20;
const TARGET_RATIO = 1.1;

const { values } = parseArgs({ options: { submissions: { type: 'string', default: '200' } } });
const SUBMISSIONS = Number(values.submissions);

installCleanup();
const info = machine();
printMachine(info);
console.log(CORPUS_CREDIT);
const { clips } = benchCorpus();
const shortest = [...clips].sort((a, b) => a.durationSeconds - b.durationSeconds)[0]!;

/** Finished jobs written straight into the store, as a busy server would have them. */
function prefill(dbPath: string, n: number): void {
  const db = new Database(dbPath);
  db.pragma('busy_timeout = 5000');
  const insert = db.prepare(
    `INSERT INTO transcription_jobs (id, status, priority, priority_rank, created_at, started_at, finished_at, file_name, file_size, duration_seconds,
       options, engine, isolation, attempts, result, progress, log_file_path)
     VALUES (?, 'completed', 'normal', 1, ?, ?, ?, 'old.wav', 1000, 1, '{}', 'pocketsphinx', 'process', 1, ?, 1, '/nonexistent/job.log')`,
  );
  const result = JSON.stringify({ text: 'old', language: 'en', duration_seconds: 1, confidence: 1, segments: [], words: [] });
  const t0 = Date.now() - n * 1000;
  db.transaction(() => {
    for (let i = 0; i < n; i++) insert.run(`prefill-${i}`, t0 + i * 1000, t0 + i * 1000, t0 + i * 1000 + 500, result);
  })();
  db.close();
}

// (a) submission latency
heading('(a) Submission latency with 1,000 jobs in the store');
const a = await startChildServer({ env: { WORKER_COUNT: '2', MAX_QUEUE_SIZE: '100000' } });
let submitMs: number[] = [];
try {
  prefill(join(a.dataDir, 'hark.db'), 1000);
  // Warm-up: the first request pays for lazy code paths.
  for (let i = 0; i < 5; i++) await postFile(`${a.url}/api/v1/jobs`, shortest.path);
  for (let i = 0; i < SUBMISSIONS; i++) {
    const r = await postFile(`${a.url}/api/v1/jobs`, shortest.path);
    if (r.status !== 202) throw new Error(`submit: HTTP ${r.status}: ${r.body.slice(0, 300)}`);
    submitMs.push(r.ms);
  }
} finally {
  await a.stop();
}
submitMs = submitMs.sort((x, y) => x - y);
const p50 = percentile(submitMs, 50);
const p99 = percentile(submitMs, 99);
console.log(
  table(
    [{ header: 'figure' }, { header: 'value', align: 'right' }, { header: 'target' }],
    [
      ['submissions', String(submitMs.length), ''],
      ['clip', `${shortest.id} (${shortest.durationSeconds.toFixed(2)} s)`, ''],
      ['submit p50 ms', fixed(p50, 1), ''],
      ['submit p99 ms', fixed(p99, 1), `< ${TARGET_P99_MS} ${verdict(p99 < TARGET_P99_MS)}`],
      ['submit max ms', fixed(submitMs[submitMs.length - 1] ?? 0, 1), ''],
    ],
  ),
);
console.log('  submitted jobs run behind the measurement (two workers busy), as on a loaded server');

// (b) batch vs sync
heading('(b) Batch jobs vs synchronous requests, same clips, one server (WORKER_COUNT=2)');
const b = await startChildServer({ env: { WORKER_COUNT: '2', MAX_QUEUE_SIZE: '1000' } });
let syncMs = 0;
let batchMs = 0;
let syncCpu = 0;
let batchCpu = 0;
try {
  await transcribeVia(b.url, 'process', shortest.path); // warm both workers' caches a little
  await transcribeVia(b.url, 'process', shortest.path);

  let cpu0 = treeCpuSeconds(b.pid);
  let t0 = performance.now();
  const queue = [...clips];
  await Promise.all(
    [0, 1].map(async () => {
      for (let c = queue.shift(); c !== undefined; c = queue.shift()) await transcribeVia(b.url, 'process', c.path);
    }),
  );
  syncMs = performance.now() - t0;
  syncCpu = treeCpuSeconds(b.pid) - cpu0;

  cpu0 = treeCpuSeconds(b.pid);
  t0 = performance.now();
  const ids: string[] = [];
  for (const c of clips) {
    const r = await postFile(`${b.url}/api/v1/jobs`, c.path, { isolation: 'process' });
    if (r.status !== 202) throw new Error(`submit: HTTP ${r.status}: ${r.body.slice(0, 300)}`);
    ids.push((JSON.parse(r.body) as { job_id: string }).job_id);
  }
  // Poll lightly: a tight loop of big list pages would take CPU from the decoders it measures.
  for (;;) {
    const res = await fetch(`${b.url}/api/v1/jobs?limit=${ids.length}`);
    const list = (await res.json()) as { jobs: { id: string; status: string }[] };
    const mine = list.jobs.filter((j) => ids.includes(j.id));
    const failed = mine.filter((j) => j.status === 'failed' || j.status === 'cancelled');
    if (failed.length > 0) throw new Error(`${failed.length} jobs failed`);
    if (mine.length === ids.length && mine.every((j) => j.status === 'completed')) break;
    await sleep(250);
  }
  batchMs = performance.now() - t0;
  batchCpu = treeCpuSeconds(b.pid) - cpu0;
} finally {
  await b.stop();
}
const audio = clips.reduce((s, c) => s + c.durationSeconds, 0);
const ratio = batchMs / syncMs;
console.log(
  table(
    [{ header: 'mode' }, { header: 'clips', align: 'right' }, { header: 'audio s', align: 'right' }, { header: 'wall s', align: 'right' }, { header: 'audio s / wall s', align: 'right' }, { header: 'server CPU s', align: 'right' }],
    [
      ['sync, 2 in flight', String(clips.length), fixed(audio, 1), fixed(syncMs / 1000, 1), fixed(audio / (syncMs / 1000), 2), fixed(syncCpu, 1)],
      ['batch jobs', String(clips.length), fixed(audio, 1), fixed(batchMs / 1000, 1), fixed(audio / (batchMs / 1000), 2), fixed(batchCpu, 1)],
    ],
  ),
);
console.log(`batch / sync wall time: ${fixed(ratio, 3)} (${pct(ratio - 1)}); target within 10%: ${verdict(ratio <= TARGET_RATIO)}`);
console.log(`load average at the end: ${loadAverage()}`);

writeResults('jobs', {
  machine: info,
  submission: { count: submitMs.length, p50_ms: p50, p99_ms: p99, target_p99_ms: TARGET_P99_MS },
  throughput: { clips: clips.length, audio_seconds: audio, sync_ms: syncMs, batch_ms: batchMs, ratio, sync_cpu_s: syncCpu, batch_cpu_s: batchCpu },
});
process.exit(0);
