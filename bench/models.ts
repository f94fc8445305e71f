/**
 * Models at runtime (issue 23): what loading a whisper model on first use
 * costs a request, that alternating models does not reload them, and what an
 * idle unload gives back. Two copies of whisper.cpp's test model serve as two
 * catalogue models (`whisper-test-a`, `whisper-test-b`, in a temp MODELS_DIR);
 * the server's default model is a third (WHISPER_MODEL_PATH, id `whisper`).
 *   (a) cold vs warm: ONE child server (WORKER_COUNT=1, IN_PROCESS_CONCURRENCY=1,
 *       so one worker and one in-process engine); per model and mode, the first
 *       request (it loads the model) against the median of N warm ones, the load
 *       time the server reports (hark_model_load_duration_seconds), and the loads
 *       counted (hark_model_loads_total). The requests send the shortest dev clip
 *       with VAD_MIN_SPEECH_MS above its length, so the VAD keeps no speech and
 *       whisper decodes nothing: the model is leased (loaded when cold) before the
 *       VAD runs, and the test model's decode (~14 s of temperature fallbacks on
 *       untrained weights, whatever the clip) would bury a load of tens of ms.
 *       One whole decode per mode (`vad=off`) is timed for scale;
 *   (b) A,B,A,B... to a server with WORKER_COUNT=2 (isolated), then in-process:
 *       loads counted, and which worker took each request;
 *   (c) idle unload: MODEL_IDLE_TTL_SECONDS=2, WORKER_COUNT=1: the worker's RSS
 *       (/proc/<pid>/status, the pid from GET /v1/models) right after a request
 *       that decoded with test-b, then once /v1/models shows it unloaded, next to
 *       the bytes the server reports for it; the same, one model at a time, for
 *       the default model (loaded at the worker's start, idle first) and for loads
 *       by requests that keep no speech before and after, so that memory the
 *       worker does not give back shows as a rising floor.
 * Prints figures and ratios; asserts nothing about time.
 *
 *   npm run bench:models [-- --warm N --alternate N]
 */
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { modelFileName, whisperModelId } from '../src/models/index.js';
import type { Clip } from '../test/support/eval/index.js';
import { startChildServer, type ChildServer } from './lib/child-server.js';
import { positiveFlag, runBench, startBench } from './lib/bench.js';
import { makeTempDir } from './lib/cleanup.js';
import { benchCorpus, CORPUS_CREDIT } from './lib/corpus.js';
import { postFile, type TranscriptionAnswer } from './lib/http.js';
import { readPool, readMetrics } from './lib/pool.js';
import { mb, readProcMemory } from './lib/proc.js';
import { ROOT } from './lib/paths.js';
import { fixed, heading, loadAverage, median, table, writeResults } from './lib/report.js';
import { MODE_LABELS, type Mode } from './lib/routes.js';

/** whisper.cpp's test model: the real file format with untrained weights (../shared/models/README.md). */
const TEST_MODEL = join(ROOT, '..', 'shared', 'models', 'for-tests-ggml-tiny.en.bin');
const NAMES = ['test-a', 'test-b'] as const;
const MODES: readonly Mode[] = ['process', 'in-process'];
const IDLE_TTL_SECONDS = 2;
/** Longer than the shortest dev clip (1.1 s): the VAD keeps none of its speech (see the header). */
const NO_SPEECH = { VAD_MIN_SPEECH_MS: '5000' };
const POLL_MS = 100;

const { values: flags } = parseArgs({
  options: {
    warm: { type: 'string', default: '5' },
    alternate: { type: 'string', default: '8' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

/** GET /v1/models as far as this bench reads it (src/http/routes/models.ts). */
interface ModelView {
  id: string;
  loaded?: { isolation: Mode; pid: number; slot?: number; bytes: number }[];
}

/** One request. */
interface Run {
  ms: number;
  serverMs: number;
  pid: number;
}

interface ColdWarm {
  model: string;
  mode: Mode;
  cold: Run;
  warm: Run[];
  /** Loads the metrics counted for the cold request, and for all the warm ones. */
  coldLoads: number;
  warmLoads: number;
  /** hark_model_load_duration_seconds of the cold load, in ms. */
  loadMs: number;
  residentBytes: number | undefined;
}

interface Alternation {
  mode: Mode;
  requests: { model: string; pid: number; ms: number; loadsSoFar: number }[];
  loads: number;
}

interface UnloadCycle {
  model: string;
  /** How it came to be loaded: at the worker's start, or by a request that decoded with it or kept no speech. */
  loadedBy: 'boot' | 'decode' | 'no speech';
  /** The request's client time (none for the boot load). */
  requestMs: number | undefined;
  /** The worker's VmRSS with the model loaded, and half a second after /v1/models shows it unloaded. */
  rssLoaded: number;
  rssUnloaded: number;
  /** What /v1/models reported the model takes in the worker. */
  residentBytes: number;
  /** From the model's last use (its request's end, or the worker's start) to /v1/models showing it gone. */
  unloadSeenAfterMs: number;
}

/** Two copies of the test model in a temp MODELS_DIR, and a catalogue (MODELS_CATALOGUE) naming both. */
function modelsDirWithCopies(): { dir: string; catalogue: string; bytes: number } {
  const root = makeTempDir('hark-bench-models-');
  const dir = join(root, 'models');
  mkdirSync(dir);
  const data = readFileSync(TEST_MODEL);
  const sha1 = createHash('sha1').update(data).digest('hex');
  for (const name of NAMES) copyFileSync(TEST_MODEL, join(dir, modelFileName(name)));
  const catalogue = join(root, 'catalogue.json');
  writeFileSync(catalogue, JSON.stringify(Object.fromEntries(NAMES.map((n) => [n, { bytes: data.length, sha1 }]))));
  return { dir, catalogue, bytes: data.length };
}

/** POSTs `clip` to `model` in `mode`; throws unless that model answered in that mode and, unless `vadOff`, decoded nothing. */
async function transcribe(url: string, model: string, mode: Mode, clip: Clip, opts: { vadOff?: boolean } = {}): Promise<Run> {
  const path = `/transcriptions?isolation=${mode}`;
  const res = await postFile(`${url}${path}`, clip.path, { engine: model, response_format: 'json', ...(opts.vadOff === true ? { vad: 'off' } : {}) });
  if (res.status !== 200) throw new Error(`POST ${path} engine=${model}: HTTP ${res.status}: ${res.body.slice(0, 500)}`);
  const answer = JSON.parse(res.body) as TranscriptionAnswer & { model?: string; speech_seconds?: number };
  if (answer.model !== model || answer.isolation !== mode) {
    throw new Error(`POST ${path} engine=${model} ran ${String(answer.model)} ${String(answer.isolation)}: the figures would not be what they say`);
  }
  if (opts.vadOff !== true && answer.speech_seconds !== 0) throw new Error(`the VAD kept ${String(answer.speech_seconds)} s of ${clip.id}: whisper decoded, so the figures would include its decode`);
  return { ms: res.ms, serverMs: answer.processing_ms, pid: answer.pid ?? NaN };
}

async function readModels(url: string): Promise<ModelView[]> {
  const res = await fetch(`${url}/v1/models`);
  if (res.status !== 200) throw new Error(`GET /v1/models: HTTP ${res.status}`);
  return ((await res.json()) as { data: ModelView[] }).data;
}

/** Sum of the samples of metric `name` whose labels include `labels` (Prometheus text, as readMetrics keys it). */
function metric(metrics: Map<string, number>, name: string, labels: Record<string, string>): number {
  let total = 0;
  for (const [key, value] of metrics) {
    if (!key.startsWith(`${name}{`)) continue;
    if (Object.entries(labels).every(([k, v]) => key.includes(`${k}="${v}"`))) total += value;
  }
  return total;
}

/** Loads counted so far, and seconds spent loading, for `labels` (model and/or isolation). */
async function loadCounters(url: string, labels: Record<string, string>): Promise<{ loads: number; seconds: number }> {
  const m = await readMetrics(url);
  return { loads: metric(m, 'hark_model_loads_total', labels), seconds: metric(m, 'hark_model_load_duration_seconds_sum', labels) };
}

function envLine(env: Record<string, string>): string {
  return Object.entries(env)
    .filter(([k]) => !['MODELS_DIR', 'MODELS_CATALOGUE', 'WHISPER_MODEL_PATH'].includes(k))
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
}

/** (a) Per model and mode: one cold request, then `warm` warm ones. */
async function coldWarm(server: ChildServer, clip: Clip, warm: number): Promise<ColdWarm[]> {
  const rows: ColdWarm[] = [];
  for (const name of NAMES) {
    const model = whisperModelId(name);
    for (const mode of MODES) {
      const labels = { model, isolation: mode };
      const before = await loadCounters(server.url, labels);
      const cold = await transcribe(server.url, model, mode, clip);
      const afterCold = await loadCounters(server.url, labels);
      const runs: Run[] = [];
      for (let i = 0; i < warm; i++) runs.push(await transcribe(server.url, model, mode, clip));
      const afterWarm = await loadCounters(server.url, labels);
      const held = (await readModels(server.url)).find((m) => m.id === model)?.loaded?.find((p) => p.isolation === mode);
      rows.push({
        model,
        mode,
        cold,
        warm: runs,
        coldLoads: afterCold.loads - before.loads,
        warmLoads: afterWarm.loads - afterCold.loads,
        loadMs: (afterCold.seconds - before.seconds) * 1000,
        residentBytes: held?.bytes,
      });
    }
  }
  return rows;
}

/** (b) A,B,A,B... in `mode`, loads counted after each request. */
async function alternate(server: ChildServer, clip: Clip, mode: Mode, count: number): Promise<Alternation> {
  const labels = { isolation: mode };
  const start = (await loadCounters(server.url, labels)).loads;
  const requests: Alternation['requests'] = [];
  for (let i = 0; i < count; i++) {
    const model = whisperModelId(NAMES[i % NAMES.length]!);
    const run = await transcribe(server.url, model, mode, clip);
    requests.push({ model, pid: run.pid, ms: run.ms, loadsSoFar: (await loadCounters(server.url, labels)).loads - start });
  }
  return { mode, requests, loads: requests.at(-1)?.loadsSoFar ?? 0 };
}

/** Where the worker holds `model` now, per /v1/models. */
async function heldInWorker(url: string, model: string): Promise<{ pid: number; bytes: number } | undefined> {
  return (await readModels(url)).find((m) => m.id === model)?.loaded?.find((p) => p.isolation === 'process');
}

function workerRss(pid: number): number {
  return readProcMemory(pid)?.rss ?? NaN;
}

/** Polls /v1/models until the worker no longer holds `model`; the ms waited, or throws after `timeoutMs`. */
async function untilUnloaded(url: string, model: string, timeoutMs: number): Promise<number> {
  const started = performance.now();
  while ((await heldInWorker(url, model)) !== undefined) {
    if (performance.now() - started > timeoutMs) throw new Error(`${model} was still loaded ${timeoutMs} ms later (MODEL_IDLE_TTL_SECONDS=${IDLE_TTL_SECONDS})`);
    await sleep(POLL_MS);
  }
  return performance.now() - started;
}

/** The worker's RSS with `model` loaded (read now), then once it has been unloaded as idle. */
async function unloadCycle(url: string, pid: number, loaded: Omit<UnloadCycle, 'rssLoaded' | 'rssUnloaded' | 'unloadSeenAfterMs'>, idleSince: number): Promise<UnloadCycle> {
  const rssLoaded = workerRss(pid);
  await untilUnloaded(url, loaded.model, IDLE_TTL_SECONDS * 1000 + 15_000);
  const unloadSeenAfterMs = performance.now() - idleSince;
  await sleep(500);
  return { ...loaded, rssLoaded, rssUnloaded: workerRss(pid), unloadSeenAfterMs };
}

/** One request with `model` in the worker, then its idle unload. */
async function useAndUnload(url: string, pid: number, model: string, clip: Clip, decode: boolean): Promise<UnloadCycle & { debugPoolRss: number | null }> {
  const run = await transcribe(url, model, 'process', clip, { vadOff: decode });
  const idleSince = performance.now();
  const held = await heldInWorker(url, model);
  if (held === undefined) throw new Error(`${model} is not loaded in the worker right after its request (/v1/models)`);
  if (held.pid !== pid || run.pid !== pid) throw new Error(`the request ran in pid ${run.pid}, /v1/models says ${held.pid}, the worker was ${pid}: one worker was expected`);
  const debugPoolRss = (await readPool(url)).workers.find((w) => w.pid === pid)?.rss_bytes ?? null;
  const cycle = await unloadCycle(url, pid, { model, loadedBy: decode ? 'decode' : 'no speech', requestMs: run.ms, residentBytes: held.bytes }, idleSince);
  return { ...cycle, debugPoolRss };
}

/**
 * (c) Load and idle unload, one after another in one worker: the default model
 * (loaded as the worker started), test-a (a request that keeps no speech),
 * test-b (a request that decodes), then test-a and test-b again (no speech).
 */
async function idleUnload(server: ChildServer, clip: Clip, defaultId: string): Promise<{ cycles: UnloadCycle[]; pid: number; debugPoolRss: number | null }> {
  const cycles: UnloadCycle[] = [];
  const boot = await heldInWorker(server.url, defaultId);
  const worker = (await readPool(server.url)).workers[0];
  if (worker === undefined) throw new Error('no worker in /debug/pool');
  const pid = worker.pid;
  // The worker loaded its default model as it started, so that is when it was last used.
  const bootedAt = performance.now() - worker.uptime_seconds * 1000;
  if (boot !== undefined) cycles.push(await unloadCycle(server.url, pid, { model: defaultId, loadedBy: 'boot', requestMs: undefined, residentBytes: boot.bytes }, bootedAt));
  else console.log(`the default model ${defaultId} was already unloaded when the server was ready: no figures for it`);
  const [a, b] = NAMES.map(whisperModelId) as [string, string];
  cycles.push(await useAndUnload(server.url, pid, a, clip, false));
  const decoded = await useAndUnload(server.url, pid, b, clip, true);
  cycles.push(decoded);
  for (const model of [a, b]) cycles.push(await useAndUnload(server.url, pid, model, clip, false));
  return { cycles, pid, debugPoolRss: decoded.debugPoolRss };
}

function printColdWarm(rows: readonly ColdWarm[], warm: number): void {
  console.log(
    table(
      [
        { header: 'model', align: 'left' },
        { header: 'mode', align: 'left' },
        { header: 'cold ms' },
        { header: `warm p50 ms (${warm})` },
        { header: 'cold - warm' },
        { header: 'cold / warm' },
        { header: 'server cold ms' },
        { header: 'server warm p50' },
        { header: 'load ms (metrics)' },
        { header: 'loads cold/warm' },
        { header: 'resident MB' },
        { header: 'pid', align: 'left' },
      ],
      rows.map((r) => {
        const w = median(r.warm.map((x) => x.ms));
        const pids = new Set([r.cold.pid, ...r.warm.map((x) => x.pid)]);
        return [
          r.model,
          MODE_LABELS[r.mode],
          fixed(r.cold.ms, 0),
          fixed(w, 0),
          fixed(r.cold.ms - w, 0),
          fixed(r.cold.ms / w, 2),
          fixed(r.cold.serverMs, 0),
          fixed(median(r.warm.map((x) => x.serverMs)), 0),
          fixed(r.loadMs, 0),
          `${r.coldLoads}/${r.warmLoads}`,
          r.residentBytes === undefined ? 'not loaded' : fixed(mb(r.residentBytes), 1),
          [...pids].join(','),
        ];
      }),
    ),
  );
}

function printAlternation(a: Alternation): void {
  const pidsOf = (model: string) => [...new Set(a.requests.filter((r) => r.model === model).map((r) => r.pid))].join(',');
  console.log(
    `${MODE_LABELS[a.mode]}: ${a.requests.length} requests; loads counted ${a.loads} (one per model: ${NAMES.length}; a reload per request: ${a.requests.length}); ` +
      NAMES.map((n) => `${whisperModelId(n)} ran in pid ${pidsOf(whisperModelId(n))}`).join(', '),
  );
  console.log(`  per request: ${a.requests.map((r, i) => `${i + 1}.${r.model.slice(-1).toUpperCase()}@${r.pid} ${fixed(r.ms, 0)} ms (loads ${r.loadsSoFar})`).join('; ')}`);
}

function printUnload(cycles: readonly UnloadCycle[]): void {
  const first = cycles[0]?.rssUnloaded ?? NaN;
  console.log(
    table(
      [
        { header: 'model', align: 'left' },
        { header: 'loaded by', align: 'left' },
        { header: 'request ms' },
        { header: 'RSS loaded MB' },
        { header: 'RSS unloaded MB' },
        { header: 'drop MB' },
        { header: 'reported MB' },
        { header: 'drop / reported' },
        { header: 'unloaded vs first MB' },
        { header: 'unload seen after s' },
      ],
      cycles.map((c) => [
        c.model,
        c.loadedBy,
        c.requestMs === undefined ? '-' : fixed(c.requestMs, 0),
        fixed(mb(c.rssLoaded), 1),
        fixed(mb(c.rssUnloaded), 1),
        fixed(mb(c.rssLoaded - c.rssUnloaded), 1),
        fixed(mb(c.residentBytes), 1),
        fixed((c.rssLoaded - c.rssUnloaded) / c.residentBytes, 2),
        `${c.rssUnloaded >= first ? '+' : ''}${fixed(mb(c.rssUnloaded - first), 1)}`,
        fixed(c.unloadSeenAfterMs / 1000, 1),
      ]),
    ),
  );
}

async function main(): Promise<void> {
  if (flags.help) {
    console.log(
      'usage: npm run bench:models [-- --warm N --alternate N]\n' +
        '  --warm N       warm requests per model and mode after the cold one (default 5)\n' +
        '  --alternate N  requests alternating test-a and test-b, per mode (default 8)',
    );
    return;
  }
  const warm = positiveFlag('warm', flags.warm);
  const alternations = positiveFlag('alternate', flags.alternate);
  const started = performance.now();
  const { info, loadAtStart, launch } = startBench('models');
  const clip = [...benchCorpus().clips].sort((a, b) => a.durationSeconds - b.durationSeconds)[0];
  if (clip === undefined) throw new Error('no dev clips');
  const files = modelsDirWithCopies();
  console.log(`${CORPUS_CREDIT}\nclip ${clip.id} (${fixed(clip.durationSeconds, 2)} s) for every request`);
  console.log(
    `models: ${NAMES.map((n) => whisperModelId(n)).join(', ')} = copies of ${TEST_MODEL} (${files.bytes} bytes, untrained weights) in a temp MODELS_DIR, ` +
      `named by MODELS_CATALOGUE; the default model (WHISPER_MODEL_PATH) is the same file, id whisper`,
  );
  const base = {
    ENGINES: 'whisper',
    ENGINE: 'whisper',
    WHISPER_MODEL_PATH: TEST_MODEL,
    MODELS_DIR: files.dir,
    MODELS_CATALOGUE: files.catalogue,
    ENABLE_PROCESS_ISOLATED: 'true',
    IN_PROCESS_CONCURRENCY: '1',
    ENABLE_DEBUG_ENDPOINTS: 'true',
  };

  // ---- (a) cold vs warm ----
  const coldEnv = { ...base, WORKER_COUNT: '1', ...NO_SPEECH };
  heading('(a) Cold load vs warm request, per model and mode, one server');
  const s1 = await startChildServer({ env: coldEnv });
  let rows: ColdWarm[];
  const decodeMs = new Map<Mode, number>();
  try {
    console.log(`server pid ${s1.pid} ready in ${fixed(s1.readyMs, 0)} ms; ${envLine(coldEnv)}`);
    // The first request of each mode pays its own first-use costs (ffmpeg, the VAD's session): with the default model, not charged to a model's load.
    for (const mode of MODES) await transcribe(s1.url, 'whisper', mode, clip);
    rows = await coldWarm(s1, clip, warm);
    for (const mode of MODES) decodeMs.set(mode, (await transcribe(s1.url, whisperModelId('test-a'), mode, clip, { vadOff: true })).ms);
  } finally {
    await s1.stop();
  }
  console.log(`one warm-up request per mode with the default model, then per model and mode: the cold request, ${warm} warm; the VAD keeps no speech (VAD_MIN_SPEECH_MS=5000), so nothing is decoded`);
  printColdWarm(rows, warm);
  console.log(
    `for scale, one whole decode of the clip with whisper-test-a, warm (vad=off): isolated ${fixed(decodeMs.get('process') ?? NaN, 0)} ms, in-process ${fixed(decodeMs.get('in-process') ?? NaN, 0)} ms ` +
      `(untrained weights: whisper.cpp falls back through every temperature; a real model decodes in its own time and loads in proportion to its size)`,
  );

  // ---- (b) alternation ----
  const altEnv = { ...base, WORKER_COUNT: '2', ...NO_SPEECH };
  heading('(b) test-a, test-b, test-a, ... : loads counted (hark_model_loads_total)');
  const s2 = await startChildServer({ env: altEnv });
  const alternationsRun: Alternation[] = [];
  let loadedAfter: ModelView[];
  try {
    console.log(`server pid ${s2.pid} ready in ${fixed(s2.readyMs, 0)} ms; ${envLine(altEnv)}`);
    for (const mode of MODES) alternationsRun.push(await alternate(s2, clip, mode, alternations));
    loadedAfter = (await readModels(s2.url)).filter((m) => (m.loaded?.length ?? 0) > 0);
  } finally {
    await s2.stop();
  }
  for (const a of alternationsRun) printAlternation(a);
  console.log(`GET /v1/models afterwards: ${loadedAfter.map((m) => `${m.id} in ${(m.loaded ?? []).map((p) => `${MODE_LABELS[p.isolation]} pid ${p.pid}${p.slot === undefined ? '' : ` (slot ${p.slot})`}`).join(', ')}`).join('; ')}`);

  // ---- (c) idle unload ----
  const ttlEnv = { ...base, WORKER_COUNT: '1', MODEL_IDLE_TTL_SECONDS: String(IDLE_TTL_SECONDS), ...NO_SPEECH };
  heading(`(c) Worker RSS before and after an idle unload (MODEL_IDLE_TTL_SECONDS=${IDLE_TTL_SECONDS})`);
  const s3 = await startChildServer({ env: ttlEnv });
  let unload: Awaited<ReturnType<typeof idleUnload>>;
  try {
    console.log(`server pid ${s3.pid} ready in ${fixed(s3.readyMs, 0)} ms; ${envLine(ttlEnv)}`);
    unload = await idleUnload(s3, clip, 'whisper');
  } finally {
    await s3.stop();
  }
  console.log(
    `worker pid ${unload.pid}, one model at a time: each loaded, then left idle until GET /v1/models shows it unloaded; VmRSS from /proc ` +
      `(GET /debug/pool said ${unload.debugPoolRss === null ? '-' : fixed(mb(unload.debugPoolRss), 1)} MB with test-b loaded after its decode); ` +
      `"reported" is /v1/models loaded[].bytes; "unloaded vs first": the RSS with nothing loaded against the first time nothing was`,
  );
  printUnload(unload.cycles);

  console.log(`\nload average: ${loadAtStart} at start, ${loadAverage()} at end; ${fixed((performance.now() - started) / 1000, 0)} s in all`);
  writeResults('models', {
    ...info,
    launch: launch.kind,
    clip: { id: clip.id, seconds: clip.durationSeconds },
    model_file_bytes: files.bytes,
    cold_warm: { settings: envLine(coldEnv), warm, rows, whole_decode_ms: Object.fromEntries(decodeMs) },
    alternation: { settings: envLine(altEnv), runs: alternationsRun, loaded_after: loadedAfter },
    idle_unload: { settings: envLine(ttlEnv), ...unload },
  });
}

runBench('models', main);
