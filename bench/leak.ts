/**
 * What a leaking native engine does to the server, in-process vs process-isolated:
 * SIMULATE_NATIVE_LEAK_MB=50 (every transcription mallocs 50 MB, touches it and
 * never frees it), the shortest dev clip, 450 requests at concurrency 2, two
 * child servers (`node dist/main.js`) one after the other:
 *   A  in-process: POST /transcriptions/sync, no pool (ENABLE_PROCESS_ISOLATED=false),
 *      IN_PROCESS_CONCURRENCY=2. Bounded: it stops sending once the server's
 *      RSS passes --cap-gib (6 GiB), the machine's MemAvailable falls under
 *      --reserve-gib, or --max-seconds pass, whichever comes first;
 *   B  isolated: POST /transcriptions/process-isolated, WORKER_COUNT=2,
 *      WORKER_MAX_RSS_MB=600, MAX_TASKS_PER_WORKER=100.
 * The server's VmRSS (/proc/<pid>/status) and every worker's are sampled each
 * second; printed as a table, kept in bench/results/leak.json and drawn to
 * docs/img/leak.png (SVG charts screenshotted with headless Chromium).
 * The servers, their settings and the load are the experiment `hark demo leak`
 * runs (src/loadtest/leak.ts); the bench adds the per-process figures.
 * Prints figures next to their targets; asserts nothing.
 *
 *   npm run bench:leak [-- --requests 450 --leak-mb 50 --cap-gib 6 --out docs/img/leak.png]
 */
import { readFile } from 'node:fs/promises';
import { relative, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import type { Clip } from '../test/support/eval/index.js';
import { chartPage, COLORS, lineChartSvg, renderPng, type ChartSeries } from './lib/chart.js';
import { leakPhases, runLeakPhase, type LeakPhase } from '../src/loadtest/leak.js';
import { loadPresets, type PresetsModule } from '../src/loadtest/presets.js';
import { benchServerOptions } from './lib/child-server.js';
import { positiveFlag, runBench, startBench } from './lib/bench.js';
import { makeTempDir, removeTempDir } from './lib/cleanup.js';
import { benchCorpus, CORPUS_CREDIT } from './lib/corpus.js';
import { poolSettled, readPool, waitForPool, type PoolView } from './lib/pool.js';
import { mb, readProcMemory } from './lib/proc.js';
import { ROOT, serverLaunch } from './lib/paths.js';
import { fixed, heading, loadAverage, median, table, verdict, writeResults } from './lib/report.js';
import { MODE_PATHS, transcribeVia, type Mode } from './lib/routes.js';
import { memAvailableBytes, treeCpuSeconds, workerPids } from './lib/sampling.js';
import { max, percentile } from './lib/stats.js';

const TARGET_ISOLATED_GROWTH_MB = 20;
const GIB = 1024 ** 3;
const MIB = 1024 ** 2;

const { values: flags } = parseArgs({
  options: {
    requests: { type: 'string', default: '450' },
    'leak-mb': { type: 'string', default: '50' },
    concurrency: { type: 'string', default: '2' },
    workers: { type: 'string', default: '2' },
    'worker-max-rss-mb': { type: 'string', default: '600' },
    'max-tasks': { type: 'string', default: '100' },
    'cap-gib': { type: 'string', default: '6' },
    'reserve-gib': { type: 'string', default: '4' },
    'max-seconds': { type: 'string', default: '900' },
    'settle-seconds': { type: 'string', default: '5' },
    'table-every': { type: 'string', default: '10' },
    out: { type: 'string', default: 'docs/img/leak.png' },
    replot: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

interface WorkerSample {
  pid: number;
  slot: number | undefined;
  rss: number;
}

interface Sample {
  /** Seconds since the phase's load started (negative: before). */
  t: number;
  done: number;
  serverRss: number;
  workers: WorkerSample[];
  memAvailable: number;
}

interface PhaseSpec {
  key: 'A' | 'B';
  title: string;
  mode: Mode;
  env: Record<string, string>;
  requests: number;
  concurrency: number;
  /** Stop sending once the server's RSS passes this (bytes); undefined: no bound. */
  capBytes: number | undefined;
  reserveBytes: number;
  maxSeconds: number;
  settleSeconds: number;
}

interface WorkerLife {
  pid: number;
  slot: number | undefined;
  firstT: number;
  lastT: number;
  firstRss: number;
  peakRss: number;
  tasks: number | undefined;
  aliveAtEnd: boolean;
}

interface PhaseResult {
  spec: PhaseSpec;
  serverPid: number;
  readyMs: number;
  samples: Sample[];
  sent: number;
  ok: number;
  statuses: Record<string, number>;
  stopReason: string;
  loadSeconds: number;
  startRss: number;
  endRss: number;
  peakRss: number;
  /** Server RSS when the last request was answered (before the settle). */
  loadEndRss: number;
  /** Lowest server RSS sampled after the start, and when: a start taken before a GC can hide growth from "end - start". */
  lowRss: number;
  lowT: number;
  latencyP50: number;
  latencyP95: number;
  cpuSeconds: number;
  pool?: { before: PoolView['totals']; after: PoolView['totals'] };
  workers: WorkerLife[];
}

/**
 * Runs one phase of the leak experiment (src/loadtest/leak.ts, the one `hark
 * demo leak` runs) on its own child server, with the bench's additions around
 * the load: a warm-up, a settled pool, every process's RSS from /proc each
 * second, CPU time, an idle settle and the pool's totals before and after.
 */
async function runPhase(spec: PhaseSpec, phase: LeakPhase, clip: Clip, presets: PresetsModule): Promise<PhaseResult> {
  const isolated = spec.mode === 'process';
  const slotOf = new Map<number, number>();
  const tasksOf = new Map<number, number>();
  const samples: Sample[] = [];
  let t0 = performance.now();
  let done = 0;
  let pid = NaN;
  let readyMs = NaN;
  let poolBefore: PoolView | undefined;
  let poolAfter: PoolView | undefined;
  let cpuStart = NaN;
  let cpuEnd = NaN;
  let loadEndT = NaN;
  let loadEndRss = NaN;
  let hwm = NaN;

  const sample = () => {
    const serverRss = readProcMemory(pid)?.rss ?? NaN;
    const workers = isolated
      ? workerPids(pid).map((w) => ({ pid: w, slot: slotOf.get(w), rss: readProcMemory(w)?.rss ?? NaN })).filter((w) => Number.isFinite(w.rss))
      : [];
    samples.push({ t: (performance.now() - t0) / 1000, done, serverRss, workers, memAvailable: memAvailableBytes() });
  };
  const dataDir = makeTempDir('hark-bench-data-');
  const launch = serverLaunch();
  try {
    const run = await runLeakPhase(
      phase,
      { clip: clip.path, concurrency: spec.concurrency, seconds: spec.maxSeconds, maxRequests: spec.requests, ...(spec.capBytes !== undefined ? { capBytes: spec.capBytes } : {}), reserveBytes: spec.reserveBytes },
      presets,
      {
        server: { ...benchServerOptions(launch), dataDir },
        beforeLoad: async (server) => {
          pid = server.pid;
          readyMs = server.readyMs;
          // Warm-up: one request per decoder (they leak too, before the start line).
          await Promise.all(Array.from({ length: spec.concurrency }, () => transcribeVia(server.url, spec.mode, clip.path)));
          if (isolated) {
            poolBefore = await waitForPool(server.url, poolSettled, 60_000, 100);
            for (const w of poolBefore.workers) slotOf.set(w.pid, w.slot);
          }
          // A moment idle after the warm-up, so the start line is not in its wake.
          await sleep(1000);
          cpuStart = treeCpuSeconds(pid);
          t0 = performance.now();
          sample();
        },
        onSample: (s, answered) => {
          // The pool's own view gives each worker's slot (the /proc sample has pids only).
          for (const w of s.pool?.workers ?? []) {
            slotOf.set(w.pid, w.slot);
            tasksOf.set(w.pid, w.tasks_done);
          }
          done = answered;
          sample();
        },
        afterLoad: async (server, run) => {
          done = run.requests.length;
          loadEndT = (performance.now() - t0) / 1000;
          cpuEnd = treeCpuSeconds(pid);
          sample();
          loadEndRss = samples.at(-1)!.serverRss;
          // Idle for a while: retiring workers exit, the server's garbage can go.
          await sleep(spec.settleSeconds * 1000);
          if (isolated) {
            poolAfter = await readPool(server.url);
            for (const w of poolAfter.workers) tasksOf.set(w.pid, w.tasks_done);
          }
          sample();
          hwm = readProcMemory(pid)?.hwm ?? NaN;
        },
      },
    );
    const statuses: Record<string, number> = {};
    for (const r of run.requests) statuses[r.status] = (statuses[r.status] ?? 0) + 1;
    const latencies = run.requests.filter((r) => r.outcome === 'ok').map((r) => r.ms);
    const loaded = samples.filter((x) => x.t >= 0);
    const lastWorkers = new Set(samples.at(-1)!.workers.map((w) => w.pid));
    const lives = new Map<number, WorkerLife>();
    for (const x of loaded) {
      for (const w of x.workers) {
        const life = lives.get(w.pid);
        if (life === undefined) {
          lives.set(w.pid, { pid: w.pid, slot: slotOf.get(w.pid), firstT: x.t, lastT: x.t, firstRss: w.rss, peakRss: w.rss, tasks: tasksOf.get(w.pid), aliveAtEnd: lastWorkers.has(w.pid) });
        } else {
          life.lastT = x.t;
          life.peakRss = Math.max(life.peakRss, w.rss);
          life.slot ??= slotOf.get(w.pid);
          life.tasks = tasksOf.get(w.pid) ?? life.tasks;
        }
      }
    }
    // Slots learnt after a sample are filled in for the whole series.
    for (const x of samples) for (const w of x.workers) w.slot ??= slotOf.get(w.pid);
    const serverSeries = loaded.map((x) => x.serverRss);
    const low = loaded.reduce((m, x) => (x.serverRss < m.serverRss ? x : m), loaded[0]!);
    return {
      spec,
      serverPid: pid,
      readyMs,
      samples,
      sent: run.requests.length,
      ok: statuses['200'] ?? 0,
      statuses,
      stopReason: run.stop_reason.startsWith('the stages ended') ? `--max-seconds ${spec.maxSeconds} passed` : run.stop_reason,
      loadSeconds: loadEndT,
      startRss: loaded[0]!.serverRss,
      endRss: samples.at(-1)!.serverRss,
      loadEndRss,
      lowRss: low.serverRss,
      lowT: low.t,
      peakRss: Math.max(...serverSeries, Number.isFinite(hwm) ? hwm : 0),
      latencyP50: percentile(latencies, 50),
      latencyP95: percentile(latencies, 95),
      cpuSeconds: cpuEnd - cpuStart,
      ...(poolBefore && poolAfter ? { pool: { before: poolBefore.totals, after: poolAfter.totals } } : {}),
      workers: [...lives.values()],
    };
  } finally {
    removeTempDir(dataDir);
  }
}

function settings(s: PhaseSpec): string {
  return Object.entries(s.env).map(([k, v]) => `${k}=${v}`).join(' ');
}

interface NotesInput {
  info: Record<string, unknown>;
  loadAtStart: string;
  loadAtEnd: string;
  clip: { id: string; durationSeconds: number };
  a: PhaseResult;
  b: PhaseResult;
  workerProcesses: number;
  recycledRss: number | undefined;
  crashed: number | undefined;
}

/** The lines under the chart: when, what, and what each phase did. */
function chartNotes(n: NotesInput): string[] {
  const { info, a, b } = n;
  return [
    `${String(info['date'])}, commit ${String(info['commit'])}${info['src_dirty'] ? ' (src modified)' : ''}; ${String(info['cores'])} cores, load average ${n.loadAtStart} -> ${n.loadAtEnd} (shared machine); node dist/main.js`,
    `Every request: ${n.clip.id} (${fixed(n.clip.durationSeconds, 2)} s), concurrency ${a.spec.concurrency}. A: ${settings(a.spec)}. B: ${settings(b.spec)}.`,
    `A: ${a.ok} requests, server RSS ${fixed(mb(a.startRss), 0)} -> ${fixed(mb(a.endRss), 0)} MB; stopped: ${a.stopReason}.`,
    `B: ${b.ok} requests, server RSS ${fixed(mb(b.startRss), 1)} -> ${fixed(mb(b.endRss), 1)} MB (peak ${fixed(mb(b.peakRss), 1)} MB); ${n.workerProcesses} worker processes, recycled for RSS ${n.recycledRss ?? '-'}, crashed ${n.crashed ?? '-'}.`,
    'Speech: CMU PocketSphinx test clip (BSD-2-Clause).',
  ];
}

/** A phase as bench/results/leak.json stores it. */
interface PhaseJson {
  key: 'A' | 'B';
  mode: Mode;
  settings: Record<string, string>;
  requests: number;
  concurrency: number;
  cap_bytes?: number;
  reserve_bytes?: number;
  max_seconds?: number;
  settle_seconds?: number;
  server_pid?: number;
  ready_ms?: number;
  sent: number;
  ok: number;
  statuses: Record<string, number>;
  stop_reason: string;
  load_seconds: number;
  server_rss: { start: number; end: number; at_last_answer: number; peak: number; low?: number; low_t?: number };
  latency_ms: { p50: number; p95: number };
  cpu_seconds: number;
  pool?: PhaseResult['pool'];
  workers: WorkerLife[];
  samples: Sample[];
}

function phaseFromJson(j: PhaseJson): PhaseResult {
  return {
    spec: {
      key: j.key,
      title: j.mode === 'process' ? 'process-isolated' : 'in-process',
      mode: j.mode,
      env: j.settings,
      requests: j.requests,
      concurrency: j.concurrency,
      capBytes: j.cap_bytes,
      reserveBytes: j.reserve_bytes ?? NaN,
      maxSeconds: j.max_seconds ?? NaN,
      settleSeconds: j.settle_seconds ?? NaN,
    },
    serverPid: j.server_pid ?? NaN,
    readyMs: j.ready_ms ?? NaN,
    samples: j.samples,
    sent: j.sent,
    ok: j.ok,
    statuses: j.statuses,
    stopReason: j.stop_reason,
    loadSeconds: j.load_seconds,
    startRss: j.server_rss.start,
    endRss: j.server_rss.end,
    loadEndRss: j.server_rss.at_last_answer,
    lowRss: j.server_rss.low ?? Math.min(...j.samples.filter((s) => s.t >= 0).map((s) => s.serverRss)),
    lowT: j.server_rss.low_t ?? NaN,
    peakRss: j.server_rss.peak,
    latencyP50: j.latency_ms.p50,
    latencyP95: j.latency_ms.p95,
    cpuSeconds: j.cpu_seconds,
    ...(j.pool ? { pool: j.pool } : {}),
    workers: j.workers,
  };
}

/** --replot: the chart again from a saved run (e.g. after changing the drawing), nothing measured. */
async function replot(jsonPath: string, outPath: string): Promise<void> {
  const saved = JSON.parse(await readFile(resolve(process.cwd(), jsonPath), 'utf8')) as {
    machine: Record<string, unknown>;
    load_avg: { start: string; end: string };
    clip: { id: string; duration_seconds: number };
    phases: PhaseJson[];
    worker_summary: Record<string, number>;
    pool_during_load?: { recycled_rss: number; crashed: number };
  };
  const [a, b] = saved.phases.map(phaseFromJson);
  if (a === undefined || b === undefined) throw new Error(`${jsonPath} holds ${saved.phases.length} phase(s), not 2`);
  const notes = chartNotes({
    info: saved.machine,
    loadAtStart: saved.load_avg.start,
    loadAtEnd: saved.load_avg.end,
    clip: { id: saved.clip.id, durationSeconds: saved.clip.duration_seconds },
    a,
    b,
    workerProcesses: saved.worker_summary['processes'] ?? NaN,
    recycledRss: saved.pool_during_load?.recycled_rss,
    crashed: saved.pool_during_load?.crashed,
  });
  await drawChart(a, b, Number(b.spec.env['WORKER_MAX_RSS_MB']) * MIB, outPath, notes);
  console.log(`chart redrawn from ${jsonPath} to ${relative(process.cwd(), outPath) || outPath}`);
}

function printTimeline(r: PhaseResult, every: number): void {
  const rows: string[][] = [];
  let next = 0;
  const loaded = r.samples.filter((s) => s.t >= 0);
  loaded.forEach((s, i) => {
    if (s.t + 0.25 < next && i !== loaded.length - 1) return;
    next = Math.floor(s.t / every) * every + every;
    const workers = [...s.workers]
      .sort((a, b) => (a.slot ?? 99) - (b.slot ?? 99) || a.pid - b.pid)
      .map((w) => `${w.slot ?? '?'}:${fixed(mb(w.rss), 0)}`)
      .join(' ');
    rows.push([
      fixed(s.t, 0),
      String(s.done),
      fixed(mb(s.serverRss), 1),
      `${s.serverRss >= r.startRss ? '+' : ''}${fixed(mb(s.serverRss - r.startRss), 1)}`,
      ...(r.spec.mode === 'process' ? [workers] : []),
      fixed(s.memAvailable / GIB, 1),
    ]);
  });
  console.log(
    table(
      [
        { header: 't s' },
        { header: 'answered' },
        { header: 'server RSS MB' },
        { header: 'growth MB' },
        ...(r.spec.mode === 'process' ? [{ header: 'workers slot:RSS MB', align: 'left' as const }] : []),
        { header: 'MemAvailable GiB' },
      ],
      rows,
    ),
  );
  console.log(`  every ${every} s of the load (and the last sample, after ${r.spec.settleSeconds} s idle); every 1 s sample is in bench/results/leak.json`);
}

function printPhase(r: PhaseResult): void {
  const growth = r.endRss - r.startRss;
  console.log(
    `server pid ${r.serverPid}; ${r.sent} requests sent, ${r.ok} answered 200 (${Object.entries(r.statuses).map(([k, v]) => `${k}: ${v}`).join(', ')}) in ${fixed(r.loadSeconds, 1)} s; stopped: ${r.stopReason}`,
  );
  console.log(
    `server RSS: start ${fixed(mb(r.startRss), 1)} MB, end ${fixed(mb(r.endRss), 1)} MB (${r.spec.settleSeconds} s after the last answer; ${fixed(mb(r.loadEndRss), 1)} MB at it), ` +
      `peak ${fixed(mb(r.peakRss), 1)} MB; growth ${growth >= 0 ? '+' : ''}${fixed(mb(growth), 1)} MB (${fixed(mb(growth) / Math.max(1, r.ok), 2)} MB per answered request)`,
  );
  console.log(`server RSS low ${fixed(mb(r.lowRss), 1)} MB at t=${fixed(r.lowT, 0)} s; end - low ${fixed(mb(r.endRss - r.lowRss), 1)} MB (growth measured from the lowest point instead of the start)`);
  console.log(
    `latency p50 ${fixed(r.latencyP50, 0)} ms, p95 ${fixed(r.latencyP95, 0)} ms; CPU of the server tree ${fixed(r.cpuSeconds, 1)} s over ${fixed(r.loadSeconds, 1)} s of load`,
  );
}

function workerSummary(r: PhaseResult, capBytes: number): Record<string, number> {
  const lives = r.workers;
  // Lives seen whole: spawned after the load started and gone before its end.
  const whole = lives.filter((w) => w.firstT > 0 && !w.aliveAtEnd);
  const ended = lives.filter((w) => !w.aliveAtEnd);
  const over = lives.filter((w) => w.peakRss > capBytes);
  const bySlot = new Map<number | undefined, WorkerLife[]>();
  for (const w of [...lives].sort((a, b) => a.firstT - b.firstT)) bySlot.set(w.slot, [...(bySlot.get(w.slot) ?? []), w]);
  // After a recycle: the new process's first RSS against the peak of the one it replaced.
  const drops: number[] = [];
  for (const list of bySlot.values()) for (let i = 1; i < list.length; i++) drops.push(list[i - 1]!.peakRss - list[i]!.firstRss);
  return {
    processes: lives.length,
    ended: ended.length,
    alive_at_end: lives.filter((w) => w.aliveAtEnd).length,
    peak_rss_max: max(lives.map((w) => w.peakRss)),
    peak_rss_median_of_ended: median(ended.map((w) => w.peakRss)),
    first_rss_median: median(lives.filter((w) => w.firstT > 0).map((w) => w.firstRss)),
    over_cap: over.length,
    max_over_cap: over.length === 0 ? 0 : max(over.map((w) => w.peakRss - capBytes)),
    lifetime_median_s: median(whole.map((w) => w.lastT - w.firstT)),
    drop_after_recycle_median: median(drops),
    drop_after_recycle_min: drops.length === 0 ? NaN : Math.min(...drops),
    tasks_median_of_ended: median(ended.map((w) => w.tasks ?? NaN).filter((n) => Number.isFinite(n))),
  };
}

async function drawChart(a: PhaseResult, b: PhaseResult, capBytes: number, outPath: string, notes: string[]): Promise<void> {
  const width = 1100;
  const serverLine = (r: PhaseResult) => r.samples.filter((s) => s.t >= 0).map((s) => [s.t, mb(s.serverRss)] as const);
  const xMax = Math.max(a.samples.at(-1)!.t, b.samples.at(-1)!.t);
  const both = lineChartSvg({
    title: 'Server RSS: in-process vs process-isolated engine',
    subtitle: `SIMULATE_NATIVE_LEAK_MB=${a.spec.env['SIMULATE_NATIVE_LEAK_MB']}: every transcription leaks that much native memory; concurrency ${a.spec.concurrency}; VmRSS of the server process every second`,
    xLabel: 'time since the phase\'s first request (s)',
    yLabel: 'server RSS (MB)',
    width,
    height: 420,
    xMin: 0,
    xMax,
    series: [
      { name: `A: in-process (${MODE_PATHS['in-process']}), ${a.ok} requests`, points: serverLine(a), color: COLORS.vermillion, width: 3 },
      { name: `B: isolated (${MODE_PATHS.process}), ${b.ok} requests`, points: serverLine(b), color: COLORS.blue, width: 3 },
    ],
    hLines: a.spec.capBytes === undefined ? [] : [{ value: mb(a.spec.capBytes), label: `phase A bound: stop sending at ${fixed(a.spec.capBytes / GIB, 0)} GiB`, color: COLORS.grey }],
    vLines: a.sent < a.spec.requests ? [{ value: a.loadSeconds, label: `A stopped after ${a.sent} requests`, color: COLORS.vermillion }] : [],
  });
  const bLine = serverLine(b);
  const bValues = bLine.map(([, v]) => v);
  const lo = Math.min(...bValues);
  const hi = Math.max(...bValues, mb(b.startRss) + TARGET_ISOLATED_GROWTH_MB);
  const zoom = lineChartSvg({
    title: 'Server RSS in the isolated phase (B), zoomed',
    subtitle: `start ${fixed(mb(b.startRss), 1)} MB, end ${fixed(mb(b.endRss), 1)} MB, peak ${fixed(mb(b.peakRss), 1)} MB; target: growth < ${TARGET_ISOLATED_GROWTH_MB} MB`,
    xLabel: 'time since the phase\'s first request (s)',
    yLabel: 'server RSS (MB)',
    width,
    height: 300,
    xMin: 0,
    xMax,
    yMin: Math.floor((lo - 10) / 10) * 10,
    yMax: Math.ceil((hi + 10) / 10) * 10,
    series: [{ name: 'B: server RSS', points: bLine, color: COLORS.blue, width: 2.5 }],
    hLines: [{ value: mb(b.startRss) + TARGET_ISOLATED_GROWTH_MB, label: `start + ${TARGET_ISOLATED_GROWTH_MB} MB (target bound)`, color: COLORS.vermillion }],
  });
  const slotColors = [COLORS.green, COLORS.orange, COLORS.purple, COLORS.sky];
  const workerSeries: ChartSeries[] = [];
  const named = new Set<string>();
  for (const life of [...b.workers].sort((x, y) => x.firstT - y.firstT)) {
    const name = life.slot === undefined ? 'worker (slot unknown)' : `slot ${life.slot} workers`;
    const points = b.samples.filter((s) => s.t >= 0).flatMap((s) => s.workers.filter((w) => w.pid === life.pid).map((w) => [s.t, mb(w.rss)] as const));
    workerSeries.push({ name, points, color: life.slot === undefined ? COLORS.grey : (slotColors[life.slot % slotColors.length] ?? COLORS.grey), width: 2, legend: !named.has(name) });
    named.add(name);
  }
  const workers = lineChartSvg({
    title: 'Worker RSS in the isolated phase (B): one line per worker process',
    subtitle: `WORKER_COUNT=${b.spec.env['WORKER_COUNT']}, MAX_TASKS_PER_WORKER=${b.spec.env['MAX_TASKS_PER_WORKER']}; a worker past the cap is replaced (its replacement warm first), so RSS saw-tooths`,
    xLabel: 'time since the phase\'s first request (s)',
    yLabel: 'worker RSS (MB)',
    width,
    height: 380,
    xMin: 0,
    xMax,
    series: workerSeries,
    hLines: [{ value: mb(capBytes), label: `WORKER_MAX_RSS_MB=${b.spec.env['WORKER_MAX_RSS_MB']} (${fixed(mb(capBytes), 0)} MB: the pool compares MiB)`, color: COLORS.vermillion }],
  });
  const html = chartPage({ title: 'hark: a leaking native engine, in-process vs process-isolated', charts: [both, zoom, workers], notes, width });
  await renderPng(html, outPath, width);
}

async function main(): Promise<void> {
  if (flags.help) {
    console.log(
      'usage: npm run bench:leak [-- options]\n' +
        '  --requests N           requests per phase (default 450)\n' +
        '  --leak-mb N            SIMULATE_NATIVE_LEAK_MB (default 50)\n' +
        '  --concurrency N        requests in flight (default 2; phase A runs IN_PROCESS_CONCURRENCY=N)\n' +
        '  --workers N            WORKER_COUNT of phase B (default 2)\n' +
        '  --worker-max-rss-mb N  WORKER_MAX_RSS_MB of phase B (default 600)\n' +
        '  --max-tasks N          MAX_TASKS_PER_WORKER of phase B (default 100)\n' +
        '  --cap-gib N            phase A stops sending once the server RSS passes this (default 6)\n' +
        '  --reserve-gib N        either phase stops once the machine\'s MemAvailable falls under this (default 4)\n' +
        '  --max-seconds N        either phase stops sending after this long (default 900)\n' +
        '  --settle-seconds N     idle time after the last answer before the end sample (default 5)\n' +
        '  --table-every N        seconds between printed rows (default 10; the JSON has every second)\n' +
        '  --out PATH             the chart (default docs/img/leak.png)\n' +
        '  --replot JSON          redraw the chart from a saved run (bench/results/leak.json) without running anything',
    );
    return;
  }
  const requests = positiveFlag('requests', flags.requests);
  const leakMb = positiveFlag('leak-mb', flags['leak-mb'], false);
  const concurrency = positiveFlag('concurrency', flags.concurrency);
  const workerCount = positiveFlag('workers', flags.workers);
  const workerMaxRssMb = positiveFlag('worker-max-rss-mb', flags['worker-max-rss-mb']);
  const maxTasks = positiveFlag('max-tasks', flags['max-tasks']);
  const capBytes = positiveFlag('cap-gib', flags['cap-gib'], false) * GIB;
  const reserveBytes = positiveFlag('reserve-gib', flags['reserve-gib'], false) * GIB;
  const maxSeconds = positiveFlag('max-seconds', flags['max-seconds'], false);
  const settleSeconds = positiveFlag('settle-seconds', flags['settle-seconds'], false);
  const tableEvery = positiveFlag('table-every', flags['table-every'], false);
  const outPath = resolve(ROOT, flags.out!);
  if (flags.replot !== undefined) return replot(flags.replot, outPath);

  const { info, loadAtStart, launch } = startBench('leak');
  const corpus = benchCorpus();
  const clip = [...corpus.clips].sort((a, b) => a.durationSeconds - b.durationSeconds)[0]!;
  console.log(`${CORPUS_CREDIT}\nclip: ${clip.id} (${fixed(clip.durationSeconds, 2)} s, the shortest dev clip), every request; MemAvailable at start ${fixed(memAvailableBytes() / GIB, 1)} GiB`);

  // The experiment's two phases, as `hark demo leak` runs them; the bench adds its bounds and figures.
  const presets = await loadPresets();
  const [phaseA, phaseB] = leakPhases({ leakMb, concurrency, workers: workerCount, workerMaxRssMb, maxTasksPerWorker: maxTasks });
  const specOf = (p: LeakPhase, cap: number | undefined): PhaseSpec => ({
    key: p.key,
    title: p.name,
    mode: p.isolation,
    env: p.env,
    requests,
    concurrency,
    capBytes: cap,
    reserveBytes,
    maxSeconds,
    settleSeconds,
  });
  const a = specOf(phaseA, capBytes);
  const b = specOf(phaseB, undefined);

  heading(`Phase A: in-process, POST ${MODE_PATHS['in-process']}, ${requests} requests at concurrency ${concurrency}`);
  console.log(`${settings(a)}; bounded: stops sending at server RSS > ${fixed(capBytes / GIB, 1)} GiB, MemAvailable < ${fixed(reserveBytes / GIB, 1)} GiB or ${maxSeconds} s`);
  const ra = await runPhase(a, phaseA, clip, presets);
  printTimeline(ra, tableEvery);
  printPhase(ra);
  if (ra.sent < requests) {
    console.log(
      `phase A was stopped early on purpose: ${ra.stopReason}. All ${requests} requests would leak about ${fixed((requests * leakMb) / 1000, 1)} GB in the server ` +
        `(this machine has ${String(info['memory_gb'])} GB, shared).`,
    );
  }

  heading(`Phase B: process-isolated, POST ${MODE_PATHS.process}, ${requests} requests at concurrency ${concurrency}`);
  console.log(`${settings(b)}; bounded: MemAvailable < ${fixed(reserveBytes / GIB, 1)} GiB or ${maxSeconds} s`);
  const rb = await runPhase(b, phaseB, clip, presets);
  printTimeline(rb, tableEvery);
  printPhase(rb);
  const workerCap = workerMaxRssMb * MIB;
  const ws = workerSummary(rb, workerCap);
  const poolDelta = rb.pool && {
    spawned: rb.pool.after.spawned - rb.pool.before.spawned,
    recycled_rss: rb.pool.after.recycled.rss - rb.pool.before.recycled.rss,
    recycled_tasks: rb.pool.after.recycled.tasks - rb.pool.before.recycled.tasks,
    crashed: rb.pool.after.crashed - rb.pool.before.crashed,
    timed_out: rb.pool.after.timed_out - rb.pool.before.timed_out,
    startup_failures: rb.pool.after.startup_failures - rb.pool.before.startup_failures,
  };
  console.log(
    `workers: ${ws['processes']} processes seen (${ws['ended']} ended during the run, ${ws['alive_at_end']} alive at the end); ` +
      `pool during the load: ${poolDelta ? Object.entries(poolDelta).map(([k, v]) => `${k} ${v}`).join(', ') : '-'}`,
  );
  console.log(
    `worker RSS: first sample after spawn median ${fixed(mb(ws['first_rss_median'] ?? NaN), 0)} MB; peak median ${fixed(mb(ws['peak_rss_median_of_ended'] ?? NaN), 0)} MB, ` +
      `max ${fixed(mb(ws['peak_rss_max'] ?? NaN), 0)} MB against the cap ${fixed(mb(workerCap), 0)} MB (WORKER_MAX_RSS_MB=${workerMaxRssMb} MiB); ` +
      `${ws['over_cap']} process(es) sampled above the cap, by up to ${fixed(mb(ws['max_over_cap'] ?? 0), 0)} MB`,
  );
  console.log(
    `after each recycle the slot's RSS dropped by a median ${fixed(mb(ws['drop_after_recycle_median'] ?? NaN), 0)} MB (smallest drop ${fixed(mb(ws['drop_after_recycle_min'] ?? NaN), 0)} MB); ` +
      `worker lifetime median ${fixed(ws['lifetime_median_s'] ?? NaN, 1)} s, tasks per ended worker median ${fixed(ws['tasks_median_of_ended'] ?? NaN, 0)}`,
  );

  heading('Summary');
  const growthA = ra.endRss - ra.startRss;
  const growthB = rb.endRss - rb.startRss;
  console.log(
    table(
      [
        { header: 'phase', align: 'left' },
        { header: 'answered' },
        { header: 'load s' },
        { header: 'start MB' },
        { header: 'end MB' },
        { header: 'peak MB' },
        { header: 'growth MB' },
        { header: 'MB/request' },
        { header: 'CPU s' },
        { header: 'target', align: 'left' },
      ],
      [ra, rb].map((r) => {
        const g = r.endRss - r.startRss;
        return [
          `${r.spec.key}: ${r.spec.title} (${MODE_PATHS[r.spec.mode]})`,
          `${r.ok}/${r.spec.requests}`,
          fixed(r.loadSeconds, 0),
          fixed(mb(r.startRss), 1),
          fixed(mb(r.endRss), 1),
          fixed(mb(r.peakRss), 1),
          `${g >= 0 ? '+' : ''}${fixed(mb(g), 1)}`,
          fixed(mb(g) / Math.max(1, r.ok), 2),
          fixed(r.cpuSeconds, 1),
          r.spec.mode === 'process'
            ? `< ${TARGET_ISOLATED_GROWTH_MB} MB ${verdict(mb(g) < TARGET_ISOLATED_GROWTH_MB)}`
            : `grows by GB: ${verdict(mb(g) >= 1000)}`,
        ];
      }),
    ),
  );
  console.log(`  server RSS = VmRSS of the server process alone (/proc/<pid>/status); end = ${settleSeconds} s after the last answer; peak includes VmHWM`);
  console.log(`  in-process leak rate ${fixed(mb(growthA) / Math.max(1, ra.ok), 1)} MB per request (SIMULATE_NATIVE_LEAK_MB=${leakMb}); isolated ${fixed(mb(growthB), 1)} MB over ${rb.ok} requests`);
  if (ra.sent < requests) console.log(`  phase A stopped early on purpose (${ra.stopReason}); phase B: ${rb.stopReason}`);
  const loadAtEnd = loadAverage();
  console.log(`  load average (1/5/15 min): ${loadAtStart} at the start, ${loadAtEnd} at the end, on ${String(info['cores'])} cores`);

  const notes = chartNotes({
    info,
    loadAtStart,
    loadAtEnd,
    clip,
    a: ra,
    b: rb,
    workerProcesses: ws['processes'] ?? NaN,
    recycledRss: poolDelta?.recycled_rss,
    crashed: poolDelta?.crashed,
  });
  await drawChart(ra, rb, workerCap, outPath, notes);
  console.log(`\nchart written to ${relative(process.cwd(), outPath) || outPath}`);

  writeResults('leak', {
    machine: info,
    load_avg: { start: loadAtStart, end: loadAtEnd },
    launch,
    clip: { id: clip.id, duration_seconds: clip.durationSeconds },
    targets: { isolated_growth_mb: TARGET_ISOLATED_GROWTH_MB },
    chart: relative(ROOT, outPath),
    phases: [ra, rb].map((r) => ({
      key: r.spec.key,
      mode: r.spec.mode,
      route: MODE_PATHS[r.spec.mode],
      settings: r.spec.env,
      requests: r.spec.requests,
      concurrency: r.spec.concurrency,
      cap_bytes: r.spec.capBytes,
      reserve_bytes: r.spec.reserveBytes,
      max_seconds: r.spec.maxSeconds,
      settle_seconds: r.spec.settleSeconds,
      server_pid: r.serverPid,
      ready_ms: r.readyMs,
      sent: r.sent,
      ok: r.ok,
      statuses: r.statuses,
      stop_reason: r.stopReason,
      load_seconds: r.loadSeconds,
      server_rss: { start: r.startRss, end: r.endRss, at_last_answer: r.loadEndRss, peak: r.peakRss, low: r.lowRss, low_t: r.lowT, growth: r.endRss - r.startRss },
      latency_ms: { p50: r.latencyP50, p95: r.latencyP95 },
      cpu_seconds: r.cpuSeconds,
      pool: r.pool,
      workers: r.workers,
      samples: r.samples,
    })),
    worker_summary: ws,
    pool_during_load: poolDelta,
  });
}

runBench('leak', main);
