/**
 * What the HTTP service costs on top of the engine, and how fast and small it starts:
 *   - the dev clips decoded by the engine directly in this process
 *     (decodeToPcm + transcribe) and through HTTP to a child-process server
 *     (`node dist/main.js`), interleaved clip by clip, one decode at a time
 *     both ways (IN_PROCESS_CONCURRENCY=1); HTTP overhead as % of decode time;
 *   - cold start: spawn to the first 200 from GET /readyz (median of 3), and the
 *     server's idle RSS once ready.
 * Prints figures next to their targets; asserts nothing.
 *
 *   npm run bench:overhead [-- --rounds N]
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { decodeToPcm } from '../src/audio/index.js';
import { loadConfig } from '../src/config/index.js';
import { createEngine } from '../src/engines/index.js';
import type { Clip } from '../test/support/eval/index.js';
import { startChildServer, type ChildServer } from './lib/child-server.js';
import { positiveFlag, runBench, startBench } from './lib/bench.js';
import { makeTempDir } from './lib/cleanup.js';
import { benchCorpus, CORPUS_CREDIT } from './lib/corpus.js';
import { transcribeOverHttp, TRANSCRIBE_PATH } from './lib/http.js';
import { mb, readCpuSeconds, readProcMemory, treeRss } from './lib/proc.js';
import { ROOT } from './lib/paths.js';
import { fixed, heading, loadAverage, median, pct, table, verdict, writeResults } from './lib/report.js';
import { sum } from './lib/runs.js';
import { IN_PROCESS_ONLY } from './lib/settings.js';

const TARGET_OVERHEAD = 0.05;
const TARGET_READY_MS = 2000;
const TARGET_IDLE_RSS_MB = 200;
const COLD_STARTS = 3;
/** Idle RSS is read this long after /readyz first says ready, once start-up garbage has had a chance to go. */
const SETTLE_MS = 1000;

const { values: flags } = parseArgs({
  options: {
    rounds: { type: 'string', default: '2' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

interface ColdStart {
  listeningMs: number;
  readyMs: number;
  /** Server process alone, at the first 200 and after SETTLE_MS. */
  rssAtReadyMb: number;
  rssIdleMb: number;
  /** Server and every process under it (a worker pool, when the build has one and it is on). */
  treeIdleMb: number;
  processes: number;
}

async function coldStart(env: Record<string, string>): Promise<ColdStart> {
  const server = await startChildServer({ env, pollMs: 10 });
  try {
    const atReady = readProcMemory(server.pid)?.rss ?? NaN;
    await sleep(SETTLE_MS);
    const tree = treeRss(server.pid);
    return {
      listeningMs: server.listeningMs,
      readyMs: server.readyMs,
      rssAtReadyMb: mb(atReady),
      rssIdleMb: mb(readProcMemory(server.pid)?.rss ?? NaN),
      treeIdleMb: mb(tree.bytes),
      processes: tree.processes,
    };
  } finally {
    await server.stop();
  }
}

interface Pair {
  id: string;
  durationSeconds: number;
  round: number;
  directMs: number;
  directCpu: number;
  httpMs: number;
  /** processing_ms as the server reports it: upload received to transcript ready. */
  serverMs: number;
  serverCpu: number;
  sameText: boolean;
}

async function main(): Promise<void> {
  if (flags.help) {
    console.log('usage: npm run bench:overhead [-- --rounds N]\n  --rounds N  passes over the corpus for the direct-vs-HTTP comparison (default 2)');
    return;
  }
  const rounds = positiveFlag('rounds', flags.rounds);
  const { info, launch } = startBench('overhead');
  const corpus = benchCorpus();
  const { clips } = corpus;
  console.log(`${CORPUS_CREDIT}\n${clips.length} clips, ${fixed(corpus.audioSeconds, 1)} s of audio; warm-up clip ${corpus.warmup.id} (not counted)`);
  const serverEnv = { ...IN_PROCESS_ONLY, IN_PROCESS_CONCURRENCY: '1' };

  heading(`Cold start: spawn ${launch.kind === 'dist' ? 'node dist/main.js' : 'tsx src/main.ts'} until GET /readyz answers 200`);
  const cold: ColdStart[] = [];
  for (let i = 0; i < COLD_STARTS; i++) cold.push(await coldStart(serverEnv));
  // The configuration `npm start` runs with nothing set: the same, unless this build starts a worker pool by default.
  const defaults: ColdStart[] = [];
  for (let i = 0; i < COLD_STARTS; i++) defaults.push(await coldStart({}));
  const hasPool = defaults.some((d) => d.processes > 1);
  const coldRows = (label: string, runs: readonly ColdStart[]) => [
    ...runs.map((c, i) => [
      `${label} #${i + 1}`,
      fixed(c.listeningMs, 0),
      fixed(c.readyMs, 0),
      fixed(c.rssAtReadyMb, 1),
      fixed(c.rssIdleMb, 1),
      String(c.processes),
      fixed(c.treeIdleMb, 1),
    ]),
    [
      `${label} median`,
      fixed(median(runs.map((c) => c.listeningMs)), 0),
      fixed(median(runs.map((c) => c.readyMs)), 0),
      fixed(median(runs.map((c) => c.rssAtReadyMb)), 1),
      fixed(median(runs.map((c) => c.rssIdleMb)), 1),
      String(median(runs.map((c) => c.processes))),
      fixed(median(runs.map((c) => c.treeIdleMb)), 1),
    ],
  ];
  console.log(
    table(
      [
        { header: 'run', align: 'left' },
        { header: 'listening ms' },
        { header: 'ready ms' },
        { header: 'RSS at ready MB' },
        { header: `RSS +${SETTLE_MS / 1000} s MB` },
        { header: 'processes' },
        { header: 'tree RSS MB' },
      ],
      [...coldRows('in-process', cold), ...coldRows('defaults', defaults)],
    ),
  );
  console.log(`in-process = ${Object.entries(serverEnv).map(([k, v]) => `${k}=${v}`).join(' ')}; defaults = nothing set (what \`npm start\` runs)`);
  if (!hasPool) console.log('this build starts no worker process by default: both rows measure the same configuration');

  heading(`Decode time: engine in this process vs POST ${TRANSCRIBE_PATH} to a child server`);
  const config = loadConfig({ env: { ...process.env, ...serverEnv, LOG_LEVEL: 'silent' }, envFile: join(ROOT, '.env') });
  const engine = createEngine(config.ENGINE, config);
  const pcmDir = makeTempDir('hark-bench-direct-');
  let server: ChildServer | undefined;
  const pairs: Pair[] = [];
  let idleAfterWorkMb: number;
  try {
    await engine.load();
    server = await startChildServer({ env: serverEnv });
    const srv = server;
    // Exactly what the server does after the upload: decode to PCM, transcribe, remove the PCM.
    const direct = async (clip: Clip) => {
      const cpu = readCpuSeconds(process.pid) ?? NaN;
      const started = performance.now();
      const pcmPath = join(pcmDir, `${clip.id}.pcm`);
      const audio = await decodeToPcm(clip.path, pcmPath, { maxSeconds: config.MAX_AUDIO_SECONDS });
      const t = await engine.transcribe(audio, {}, {});
      await rm(pcmPath, { force: true });
      return { ms: performance.now() - started, cpu: (readCpuSeconds(process.pid) ?? NaN) - cpu, text: t.text };
    };
    const http = async (clip: Clip) => {
      const cpu = readCpuSeconds(srv.pid) ?? NaN;
      const { answer, ms } = await transcribeOverHttp(srv.url, clip.path);
      return { ms, serverMs: answer.processing_ms, cpu: (readCpuSeconds(srv.pid) ?? NaN) - cpu, text: answer.text };
    };
    await direct(corpus.warmup);
    await http(corpus.warmup);
    console.log(`server pid ${srv.pid}; ${rounds} round(s) over ${clips.length} clips, direct and HTTP alternating which goes first ...`);
    for (let round = 0; round < rounds; round++) {
      for (const [i, clip] of clips.entries()) {
        // Alternate the order so neither mode always runs on a cache the other warmed.
        const directFirst = (i + round) % 2 === 0;
        const d1 = directFirst ? await direct(clip) : undefined;
        const h = await http(clip);
        const d = d1 ?? (await direct(clip));
        pairs.push({
          id: clip.id,
          durationSeconds: clip.durationSeconds,
          round,
          directMs: d.ms,
          directCpu: d.cpu,
          httpMs: h.ms,
          serverMs: h.serverMs,
          serverCpu: h.cpu,
          sameText: d.text === h.text,
        });
      }
    }
    await sleep(SETTLE_MS);
    idleAfterWorkMb = mb(readProcMemory(srv.pid)?.rss ?? NaN);
  } finally {
    await server?.stop();
    await engine.unload();
  }

  const rows = clips.map((clip) => {
    const ps = pairs.filter((p) => p.id === clip.id);
    const d = sum(ps.map((p) => p.directMs)) / ps.length;
    const h = sum(ps.map((p) => p.httpMs)) / ps.length;
    const s = sum(ps.map((p) => p.serverMs)) / ps.length;
    return [clip.id, fixed(clip.durationSeconds, 2), fixed(d, 0), fixed(h, 0), fixed(s, 0), fixed(h - d, 0), pct((h - d) / d)];
  });
  const directMs = sum(pairs.map((p) => p.directMs));
  const httpMs = sum(pairs.map((p) => p.httpMs));
  const serverMs = sum(pairs.map((p) => p.serverMs));
  const directCpu = sum(pairs.map((p) => p.directCpu));
  const serverCpu = sum(pairs.map((p) => p.serverCpu));
  const audioSeconds = sum(pairs.map((p) => p.durationSeconds));
  rows.push(['TOTAL (per round)', fixed(corpus.audioSeconds, 2), fixed(directMs / rounds, 0), fixed(httpMs / rounds, 0), fixed(serverMs / rounds, 0), fixed((httpMs - directMs) / rounds, 0), pct((httpMs - directMs) / directMs)]);
  console.log(`per clip, mean of ${rounds} round(s):`);
  console.log(
    table(
      [{ header: 'clip', align: 'left' }, { header: 'dur s' }, { header: 'direct ms' }, { header: 'HTTP ms' }, { header: 'server ms' }, { header: 'HTTP-direct ms' }, { header: 'overhead' }],
      rows,
    ),
  );

  const overhead = (httpMs - directMs) / directMs;
  // Best of the rounds, clip by clip: other load on the machine only ever adds time, so minima are the steadier estimate.
  const best = (pick: (p: Pair) => number) => sum(clips.map((clip) => Math.min(...pairs.filter((p) => p.id === clip.id).map(pick))));
  const bestOverhead = (best((p) => p.httpMs) - best((p) => p.directMs)) / best((p) => p.directMs);
  const cpuOverhead = (serverCpu - directCpu) / directCpu;
  const perRequest = pairs.map((p) => p.httpMs - p.directMs);
  heading('Summary');
  console.log(
    table(
      [{ header: 'mode', align: 'left' }, { header: 'audio s' }, { header: 'decode wall s' }, { header: 'RTF' }, { header: 'CPU s' }, { header: 'CPU/audio' }],
      [
        ['engine direct (this process)', fixed(audioSeconds, 1), fixed(directMs / 1000, 1), fixed(directMs / 1000 / audioSeconds, 3), fixed(directCpu, 1), fixed(directCpu / audioSeconds, 3)],
        ['HTTP to child server', fixed(audioSeconds, 1), fixed(httpMs / 1000, 1), fixed(httpMs / 1000 / audioSeconds, 3), fixed(serverCpu, 1), fixed(serverCpu / audioSeconds, 3)],
      ],
    ),
  );
  const readyMedian = median(cold.map((c) => c.readyMs));
  const idleMedian = median(cold.map((c) => c.rssIdleMb));
  console.log(
    table(
      [{ header: 'figure', align: 'left' }, { header: 'value' }, { header: 'target', align: 'left' }],
      [
        ['HTTP overhead, wall (HTTP - direct) / direct', pct(overhead, 2), `< ${pct(TARGET_OVERHEAD, 0)} ${verdict(overhead < TARGET_OVERHEAD)}`],
        ...(rounds > 1 ? [[`HTTP overhead, wall, best of ${rounds} rounds per clip`, pct(bestOverhead, 2), `< ${pct(TARGET_OVERHEAD, 0)} ${verdict(bestOverhead < TARGET_OVERHEAD)}`]] : []),
        ['  of which outside the service: HTTP - server processing_ms', pct((httpMs - serverMs) / directMs, 2), ''],
        ['  of which inside: server processing_ms - direct', pct((serverMs - directMs) / directMs, 2), ''],
        ['HTTP overhead per request, median ms', fixed(median(perRequest), 1), ''],
        ['server CPU over direct CPU (server side only)', pct(cpuOverhead, 2), ''],
        ['cold start to /readyz 200, median ms', fixed(readyMedian, 0), `< ${TARGET_READY_MS} ${verdict(readyMedian < TARGET_READY_MS)}`],
        [`idle RSS ${SETTLE_MS / 1000} s after ready, median MB`, fixed(idleMedian, 1), `< ${TARGET_IDLE_RSS_MB} ${verdict(idleMedian < TARGET_IDLE_RSS_MB)}`],
        ['idle RSS after the whole comparison, MB', fixed(idleAfterWorkMb, 1), ''],
        ...(hasPool
          ? [
              ['defaults (worker pool): /readyz 200, median ms', fixed(median(defaults.map((c) => c.readyMs)), 0), ''],
              ['defaults (worker pool): idle RSS of server + workers, median MB', fixed(median(defaults.map((c) => c.treeIdleMb)), 1), ''],
            ]
          : []),
        ['identical transcripts direct vs HTTP', `${pairs.filter((p) => p.sameText).length}/${pairs.length}`, ''],
      ],
    ),
  );
  console.log(`  load average (1/5/15 min) at the end: ${loadAverage()} on ${String(info['cores'])} cores`);

  writeResults('overhead', {
    machine: info,
    launch,
    corpus: { set: 'dev', clips: clips.length, audio_seconds: corpus.audioSeconds, warmup: corpus.warmup.id },
    settings: serverEnv,
    rounds,
    targets: { http_overhead: TARGET_OVERHEAD, ready_ms: TARGET_READY_MS, idle_rss_mb: TARGET_IDLE_RSS_MB },
    decode: {
      audio_seconds: audioSeconds,
      direct_ms: directMs,
      http_ms: httpMs,
      server_processing_ms: serverMs,
      direct_cpu_seconds: directCpu,
      server_cpu_seconds: serverCpu,
      http_overhead: overhead,
      http_overhead_best_of_rounds: rounds > 1 ? bestOverhead : undefined,
      cpu_overhead: cpuOverhead,
      per_request_overhead_ms_median: median(perRequest),
      identical_transcripts: pairs.filter((p) => p.sameText).length,
    },
    cold_start: { in_process: cold, defaults, ready_ms_median: readyMedian, idle_rss_mb_median: idleMedian, settle_ms: SETTLE_MS },
    idle_rss_after_work_mb: idleAfterWorkMb,
    pairs,
  });
}

runBench('overhead', main);
