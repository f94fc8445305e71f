/**
 * The engines side by side, in one run:
 *   - load: each engine alone in a child server (`ENGINES=<name>`, no worker
 *     pool): its `loadMs` from GET /readyz, spawn to the first /readyz 200,
 *     idle RSS, and RSS after one decode; both also over a baseline server;
 *   - speed: the dev clips through ONE child server with every engine loaded
 *     and one decoder per mode (WORKER_COUNT=1, IN_PROCESS_CONCURRENCY=1),
 *     `POST /transcriptions?isolation=in-process|process` with the `engine`
 *     field, warm, one request at a time: real-time factor per mode and the
 *     isolated / in-process ratio; WER where the weights are real.
 * `upstream` forwards each utterance to a second hark (pocketsphinx, in-process,
 * its own child). `azure` is a cloud service: skipped, and the output says why.
 * Prints figures next to their targets; asserts nothing.
 *
 *   npm run bench:engines [-- --clips N --starts N --whisper-model PATH]
 */
import { existsSync, realpathSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config/index.js';
import { whisperThreads } from '../src/engines/whisper/index.js';
import { wer, type Clip } from '../test/support/eval/index.js';
import { startChildServer, type ChildServer } from './lib/child-server.js';
import { positiveFlag, runBench, startBench } from './lib/bench.js';
import { benchCorpus, CORPUS_CREDIT } from './lib/corpus.js';
import { postFile, type TranscriptionAnswer } from './lib/http.js';
import { mb, readProcMemory } from './lib/proc.js';
import type { serverLaunch } from './lib/paths.js';
import { ROOT } from './lib/paths.js';
import type { machine} from './lib/report.js';
import { fixed, heading, loadAverage, median, table, verdict, writeResults } from './lib/report.js';
import { MODE_LABELS, type Mode } from './lib/routes.js';
import { clipRun, sum, type ClipRun } from './lib/runs.js';
import { IN_PROCESS_ONLY } from './lib/settings.js';
import { treeCpuSeconds } from './lib/sampling.js';
import { percentile } from './lib/stats.js';

const TARGET_READY_MS = 2000;
const TARGET_IDLE_RSS_MB = 200;
const TARGET_P50_RATIO = 1.05;
const TARGET_WER = 0.18;
/** Idle RSS is read this long after ready (or after a decode), once start-up garbage has had a chance to go. */
const SETTLE_MS = 1000;
/** whisper.cpp's test model: the real file format with untrained weights (../shared/models/README.md). */
const WHISPER_TEST_MODEL = join(ROOT, '..', 'shared', 'models', 'for-tests-ggml-tiny.en.bin');

const ENGINES = ['pocketsphinx', 'whisper', 'upstream'] as const;
type Measured = (typeof ENGINES)[number];
/** The server with no decoder and no model in memory: the same build and modules, nothing loaded but an HTTP client. */
const BASELINE: Measured = 'upstream';
const MODES: readonly Mode[] = ['in-process', 'process'];

const { values: flags } = parseArgs({
  options: {
    clips: { type: 'string', default: '4' },
    starts: { type: 'string', default: '3' },
    'whisper-model': { type: 'string', default: WHISPER_TEST_MODEL },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

const USAGE = `usage: npm run bench:engines [-- --clips N --starts N --whisper-model PATH]
  --clips N             dev clips timed per engine and mode, spread from shortest to longest (default 4, all: 42)
  --starts N            cold starts per engine for load time and RSS, median (default 3)
  --whisper-model PATH  a ggml whisper model (WHISPER_MODEL_PATH); its WER is shown only when this is a real model
                        (default: whisper.cpp's untrained test model, for load and memory figures only)`;

/** `count` clips spread evenly from the shortest to the longest, so speed is not judged on one length. */
function spreadClips(clips: readonly Clip[], count: number): Clip[] {
  const sorted = [...clips].sort((a, b) => a.durationSeconds - b.durationSeconds);
  if (count >= sorted.length) return sorted;
  const picked = new Set(Array.from({ length: count }, (_, i) => Math.round((i * (sorted.length - 1)) / Math.max(1, count - 1))));
  return [...picked].map((i) => sorted[i]!);
}

interface EngineView {
  name: string;
  status: string;
  model?: string;
  loadMs?: number;
  isolation_modes: string[];
  warnings?: string[];
}

async function readEngines(url: string): Promise<EngineView[]> {
  const res = await fetch(`${url}/readyz`);
  if (res.status !== 200) throw new Error(`GET /readyz: HTTP ${res.status}: ${await res.text()}`);
  return ((await res.json()) as { engines: EngineView[] }).engines;
}

/** One file to one engine in one mode; throws unless that engine answered in that mode. */
async function transcribeWith(url: string, engine: Measured, mode: Mode, clip: Clip): Promise<{ answer: TranscriptionAnswer; ms: number }> {
  const path = `/transcriptions?isolation=${mode}`;
  const res = await postFile(`${url}${path}`, clip.path, { engine, response_format: 'json' });
  if (res.status !== 200) throw new Error(`POST ${path} engine=${engine} ${clip.id}: HTTP ${res.status}: ${res.body.slice(0, 500)}`);
  const answer = JSON.parse(res.body) as TranscriptionAnswer & { engine?: string };
  if (answer.engine !== engine || answer.isolation !== mode) {
    throw new Error(`POST ${path} engine=${engine} ran ${String(answer.engine)} ${String(answer.isolation)}: the figures would not be what they say`);
  }
  return { answer, ms: res.ms };
}

interface Start {
  readyMs: number;
  loadMs: number;
  rssIdleMb: number;
  /** First start only: after one decode of the warm-up clip, settled. */
  rssAfterDecodeMb?: number;
}

/** One engine alone in a fresh server without a pool: what loading it costs. */
async function coldStart(env: Record<string, string>, engine: Measured, decodeOnce: Clip | undefined): Promise<Start & { model: string; warnings: string[] }> {
  const server = await startChildServer({ env, pollMs: 10 });
  try {
    const view = (await readEngines(server.url)).find((e) => e.name === engine);
    if (view?.status !== 'ready' || view.loadMs === undefined) throw new Error(`${engine} is not ready in its own server: ${JSON.stringify(view)}`);
    await sleep(SETTLE_MS);
    const start: Start = { readyMs: server.readyMs, loadMs: view.loadMs, rssIdleMb: mb(readProcMemory(server.pid)?.rss ?? NaN) };
    if (decodeOnce !== undefined) {
      await transcribeWith(server.url, engine, 'in-process', decodeOnce);
      await sleep(SETTLE_MS);
      start.rssAfterDecodeMb = mb(readProcMemory(server.pid)?.rss ?? NaN);
    }
    return { ...start, model: view.model ?? '', warnings: view.warnings ?? [] };
  } finally {
    await server.stop();
  }
}

interface Run extends ClipRun {
  engine: Measured;
  mode: Mode;
  /** CPU seconds of the server's whole tree (server, worker, ffmpeg) during the request. */
  cpu: number;
  /** CPU seconds of the upstream target server (pocketsphinx) during the request. */
  upstreamCpu: number;
}

function envLine(env: Record<string, string>): string {
  return Object.entries(env).map(([k, v]) => `${k}=${v}`).join(' ');
}

async function main(): Promise<void> {
  if (flags.help) {
    console.log(USAGE);
    return;
  }
  const clipCount = positiveFlag('clips', flags.clips);
  const starts = positiveFlag('starts', flags.starts);
  // npm runs scripts from the project root; a relative path is the user's, from where they typed it.
  const whisperModel = resolve(process.env['INIT_CWD'] ?? process.cwd(), flags['whisper-model']);
  if (!existsSync(whisperModel)) throw new Error(`--whisper-model ${whisperModel} does not exist`);
  const testModel = existsSync(WHISPER_TEST_MODEL) && realpathSync(whisperModel) === realpathSync(WHISPER_TEST_MODEL);
  const { info, launch } = startBench('engines');
  const corpus = benchCorpus();
  const clips = spreadClips(corpus.clips, clipCount);
  const audioSeconds = sum(clips.map((c) => c.durationSeconds));
  console.log(`${CORPUS_CREDIT}\n${clips.length} of ${corpus.clips.length} clips, ${fixed(audioSeconds, 1)} s of audio (${clips.map((c) => `${c.id} ${fixed(c.durationSeconds, 1)} s`).join(', ')}); warm-up clip ${corpus.warmup.id} (not counted)`);

  // The upstream engine's far end: another hark decoding with pocketsphinx inside the server.
  const targetEnv = { ...IN_PROCESS_ONLY, ENGINES: 'pocketsphinx', ENGINE: 'pocketsphinx', IN_PROCESS_CONCURRENCY: '1' };
  const target = await startChildServer({ env: targetEnv });
  const shared = { WHISPER_MODEL_PATH: whisperModel, UPSTREAM_BASE_URL: `${target.url}/v1`, UPSTREAM_MODEL: 'pocketsphinx' };
  console.log(`upstream target: hark pid ${target.pid} at ${target.url}/v1 (${envLine(targetEnv)})`);
  // What the servers below resolve (the same in every one: one decode at a time).
  const config = loadConfig({ env: { ...process.env, ...shared, LOG_LEVEL: 'silent', WORKER_COUNT: '1', IN_PROCESS_CONCURRENCY: '1' }, envFile: join(ROOT, '.env') });
  const threads = whisperThreads(config);
  console.log(`whisper: ${whisperModel}${testModel ? ' (the untrained test model)' : ''}, ${threads} thread(s) per decode, WHISPER_BEST_OF=${config.WHISPER_BEST_OF}`);

  const loads = new Map<Measured, (Start & { model: string; warnings: string[] })[]>(ENGINES.map((e) => [e, []]));
  const runs: Run[] = [];
  let speedEnv: Record<string, string>;
  try {
    heading(`Load: each engine alone in a server without a pool, ${starts} cold start(s) each`);
    for (let s = 0; s < starts; s++) {
      // Rotate the order, so no engine always starts right after the same one.
      for (const [i] of ENGINES.entries()) {
        const engine = ENGINES[(i + s) % ENGINES.length]!;
        const env = { ...IN_PROCESS_ONLY, IN_PROCESS_CONCURRENCY: '1', ...shared, ENGINES: engine, ENGINE: engine };
        loads.get(engine)!.push(await coldStart(env, engine, s === 0 ? corpus.warmup : undefined));
      }
    }
    console.log(
      table(
        [{ header: 'engine', align: 'left' }, { header: 'start' }, { header: 'loadMs (/readyz)' }, { header: 'spawn to ready ms' }, { header: `idle RSS MB (+${SETTLE_MS / 1000} s)` }, { header: 'RSS after 1 decode MB' }],
        ENGINES.flatMap((e) => loads.get(e)!.map((l, i) => [e, `#${i + 1}`, fixed(l.loadMs, 0), fixed(l.readyMs, 0), fixed(l.rssIdleMb, 1), l.rssAfterDecodeMb === undefined ? '' : fixed(l.rssAfterDecodeMb, 1)])),
      ),
    );
    console.log(`each: ${envLine({ ...IN_PROCESS_ONLY, IN_PROCESS_CONCURRENCY: '1' })} ENGINES=<engine>; the decode is ${corpus.warmup.id} in-process, first start only`);

    heading(`Speed: POST /transcriptions?isolation=in-process|process with engine=<name>, one server, one request at a time`);
    speedEnv = { ENABLE_PROCESS_ISOLATED: 'true', DEFAULT_ISOLATION: 'auto', WORKER_COUNT: '1', IN_PROCESS_CONCURRENCY: '1', ENGINES: ENGINES.join(','), ENGINE: 'pocketsphinx' };
    const server: ChildServer = await startChildServer({ env: { ...speedEnv, ...shared } });
    try {
      for (const view of await readEngines(server.url)) {
        const missing = MODES.filter((m) => !view.isolation_modes.includes(m));
        if (missing.length > 0) throw new Error(`${view.name} is not loaded in ${missing.join(', ')} (${JSON.stringify(view)})`);
      }
      console.log(`server pid ${server.pid} ready in ${fixed(server.readyMs, 0)} ms with every engine in both modes; ${envLine(speedEnv)}`);
      const timed = async (engine: Measured, mode: Mode, clip: Clip): Promise<Run> => {
        const cpu = treeCpuSeconds(server.pid);
        const upstreamCpu = treeCpuSeconds(target.pid);
        const { answer, ms } = await transcribeWith(server.url, engine, mode, clip);
        return { ...clipRun(clip, answer.text, ms, answer.processing_ms), engine, mode, cpu: treeCpuSeconds(server.pid) - cpu, upstreamCpu: treeCpuSeconds(target.pid) - upstreamCpu };
      };
      for (const engine of ENGINES) for (const mode of MODES) await timed(engine, mode, corpus.warmup);
      console.log(`warm (one warm-up request per engine and mode); clip by clip, every engine, the mode that goes first alternating ...`);
      for (const [i, clip] of clips.entries()) {
        for (const [j, engine] of ENGINES.entries()) {
          const order = (i + j) % 2 === 0 ? MODES : [...MODES].reverse();
          for (const mode of order) runs.push(await timed(engine, mode, clip));
        }
      }
    } finally {
      await server.stop();
    }
  } finally {
    await target.stop();
  }

  report({ info, launch, clips, audioSeconds, starts, whisperModel, testModel, threads, bestOf: config.WHISPER_BEST_OF, loads, runs, targetEnv, speedEnv });
}

interface Results {
  info: ReturnType<typeof machine>;
  launch: ReturnType<typeof serverLaunch>;
  clips: Clip[];
  audioSeconds: number;
  starts: number;
  whisperModel: string;
  testModel: boolean;
  threads: number;
  bestOf: number;
  loads: Map<Measured, (Start & { model: string; warnings: string[] })[]>;
  runs: Run[];
  targetEnv: Record<string, string>;
  speedEnv: Record<string, string>;
}

function report(r: Results): void {
  const { clips, audioSeconds, runs, loads } = r;
  const of = (engine: Measured, mode: Mode) => runs.filter((x) => x.engine === engine && x.mode === mode);
  const hasWer = (engine: Measured) => engine !== 'whisper' || !r.testModel;

  console.log(
    table(
      [{ header: 'engine', align: 'left' }, { header: 'mode', align: 'left' }, { header: 'requests' }, { header: 'p50 ms' }, { header: 'server p50 ms' }, { header: 'wall s' }, { header: 'RTF' }, { header: 'CPU s' }, { header: 'CPU/audio' }, { header: 'WER' }],
      ENGINES.flatMap((e) =>
        MODES.map((m) => {
          const rs = of(e, m);
          const wall = sum(rs.map((x) => x.ms)) / 1000;
          const cpu = sum(rs.map((x) => x.cpu + x.upstreamCpu));
          return [e, MODE_LABELS[m], String(rs.length), fixed(percentile(rs.map((x) => x.ms), 50), 0), fixed(percentile(rs.map((x) => x.serverMs ?? NaN), 50), 0), fixed(wall, 1), fixed(wall / audioSeconds, 3), fixed(cpu, 1), fixed(cpu / audioSeconds, 3), hasWer(e) ? fixed(wer(rs), 3) : '-'];
        }),
      ),
    ),
  );
  const upstreamShare = sum(of('upstream', 'in-process').map((x) => x.upstreamCpu)) / sum(of('upstream', 'in-process').map((x) => x.cpu + x.upstreamCpu));
  console.log(
    `  RTF = client wall time / ${fixed(audioSeconds, 1)} s of audio; CPU = the server's process tree (server, worker, ffmpeg), for upstream plus the pocketsphinx server it calls ` +
      `(${fixed(upstreamShare * 100, 0)}% of upstream's in-process CPU was spent there)`,
  );

  // ---- the one table ----
  const baseIdle = median(loads.get(BASELINE)!.map((l) => l.rssIdleMb));
  const baseAfter = loads.get(BASELINE)![0]?.rssAfterDecodeMb ?? NaN;
  const summary = ENGINES.map((e) => {
    const ls = loads.get(e)!;
    const inProc = of(e, 'in-process');
    const iso = of(e, 'process');
    const wallIn = sum(inProc.map((x) => x.ms));
    const wallIso = sum(iso.map((x) => x.ms));
    return {
      engine: e,
      model: ls[0]?.model ?? '',
      warnings: ls[0]?.warnings ?? [],
      loadMs: median(ls.map((l) => l.loadMs)),
      readyMs: median(ls.map((l) => l.readyMs)),
      rssIdleMb: median(ls.map((l) => l.rssIdleMb)),
      rssAfterDecodeMb: ls[0]?.rssAfterDecodeMb ?? NaN,
      rtfInProcess: wallIn / 1000 / audioSeconds,
      rtfIsolated: wallIso / 1000 / audioSeconds,
      isolatedOverInProcess: wallIso / wallIn,
      p50Ratio: percentile(iso.map((x) => x.ms), 50) / percentile(inProc.map((x) => x.ms), 50),
      wer: hasWer(e) ? wer(inProc) : undefined,
      sameTextBothModes: inProc.filter((x) => iso.find((y) => y.id === x.id)?.text === x.text).length,
    };
  });
  heading(`Engines side by side (${r.starts} cold start(s) each, median; ${clips.length} clips, ${fixed(audioSeconds, 1)} s of audio)`);
  const delta = (v: number, base: number, e: Measured) => (e === BASELINE ? 'baseline' : `${v - base >= 0 ? '+' : ''}${fixed(v - base, 1)}`);
  console.log(
    table(
      [
        { header: 'engine', align: 'left' },
        { header: 'loadMs' },
        { header: 'ready ms' },
        { header: 'idle RSS MB' },
        { header: `vs ${BASELINE}` },
        { header: 'after decode MB' },
        { header: `vs ${BASELINE}` },
        { header: 'RTF in-proc' },
        { header: 'RTF isolated' },
        { header: 'iso/in-proc' },
        { header: 'p50 ratio' },
        { header: 'WER' },
        { header: 'note', align: 'left' },
      ],
      [
        ...summary.map((s) => [
          s.engine,
          fixed(s.loadMs, 0),
          fixed(s.readyMs, 0),
          fixed(s.rssIdleMb, 1),
          delta(s.rssIdleMb, baseIdle, s.engine),
          fixed(s.rssAfterDecodeMb, 1),
          delta(s.rssAfterDecodeMb, baseAfter, s.engine),
          fixed(s.rtfInProcess, 3),
          fixed(s.rtfIsolated, 3),
          fixed(s.isolatedOverInProcess, 3),
          fixed(s.p50Ratio, 3),
          s.wer === undefined ? '-' : fixed(s.wer, 3),
          s.engine === 'whisper' && r.testModel ? 'TEST MODEL: time not representative (below)' : s.engine === 'upstream' ? 'pocketsphinx in a 2nd hark' : '',
        ]),
        ['azure', 'skipped', '', '', '', '', '', '', '', '', '', '', 'cloud API, unreachable here (below)'],
      ],
    ),
  );
  console.log(
    [
      `  loadMs: the engine's own load time from GET /readyz; ready ms: spawn of node ${r.launch.kind === 'dist' ? 'dist/main.js' : 'src/main.ts (tsx)'} to the first /readyz 200.`,
      `  RSS: the server process alone, ENGINES=<engine>, no pool, ${SETTLE_MS / 1000} s after ready (median) and ${SETTLE_MS / 1000} s after one in-process decode (first start).`,
      `  vs ${BASELINE}: over a server with ENGINES=${BASELINE}, the lightest honest baseline: the same build and modules, every engine's code imported,`,
      `    but no native decoder (addons load with their engine) and no model in memory: the difference is what loading and using the engine costs.`,
      `    upstream's own decoder memory is in the server it calls (here pocketsphinx, the row above).`,
      `  iso/in-proc: total wall time isolated / in-process; p50 ratio: median latencies (the isolation target in docs/benchmarks.md). WER over these ${clips.length} clips (in-process transcripts);`,
      `    bench:accuracy gives it over all 42. Same text in both modes: ${summary.map((s) => `${s.engine} ${s.sameTextBothModes}/${clips.length}`).join(', ')}.`,
      `  upstream = POST /v1/audio/transcriptions of each utterance (verbose_json) to the pocketsphinx hark; its transcripts match pocketsphinx's own on ` +
        `${of('upstream', 'in-process').filter((u) => of('pocketsphinx', 'in-process').find((p) => p.id === u.id)?.text === u.text).length}/${clips.length} clips.`,
      ...(r.testModel
        ? [
            `  whisper: ${r.whisperModel} is whisper.cpp's TEST model (real format, untrained weights): its text is meaningless, so no WER, and its decode time is NOT`,
            `    representative: with untrained weights whisper.cpp keeps falling back to higher temperatures (WHISPER_BEST_OF=${r.bestOf} candidates each). Its load time and`,
            `    memory are the library and buffers, not weights (tiny.en is 75 MB, base.en 142 MB). Pass --whisper-model PATH to a real ggml model for real figures.`,
          ]
        : [`  whisper: ${r.whisperModel}, ${r.threads} thread(s) per decode, WHISPER_BEST_OF=${r.bestOf}.`]),
      ...(summary.find((s) => s.engine === 'whisper')?.warnings.map((w) => `  whisper.cpp said at load: ${w}`) ?? []),
      `  azure: skipped. Azure Speech is a cloud REST API; this machine reaches only the npm registry and Debian apt, and timing the local fake`,
      `    (test/support/fake-azure.ts) would measure the fake. Its load is building a client (no request), like upstream's.`,
    ].join('\n'),
  );

  heading('Against the targets');
  const mark = (ok: boolean | undefined) => (ok === undefined ? '-' : verdict(ok));
  console.log(
    table(
      [{ header: 'engine', align: 'left' }, { header: `ready < ${TARGET_READY_MS} ms` }, { header: `idle RSS < ${TARGET_IDLE_RSS_MB} MB` }, { header: `p50 ratio <= ${TARGET_P50_RATIO}` }, { header: `WER <= ${TARGET_WER}` }],
      summary.map((s) => [s.engine, mark(s.readyMs < TARGET_READY_MS), mark(s.rssIdleMb < TARGET_IDLE_RSS_MB), mark(s.p50Ratio <= TARGET_P50_RATIO), mark(s.wer === undefined ? undefined : s.wer <= TARGET_WER)]),
    ),
  );
  console.log(`  load average (1/5/15 min) at the start: ${String(r.info['load_avg'])}, at the end: ${loadAverage()} on ${String(r.info['cores'])} cores`);

  writeResults('engines', {
    machine: r.info,
    launch: r.launch,
    corpus: { set: 'dev', clips: clips.map((c) => c.id), audio_seconds: audioSeconds },
    settings: { speed_server: r.speedEnv, upstream_target: r.targetEnv, whisper_model: r.whisperModel, whisper_test_model: r.testModel, whisper_threads: r.threads, whisper_best_of: r.bestOf, starts: r.starts, settle_ms: SETTLE_MS },
    targets: { ready_ms: TARGET_READY_MS, idle_rss_mb: TARGET_IDLE_RSS_MB, p50_ratio: TARGET_P50_RATIO, wer: TARGET_WER },
    baseline: BASELINE,
    summary,
    skipped: { azure: 'cloud REST service; not reachable from this machine' },
    loads: Object.fromEntries(loads),
    runs,
    load_avg_end: loadAverage(),
  });
}

runBench('engines', main);
