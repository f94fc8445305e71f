/**
 * hark against the bare engine (issue 19): the 42 dev clips decoded by
 *   - bench/c/ps-decode.c, PocketSphinx alone with hark's decoder settings,
 *     built here with cc against the same Debian library: 1 process, then
 *     2 processes with the clips dealt alternately;
 *   - hark in-process, `POST /transcriptions/sync` one request at a time
 *     (ENABLE_PROCESS_ISOLATED=false, IN_PROCESS_CONCURRENCY=1);
 *   - hark's pool, `POST /transcriptions/process-isolated`, WORKER_COUNT=2,
 *     4 requests in flight, recycling off (MAX_TASKS_PER_WORKER=1000000);
 * in one run, the modes' order rotating from round to round. Prints wall and
 * CPU seconds, CPU per audio second and throughput per mode, the ratios the
 * issue's targets name, and whether hark's transcripts equal the bare
 * engine's word for word. With --extras also: a worker's spawn to ready and
 * latency with MAX_TASKS_PER_WORKER=3 against recycling off, and job
 * submission p99 and /metrics scrape p95 while both workers decode.
 * Asserts nothing.
 *
 *   npm run bench:engine-overhead [-- --rounds N --extras]
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { normalizeWords, type Clip } from '../test/support/eval/index.js';
import { buildBareEngine, harkDecoderArgs, runBareEngine } from './lib/bare-engine.js';
import { positiveFlag, runBench, startBench } from './lib/bench.js';
import { startChildServer, type ChildServer } from './lib/child-server.js';
import { makeTempDir } from './lib/cleanup.js';
import { benchCorpus, CORPUS_CREDIT } from './lib/corpus.js';
import { postFile } from './lib/http.js';
import { poolSettled, readPool, waitForPool } from './lib/pool.js';
import { fixed, heading, loadAverage, median, table, verdict, writeResults } from './lib/report.js';
import { transcribeVia, type Mode } from './lib/routes.js';
import { sum } from './lib/runs.js';
import { treeCpuSeconds } from './lib/sampling.js';
import { IN_PROCESS_ONLY } from './lib/settings.js';
import { mean, percentile } from './lib/stats.js';

const TARGET_CPU_RATIO = 1.05;
const TARGET_THROUGHPUT_RATIO = 0.9;
const TARGET_SPAWN_MS = 300;
const TARGET_RECYCLE_LATENCY = 1.1;
const TARGET_SUBMIT_P99_MS = 20;
const TARGET_SCRAPE_P95_MS = 5;
const POOL_WORKERS = 2;
const POOL_IN_FLIGHT = 4;
const NO_RECYCLING = '1000000';

const { values: flags } = parseArgs({
  options: {
    rounds: { type: 'string', default: '1' },
    extras: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

type ModeName = 'bare-1' | 'bare-2' | 'hark-in-process' | 'hark-pool';
const MODES: readonly ModeName[] = ['bare-1', 'bare-2', 'hark-in-process', 'hark-pool'];
const LABELS: Record<ModeName, string> = {
  'bare-1': 'bare engine, 1 process',
  'bare-2': 'bare engine, 2 processes',
  'hark-in-process': 'hark in-process, 1 request at a time',
  'hark-pool': `hark pool, ${POOL_WORKERS} workers, ${POOL_IN_FLIGHT} in flight`,
};

/** One pass of one mode over the clips. */
interface Pass {
  mode: ModeName;
  round: number;
  wallS: number;
  cpuS: number;
  /** Transcript per clip id. */
  texts: Map<string, string>;
  /** Client latency per request, ms (hark only). */
  latencyMs: number[];
}

/** POSTs the clips to `mode`'s route with `inFlight` requests at a time; texts and latencies by clip. */
async function postAll(url: string, mode: Mode, clips: readonly Clip[], inFlight: number): Promise<{ texts: Map<string, string>; latencyMs: number[] }> {
  const texts = new Map<string, string>();
  const latencyMs: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      for (let i = next++; i < clips.length; i = next++) {
        const clip = clips[i]!;
        const { answer, ms } = await transcribeVia(url, mode, clip.path);
        texts.set(clip.id, answer.text);
        latencyMs.push(ms);
      }
    }),
  );
  return { texts, latencyMs };
}

/** A pass of hark: wall time of the whole set, CPU of the server's process tree (server, workers, ffmpeg). */
async function harkPass(server: ChildServer, mode: Mode, clips: readonly Clip[], inFlight: number): Promise<Omit<Pass, 'mode' | 'round'>> {
  const cpu0 = treeCpuSeconds(server.pid);
  const t0 = performance.now();
  const { texts, latencyMs } = await postAll(server.url, mode, clips, inFlight);
  const wallS = (performance.now() - t0) / 1000;
  // Reaped ffmpeg runs reach the server's cutime when it waits for them, which it has by the last answer.
  return { wallS, cpuS: treeCpuSeconds(server.pid) - cpu0, texts, latencyMs };
}

async function startPool(extra: Record<string, string>): Promise<ChildServer> {
  const server = await startChildServer({
    env: { ENABLE_PROCESS_ISOLATED: 'true', WORKER_COUNT: String(POOL_WORKERS), ENABLE_DEBUG_ENDPOINTS: 'true', MAX_QUEUE_SIZE: '1000', ...extra },
  });
  await waitForPool(server.url, poolSettled, 60_000);
  return server;
}

/** Warm-up: every worker (or the in-process engine) decodes once before timing. */
async function warm(server: ChildServer, mode: Mode, clip: Clip, inFlight: number): Promise<void> {
  await postAll(server.url, mode, Array.from({ length: inFlight }, () => clip), inFlight);
}

interface Extras {
  spawnToReadyMs: number[];
  recycles: number;
  latencyRecycleMs: number[];
  latencyNoRecycleMs: number[];
  submitMs: number[];
  scrapeMs: number[];
}

/**
 * Items 5 and 6 of the issue: (a) the pool with MAX_TASKS_PER_WORKER=3 under the
 * same load as the pool pass, each replacement's spawn_to_ready_ms from /debug/pool
 * and the client latency, against a pass with recycling off on the same server
 * settings; (b) while 4 requests keep both workers decoding, job submissions
 * (POST /api/v1/jobs of the shortest clip) and /metrics scrapes, one at a time.
 */
async function extras(clips: readonly Clip[], warmup: Clip, noRecycleLatency: number[]): Promise<Extras> {
  const recycling = await startPool({ MAX_TASKS_PER_WORKER: '3' });
  const spawn = new Map<number, number>();
  let recycles = 0;
  let latencyRecycleMs: number[];
  try {
    await warm(recycling, 'process', warmup, POOL_IN_FLIGHT);
    // Boot workers start all at once, slower than one replacement: the target is a replacement's.
    const boot = new Set((await readPool(recycling.url)).workers.map((w) => w.pid));
    let polling = true;
    const poller = (async () => {
      while (polling) {
        const view = await readPool(recycling.url);
        for (const w of view.workers) if (w.spawn_to_ready_ms !== null && !boot.has(w.pid)) spawn.set(w.pid, w.spawn_to_ready_ms);
        recycles = view.totals.recycled.tasks;
        await sleep(50);
      }
    })();
    latencyRecycleMs = (await postAll(recycling.url, 'process', clips, POOL_IN_FLIGHT)).latencyMs;
    polling = false;
    await poller;
  } finally {
    await recycling.stop();
  }

  const pool = await startPool({ MAX_TASKS_PER_WORKER: NO_RECYCLING });
  const submitMs: number[] = [];
  const scrapeMs: number[] = [];
  try {
    await warm(pool, 'process', warmup, POOL_IN_FLIGHT);
    const shortest = [...clips].sort((a, b) => a.durationSeconds - b.durationSeconds)[0]!;
    let loading = true;
    // Both workers busy for as long as the probes run: the clips again and again, 4 in flight.
    const load = Promise.all(
      Array.from({ length: POOL_IN_FLIGHT }, async (_, k) => {
        for (let i = k; loading; i += POOL_IN_FLIGHT) await transcribeVia(pool.url, 'process', clips[i % clips.length]!.path);
      }),
    );
    await sleep(1000);
    for (let i = 0; i < 100; i++) {
      const r = await postFile(`${pool.url}/api/v1/jobs`, shortest.path);
      if (r.status !== 202) throw new Error(`POST /api/v1/jobs: HTTP ${r.status}: ${r.body.slice(0, 300)}`);
      submitMs.push(r.ms);
      const t0 = performance.now();
      const m = await fetch(`${pool.url}/metrics`);
      await m.text();
      scrapeMs.push(performance.now() - t0);
      await sleep(100);
    }
    loading = false;
    await load;
  } finally {
    await pool.stop();
  }
  return { spawnToReadyMs: [...spawn.values()], recycles, latencyRecycleMs, latencyNoRecycleMs: noRecycleLatency, submitMs, scrapeMs };
}

async function main(): Promise<void> {
  if (flags.help) {
    console.log(
      'usage: npm run bench:engine-overhead [-- --rounds N --extras]\n' +
        '  --rounds N  passes of every mode over the 42 clips, order rotating (default 1; about 3 minutes on 2 idle cores)\n' +
        '  --extras    also spawn to ready, latency with MAX_TASKS_PER_WORKER=3, submission and scrape latency under load (about 1-2 minutes more)',
    );
    return;
  }
  const rounds = positiveFlag('rounds', flags.rounds);
  const { info, launch } = startBench('engine-overhead');
  const corpus = benchCorpus();
  const { clips } = corpus;
  const audioS = corpus.audioSeconds;
  console.log(`${CORPUS_CREDIT}\n${clips.length} clips, ${fixed(audioS, 1)} s of audio; warm-up clip ${corpus.warmup.id} (not counted)`);

  const binary = buildBareEngine(makeTempDir('hark-bench-bare-'));
  const args = harkDecoderArgs();
  console.log(`bare engine: bench/c/ps-decode.c built with cc against pkg-config pocketsphinx sphinxbase; arguments: ${args.join(' ')}`);
  // hark cuts audio longer than UTTERANCE_MAX_SECONDS into utterances; every dev clip is shorter, so both decode one utterance per clip.
  const longest = Math.max(...clips.map((c) => c.durationSeconds));
  console.log(`longest clip ${fixed(longest, 1)} s: one utterance per clip in hark (UTTERANCE_MAX_SECONDS 30) as in the bare engine`);

  const files = clips.map((c) => c.path);
  const idOf = new Map(clips.map((c) => [c.path, c.id]));
  await runBareEngine(binary, args, [corpus.warmup.path], 1);

  let inProcess: ChildServer | undefined;
  let pool: ChildServer | undefined;
  const passes: Pass[] = [];
  try {
    inProcess = await startChildServer({ env: { ...IN_PROCESS_ONLY, IN_PROCESS_CONCURRENCY: '1' } });
    pool = await startPool({ MAX_TASKS_PER_WORKER: NO_RECYCLING });
    await warm(inProcess, 'in-process', corpus.warmup, 1);
    await warm(pool, 'process', corpus.warmup, POOL_IN_FLIGHT);
    const servers = { inProcess, pool };
    for (let round = 0; round < rounds; round++) {
      const order = MODES.map((_, i) => MODES[(i + round) % MODES.length]!);
      console.log(`round ${round + 1}/${rounds}: ${order.join(', ')}`);
      for (const mode of order) {
        let pass: Omit<Pass, 'mode' | 'round'>;
        if (mode === 'bare-1' || mode === 'bare-2') {
          const run = await runBareEngine(binary, args, files, mode === 'bare-1' ? 1 : 2);
          // The decodes only: hark's servers loaded their models before timing too.
          pass = { wallS: run.decodeWallS, cpuS: sum(run.decodeCpu), texts: new Map([...run.hyps].map(([f, h]) => [idOf.get(f) ?? f, h])), latencyMs: [] };
        } else if (mode === 'hark-in-process') {
          pass = await harkPass(servers.inProcess, 'in-process', clips, 1);
        } else {
          pass = await harkPass(servers.pool, 'process', clips, POOL_IN_FLIGHT);
        }
        passes.push({ mode, round, ...pass });
        console.log(`  ${LABELS[mode]}: wall ${fixed(pass.wallS, 1)} s, CPU ${fixed(pass.cpuS, 1)} s`);
      }
    }
  } finally {
    await inProcess?.stop();
    await pool?.stop();
  }

  const of = (mode: ModeName) => passes.filter((p) => p.mode === mode);
  const total = (mode: ModeName) => ({ wallS: sum(of(mode).map((p) => p.wallS)), cpuS: sum(of(mode).map((p) => p.cpuS)), audioS: audioS * of(mode).length });
  heading(`Decode of the ${clips.length} dev clips, ${rounds} round(s) summed`);
  const rows = MODES.map((mode) => {
    const t = total(mode);
    return [LABELS[mode], fixed(t.audioS, 1), fixed(t.wallS, 1), fixed(t.cpuS, 1), fixed(t.cpuS / t.audioS, 4), fixed(t.audioS / t.wallS, 2)];
  });
  console.log(table([{ header: 'mode', align: 'left' }, { header: 'audio s' }, { header: 'wall s' }, { header: 'CPU s' }, { header: 'CPU/audio s' }, { header: 'audio s/wall s' }], rows));
  console.log('bare engine: its decode loop only (model load excluded, as hark loads before timing); hark: client wall time, CPU of the server process tree (server, workers, ffmpeg/ffprobe)');

  const cpuPerAudio = (mode: ModeName) => total(mode).cpuS / total(mode).audioS;
  const throughput = (mode: ModeName) => total(mode).audioS / total(mode).wallS;
  const cpuRatio = cpuPerAudio('hark-in-process') / cpuPerAudio('bare-1');
  const poolRatio = throughput('hark-pool') / throughput('bare-2');
  const same = (mode: ModeName) => {
    const bare = of('bare-1')[0]!.texts;
    const mine = of(mode).flatMap((p) => clips.map((c) => normalizeWords(p.texts.get(c.id) ?? '\u0000').join(' ') === normalizeWords(bare.get(c.id) ?? '').join(' ')));
    return `${mine.filter(Boolean).length}/${mine.length}`;
  };
  const differing = clips.filter((c) => normalizeWords(of('hark-in-process')[0]!.texts.get(c.id) ?? '').join(' ') !== normalizeWords(of('bare-1')[0]!.texts.get(c.id) ?? '').join(' '));

  let extra: Extras | undefined;
  if (flags.extras) {
    heading('Extras: spawn to ready, recycling, responsiveness under decode load');
    extra = await extras(clips, corpus.warmup, of('hark-pool').flatMap((p) => p.latencyMs));
  }

  heading('Against the targets');
  const figureRows: string[][] = [
    ['hark in-process CPU per audio s / bare engine 1 process', fixed(cpuRatio, 3), `<= ${TARGET_CPU_RATIO} ${verdict(cpuRatio <= TARGET_CPU_RATIO)}`],
    [`hark pool throughput / bare engine ${POOL_WORKERS} processes`, fixed(poolRatio, 3), `>= ${TARGET_THROUGHPUT_RATIO} ${verdict(poolRatio >= TARGET_THROUGHPUT_RATIO)}`],
    ['hark pool CPU per audio s / bare engine 2 processes', fixed(cpuPerAudio('hark-pool') / cpuPerAudio('bare-2'), 3), ''],
    ['transcripts equal to the bare engine, in-process (normalised words)', same('hark-in-process'), 'all'],
    ['transcripts equal to the bare engine, pool', same('hark-pool'), 'all'],
    ['bare engine 1 vs 2 processes, same transcripts', same('bare-2'), 'all'],
  ];
  if (extra !== undefined) {
    const spawnP50 = median(extra.spawnToReadyMs);
    const recycleRatio = mean(extra.latencyRecycleMs) / mean(extra.latencyNoRecycleMs);
    const submitP99 = percentile(extra.submitMs, 99);
    const scrapeP95 = percentile(extra.scrapeMs, 95);
    figureRows.push(
      [`replacement worker spawn to ready p50 (${extra.spawnToReadyMs.length} replacements, ${extra.recycles} recycled), ms`, fixed(spawnP50, 0), `< ${TARGET_SPAWN_MS} ${verdict(spawnP50 < TARGET_SPAWN_MS)}`],
      [
        `mean latency MAX_TASKS_PER_WORKER=3 / recycling off (p50 ${fixed(median(extra.latencyRecycleMs), 0)} vs ${fixed(median(extra.latencyNoRecycleMs), 0)} ms)`,
        fixed(recycleRatio, 3),
        `<= ${TARGET_RECYCLE_LATENCY} ${verdict(recycleRatio <= TARGET_RECYCLE_LATENCY)}`,
      ],
      [`job submission p99 while both workers decode (${extra.submitMs.length}), ms`, fixed(submitP99, 1), `< ${TARGET_SUBMIT_P99_MS} ${verdict(submitP99 < TARGET_SUBMIT_P99_MS)}`],
      [`/metrics scrape p95 while both workers decode (${extra.scrapeMs.length}), ms`, fixed(scrapeP95, 1), `< ${TARGET_SCRAPE_P95_MS} ${verdict(scrapeP95 < TARGET_SCRAPE_P95_MS)}`],
    );
  } else {
    figureRows.push(['spawn to ready, recycling latency, submission and scrape under load', 'not run', '--extras']);
  }
  console.log(table([{ header: 'figure', align: 'left' }, { header: 'value' }, { header: 'target', align: 'left' }], figureRows));
  if (differing.length > 0) {
    console.log('clips where hark in-process and the bare engine differ:');
    for (const c of differing) console.log(`  ${c.id}\n    bare: ${of('bare-1')[0]!.texts.get(c.id) ?? ''}\n    hark: ${of('hark-in-process')[0]!.texts.get(c.id) ?? ''}`);
  }
  console.log(`load average (1/5/15 min) at start ${String(info['load_avg'])}, at the end ${loadAverage()} on ${String(info['cores'])} cores: above the core count, wall figures include waiting for a core`);

  writeResults('engine-overhead', {
    machine: info,
    launch,
    corpus: { set: 'dev', clips: clips.length, audio_seconds: audioS, warmup: corpus.warmup.id },
    decoder_args: args,
    rounds,
    targets: { cpu_ratio: TARGET_CPU_RATIO, throughput_ratio: TARGET_THROUGHPUT_RATIO, spawn_ms: TARGET_SPAWN_MS, recycle_latency: TARGET_RECYCLE_LATENCY, submit_p99_ms: TARGET_SUBMIT_P99_MS, scrape_p95_ms: TARGET_SCRAPE_P95_MS },
    modes: Object.fromEntries(MODES.map((m) => [m, { ...total(m), cpu_per_audio_s: cpuPerAudio(m), throughput: throughput(m) }])),
    cpu_ratio: cpuRatio,
    throughput_ratio: poolRatio,
    identical: { in_process: same('hark-in-process'), pool: same('hark-pool') },
    passes: passes.map((p) => ({ mode: p.mode, round: p.round, wall_s: p.wallS, cpu_s: p.cpuS, texts: Object.fromEntries(p.texts) })),
    extras: extra,
  });
}

runBench('engine-overhead', main);
