/**
 * Live streaming (`GET /v1/audio/stream`, docs/streaming.md) against a child
 * server (`node dist/main.js`, PocketSphinx): dev clips read from their WAVs,
 * joined with a pause of steady low noise after each, sent as `pcm_s16le` in
 * 100 ms frames at real-time pace over `ws`.
 *   - one stream, in-process: final latency (from the frame that completes an
 *     utterance's trailing pause to the final), partial interval, time to first
 *     partial, and the WER of the joined finals next to POST /transcriptions of
 *     the same clips;
 *   - capacity: N = 1, 2, ... streams at once on a server with
 *     IN_PROCESS_CONCURRENCY=N MAX_STREAMS=N, pinned to core 0 (the bench on
 *     the others), until a stream falls behind; then one process-isolated
 *     stream (WORKER_COUNT=1) on the same core, side by side.
 * Prints figures next to their targets; asserts nothing.
 *
 *   npm run bench:stream [-- --clips N --max-streams N --capacity-seconds S --lag-limit-ms MS]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { loadConfig } from '../src/config/index.js';
import type { Isolation } from '../src/engines/index.js';
import { tally, wer, type Clip, type WerTally } from '../test/support/eval/index.js';
import { startChildServer } from './lib/child-server.js';
import { positiveFlag, runBench, startBench } from './lib/bench.js';
import { benchCorpus, CORPUS_CREDIT } from './lib/corpus.js';
import { postFile, transcribeOverHttp } from './lib/http.js';
import { ROOT } from './lib/paths.js';
import { processTree, readCpuSeconds } from './lib/proc.js';
import { fixed, heading, loadAverage, table, verdict, writeResults, type Column } from './lib/report.js';
import { clipRun, sum, type ClipRun } from './lib/runs.js';
import { IN_PROCESS_ONLY } from './lib/settings.js';
import { treeCpuSeconds } from './lib/sampling.js';
import { max, percentile } from './lib/stats.js';

const TARGET_FINAL_P95_MS = 300;
const SAMPLE_RATE = 16_000;
const FRAME_MS = 100;
const FRAME_BYTES = (SAMPLE_RATE * 2 * FRAME_MS) / 1000;
/** Pause after each clip beyond STREAM_SILENCE_SECONDS, so its last utterance ends by a pause, not by `end`. */
const GAP_SLACK_SECONDS = 0.5;
/** The level of the pause: about the LibriSpeech clips' own background (10 ms energy as src/audio/endpointer.ts measures it). */
const NOISE_DB = 28;
const ENGINE = 'pocketsphinx';
const BASE_ENV = { ENGINES: ENGINE, ENGINE };

const { values: flags } = parseArgs({
  options: {
    clips: { type: 'string', default: '5' },
    'min-streams': { type: 'string', default: '1' },
    'max-streams': { type: 'string', default: '8' },
    'capacity-seconds': { type: 'string', default: '20' },
    'lag-limit-ms': { type: 'string', default: '1000' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

const USAGE = `usage: npm run bench:stream [-- --clips N --min-streams N --max-streams N --capacity-seconds S --lag-limit-ms MS]
  --clips N             dev clips streamed, spread from shortest to longest (default 5, all: 42)
  --min-streams N       the capacity series starts here (default 1)
  --max-streams N       the capacity series stops here if nothing fell behind before (default 8)
  --capacity-seconds S  audio per stream in the capacity series, whole clips (default 20)
  --lag-limit-ms MS     a stream keeps up when its last final lands within this of its end + pause, and done within this of end (default 1000)`;

/** `count` clips spread evenly from the shortest to the longest. */
function spreadClips(clips: readonly Clip[], count: number): Clip[] {
  const sorted = [...clips].sort((a, b) => a.durationSeconds - b.durationSeconds);
  if (count >= sorted.length) return sorted;
  const picked = new Set(Array.from({ length: count }, (_, i) => Math.round((i * (sorted.length - 1)) / Math.max(1, count - 1))));
  return [...picked].map((i) => sorted[i]!);
}

/** The samples of a 16 kHz mono 16-bit PCM WAV (every corpus clip is one), as raw s16le. */
function readWavPcm(path: string): Buffer {
  const buf = readFileSync(path);
  if (buf.toString('ascii', 0, 4) !== 'RIFF' || buf.toString('ascii', 8, 12) !== 'WAVE') throw new Error(`${path} is not a WAV file`);
  let pcm16k = false;
  for (let at = 12; at + 8 <= buf.length; ) {
    const id = buf.toString('ascii', at, at + 4);
    const size = buf.readUInt32LE(at + 4);
    const body = at + 8;
    if (id === 'fmt ') pcm16k = buf.readUInt16LE(body) === 1 && buf.readUInt16LE(body + 2) === 1 && buf.readUInt32LE(body + 4) === SAMPLE_RATE && buf.readUInt16LE(body + 14) === 16;
    if (id === 'data') {
      if (!pcm16k) throw new Error(`${path} is not 16 kHz mono 16-bit PCM`);
      const end = Math.min(buf.length, body + size);
      return buf.subarray(body, end - ((end - body) % 2));
    }
    at = body + size + (size % 2);
  }
  throw new Error(`${path} has no data chunk`);
}

/**
 * `samples` of steady noise at NOISE_DB: the room between two clips, the same
 * for every clip and every run (a fixed seed). Digital zeros would do for the
 * endpointer, but no microphone sends them, and they would sit in the live CMN
 * of every utterance's trailing pause; a clip's own quietest stretch, repeated,
 * is not steady enough (the CMU cards clips are speech from end to end).
 */
function noise(samples: number, seed: number): Buffer {
  const sigma = Math.sqrt(10 ** (NOISE_DB / 10) - 1);
  const out = Buffer.alloc(samples * 2);
  let state = seed >>> 0 || 1;
  const uniform = () => ((state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0) / 2 ** 32);
  for (let i = 0; i < samples; i++) {
    // Irwin-Hall: the sum of 12 uniforms less 6 is close enough to a unit normal.
    let g = -6;
    for (let k = 0; k < 12; k++) g += uniform();
    out.writeInt16LE(Math.round(g * sigma), i * 2);
  }
  return out;
}

/** A clip's place in the stream: [from, to) in stream seconds, its pause included. */
interface Span {
  clip: Clip;
  from: number;
  to: number;
}

interface Playlist {
  pcm: Buffer;
  spans: Span[];
  seconds: number;
}

function playlist(clips: readonly Clip[], pauseSeconds: number): Playlist {
  const parts: Buffer[] = [];
  const spans: Span[] = [];
  let bytes = 0;
  for (const clip of clips) {
    const pcm = readWavPcm(clip.path);
    // Whole frames, so each clip starts on a frame boundary.
    const padded = Math.ceil((pcm.length / 2 + pauseSeconds * SAMPLE_RATE) / (FRAME_BYTES / 2)) * (FRAME_BYTES / 2);
    const part = Buffer.concat([pcm, noise(padded - pcm.length / 2, spans.length + 1)]);
    spans.push({ clip, from: bytes / 2 / SAMPLE_RATE, to: (bytes + part.length) / 2 / SAMPLE_RATE });
    parts.push(part);
    bytes += part.length;
  }
  return { pcm: Buffer.concat(parts), spans, seconds: bytes / 2 / SAMPLE_RATE };
}

/** `clips` rotated by `offset`, whole clips until `seconds` of audio. */
function rotation(clips: readonly Clip[], offset: number, seconds: number): Clip[] {
  const out: Clip[] = [];
  for (let i = 0; sum(out.map((c) => c.durationSeconds)) < seconds && i < clips.length * 4; i++) out.push(clips[(offset + i) % clips.length]!);
  return out;
}

interface Message {
  type: string;
  /** performance.now() at arrival. */
  at: number;
  text?: string;
  start?: number;
  end?: number;
  code?: string;
  isolation?: string;
}

interface StreamRun {
  /** When `ready` arrived: audio time T is sent at t0 + T (frame i, covering up to (i+1) * 100 ms, at t0 + (i+1) * 100 ms). */
  t0: number;
  frameSentAt: number[];
  endSentAt: number;
  doneAt: number | undefined;
  messages: Message[];
  error: string | undefined;
  isolation: string | undefined;
}

/** One stream of `list` at real-time pace, as a microphone client sends it; every message kept with its arrival time. */
async function runStream(baseUrl: string, isolation: Isolation, list: Playlist, phaseMs = 0): Promise<StreamRun> {
  const run: StreamRun = { t0: NaN, frameSentAt: [], endSentAt: NaN, doneAt: undefined, messages: [], error: undefined, isolation: undefined };
  const ws = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}/v1/audio/stream?isolation=${isolation}`);
  let readyResolve!: (ok: boolean) => void;
  const ready = new Promise<boolean>((resolve) => (readyResolve = resolve));
  const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
  ws.on('message', (data, isBinary) => {
    if (isBinary) return;
    const m = { ...(JSON.parse(String(data)) as Omit<Message, 'at'>), at: performance.now() };
    run.messages.push(m);
    if (m.type === 'ready') run.isolation = m.isolation;
    if (m.type === 'error') run.error ??= m.code;
    if (m.type === 'done') run.doneAt = m.at;
    readyResolve(m.type === 'ready');
  });
  ws.on('error', (err) => (run.error ??= `socket: ${err.message}`));
  ws.on('close', () => readyResolve(false));
  ws.once('open', () => ws.send(JSON.stringify({ encoding: 'pcm_s16le', sample_rate: SAMPLE_RATE, engine: ENGINE })));
  if (await ready) {
    if (phaseMs > 0) await sleep(phaseMs);
    run.t0 = performance.now();
    for (let i = 0; i * FRAME_BYTES < list.pcm.length; i++) {
      const wait = run.t0 + (i + 1) * FRAME_MS - performance.now();
      if (wait > 0) await sleep(wait);
      if (ws.readyState !== WebSocket.OPEN || run.error !== undefined) break;
      ws.send(list.pcm.subarray(i * FRAME_BYTES, (i + 1) * FRAME_BYTES));
      run.frameSentAt.push(performance.now());
    }
    if (ws.readyState === WebSocket.OPEN) {
      ws.send(JSON.stringify({ type: 'end' }));
      run.endSentAt = performance.now();
    }
  }
  const timer = setTimeout(() => {
    run.error ??= 'NO_DONE_WITHIN_60_S';
    ws.terminate();
  }, 60_000);
  await closed;
  clearTimeout(timer);
  if (run.error === undefined && run.doneAt === undefined) run.error = 'CLOSED_BEFORE_DONE';
  return run;
}

interface Analysis {
  /** From the send of the frame that completes the pause after `end` to the final's arrival. */
  finalMs: number[];
  /** From t0 + end + STREAM_SILENCE_SECONDS: the lag of decoded time behind sent time when the final lands. */
  lagMs: number[];
  /** Between consecutive partials of one utterance. */
  partialGapMs: number[];
  /** From the first word's audio (the final's `start`) to its utterance's first partial, utterances after the stream's first. */
  firstPartialMs: number[];
  /** The same for the stream's first utterance, whose partials wait for a provisional CMN seed (src/engines/pocketsphinx/stream.ts). */
  streamFirstPartialMs: number[];
  /** `{"type":"end"}` sent to `done`: the backlog left when the audio stopped. */
  drainMs: number[];
  /** Each stream's last final's lag: where the decoder stood as the stream ended (a transient spike has passed by then). */
  lastLagMs: number[];
  /** Every timed final, for the JSON: which stream, its `end`, its lag. */
  finals: { stream: number; end: number; lagMs: number }[];
  /** Finals with no words (noise taken for speech): not timed, their `end` is the endpointer's. */
  emptyFinals: number;
  partials: number;
  perClip: (WerTally & { id: string; text: string })[];
  errors: string[];
}

function analyse(runs: readonly { run: StreamRun; list: Playlist }[], silenceSeconds: number): Analysis {
  const a: Analysis = { finalMs: [], lagMs: [], partialGapMs: [], firstPartialMs: [], streamFirstPartialMs: [], drainMs: [], lastLagMs: [], finals: [], emptyFinals: 0, partials: 0, perClip: [], errors: [] };
  for (const [stream, { run, list }] of runs.entries()) {
    if (run.error !== undefined) a.errors.push(run.error);
    if (run.doneAt !== undefined) a.drainMs.push(run.doneAt - run.endSentAt);
    const texts = list.spans.map(() => [] as string[]);
    let partialsAt: number[] = [];
    let first = true;
    for (const m of run.messages) {
      if (m.type === 'partial') {
        a.partials++;
        if (partialsAt.length > 0) a.partialGapMs.push(m.at - partialsAt.at(-1)!);
        partialsAt.push(m.at);
      }
      if (m.type !== 'final') continue;
      const [start, end, text] = [m.start ?? NaN, m.end ?? NaN, (m.text ?? '').trim()];
      if (text === '') a.emptyFinals++;
      else {
        const paused = end + silenceSeconds;
        const frame = Math.ceil(Math.round((paused * 1000) / FRAME_MS * 1e6) / 1e6) - 1;
        a.finalMs.push(m.at - (run.frameSentAt[frame] ?? run.endSentAt));
        const lag = m.at - (run.t0 + paused * 1000);
        a.lagMs.push(lag);
        a.finals.push({ stream, end, lagMs: Math.round(lag) });
        if (partialsAt.length > 0) (first ? a.streamFirstPartialMs : a.firstPartialMs).push(partialsAt[0]! - (run.t0 + start * 1000));
        first = false;
        const span = list.spans.findIndex((s) => start >= s.from && start < s.to);
        texts[span === -1 ? list.spans.length - 1 : span]!.push(text);
      }
      partialsAt = [];
    }
    const last = a.finals.at(-1);
    if (last?.stream === stream) a.lastLagMs.push(last.lagMs);
    list.spans.forEach((s, i) => a.perClip.push({ id: s.clip.id, text: texts[i]!.join(' '), ...tally(s.clip.transcript, texts[i]!.join(' ')) }));
  }
  return a;
}

const hasTaskset = spawnSync('taskset', ['--version'], { stdio: 'ignore' }).status === 0;

/** Pins every thread of a process tree (a server and its pool workers) to `cpus`; later threads and children inherit it. */
function pin(pid: number, cpus: string): void {
  for (const p of processTree(pid)) execFileSync('taskset', ['-a', '-cp', cpus, String(p)], { stdio: 'ignore' });
}

/** Jiffies of one core from /proc/stat: [busy, total]. Differences say how much of core 0 anything, not only hark, took. */
function coreJiffies(core: number): [number, number] {
  const line = readFileSync('/proc/stat', 'utf8').split('\n').find((l) => l.startsWith(`cpu${core} `)) ?? '';
  const f = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = sum(f);
  return [total - (f[3] ?? 0) - (f[4] ?? 0), total];
}

interface CapacityRow {
  setup: string;
  n: number;
  audioSeconds: number;
  wallMs: number;
  cpuSeconds: number;
  /** Share of core 0 that was busy during the streams, by every process on the machine (0..1). */
  core0Busy: number;
  a: Analysis;
  /** Set when the server was gone after the streams: its last log lines. */
  serverDied?: string;
  keptUp: boolean;
}

/** N streams at once on a fresh server pinned to core 0; the bench itself runs on the other cores. */
async function capacityRun(setup: string, env: Record<string, string>, isolation: Isolation, n: number, lists: Playlist[], silence: number, lagLimitMs: number, warmup: Clip): Promise<CapacityRow> {
  const server = await startChildServer({ env: { ...BASE_ENV, ...env } });
  try {
    if (hasTaskset) pin(server.pid, '0');
    // Warms every decoder a stream may get (in-process: N instances, N requests at once; isolated: the worker).
    for (const warm of await Promise.all(lists.map(() => postFile(`${server.url}/transcriptions?isolation=${isolation}`, warmup.path, { response_format: 'json' })))) {
      if (warm.status !== 200) throw new Error(`warm-up ${isolation}: HTTP ${warm.status}: ${warm.body.slice(0, 300)}`);
    }
    const cpu = treeCpuSeconds(server.pid);
    const core0 = coreJiffies(0);
    const started = performance.now();
    // Independent clients' frames do not arrive in step: each stream gets its own phase within the frame period.
    const runs = await Promise.all(lists.map(async (list, k) => ({ run: await runStream(server.url, isolation, list, (k * FRAME_MS) / lists.length), list })));
    const wallMs = performance.now() - started;
    const core0After = coreJiffies(0);
    const wrongMode = runs.find((r) => r.run.isolation !== undefined && r.run.isolation !== isolation);
    if (wrongMode !== undefined) throw new Error(`a stream ran ${String(wrongMode.run.isolation)}, not ${isolation}: the figures would not be what they say`);
    const a = analyse(runs, silence);
    const cpuSeconds = treeCpuSeconds(server.pid) - cpu;
    const alive = readCpuSeconds(server.pid) !== undefined;
    // Bounded, not spike-free: a decoder slower than real time ends its streams behind, one that caught up does not.
    const keptUp = a.errors.length === 0 && max(a.lastLagMs) < lagLimitMs && max(a.drainMs) < lagLimitMs;
    return { setup, n, audioSeconds: sum(lists.map((l) => l.seconds)), wallMs, cpuSeconds: alive ? cpuSeconds : NaN, core0Busy: (core0After[0] - core0[0]) / (core0After[1] - core0[1]), a, keptUp, ...(alive ? {} : { serverDied: server.logTail().split('\n').slice(-12).join('\n') }) };
  } finally {
    await server.stop();
  }
}

function stats(values: readonly number[]): string[] {
  return [fixed(percentile(values, 50), 0), fixed(percentile(values, 95), 0), fixed(max(values), 0), String(values.length)];
}

function cols(headers: readonly string[], left: readonly string[] = []): Column[] {
  return headers.map((header) => ({ header, align: left.includes(header) ? 'left' : 'right' }));
}

/** The server every figure of the first part comes from: one engine instance, in-process, not pinned. */
const SINGLE_ENV = { ...IN_PROCESS_ONLY, IN_PROCESS_CONCURRENCY: '1', MAX_STREAMS: '1' };
const ISOLATED_ENV = { ENABLE_PROCESS_ISOLATED: 'true', DEFAULT_ISOLATION: 'auto', WORKER_COUNT: '1', IN_PROCESS_CONCURRENCY: '1', MAX_STREAMS: '1' };

/** One stream of every clip, then each clip as a file, on one warm server. */
async function singleStream(list: Playlist, silence: number, warmup: Clip): Promise<{ single: Analysis; fileRuns: ClipRun[] }> {
  const server = await startChildServer({ env: { ...BASE_ENV, ...SINGLE_ENV } });
  try {
    await transcribeOverHttp(server.url, warmup.path);
    const run = await runStream(server.url, 'in-process', list);
    if (run.isolation !== 'in-process') throw new Error(`the stream ran ${String(run.isolation)} (${String(run.error)}), not in-process`);
    const fileRuns: ClipRun[] = [];
    for (const { clip } of list.spans) {
      const { answer, ms } = await transcribeOverHttp(server.url, clip.path);
      fileRuns.push(clipRun(clip, answer.text, ms, answer.processing_ms));
    }
    return { single: analyse([{ run, list }], silence), fileRuns };
  } finally {
    await server.stop();
  }
}

function printSingle(single: Analysis, fileRuns: readonly ClipRun[], silence: number): void {
  const p95 = percentile(single.finalMs, 95);
  console.log(
    table(cols(['figure', 'p50 ms', 'p95 ms', 'max ms', 'n', 'target'], ['figure', 'target']), [
      ['final latency (pause-completing frame sent -> final)', ...stats(single.finalMs), `p95 < ${TARGET_FINAL_P95_MS} ms: ${verdict(p95 < TARGET_FINAL_P95_MS)}`],
      [`final latency from end + ${silence} s (stream time)`, ...stats(single.lagMs), ''],
      ['partial interval (within an utterance)', ...stats(single.partialGapMs), ''],
      ['first partial after speech start', ...stats(single.firstPartialMs), ''],
      ["  the stream's first utterance (CMN seed)", ...stats(single.streamFirstPartialMs), ''],
      ['{"type":"end"} -> done', ...stats(single.drainMs), ''],
    ]),
  );
  console.log(
    `  ${single.perClip.length} clips, ${single.finalMs.length} finals with words, ${single.emptyFinals} empty, ${single.partials} partials; errors: ${single.errors.join(', ') || 'none'}\n` +
      `  final latency: from the send of the 100 ms frame holding end + STREAM_SILENCE_SECONDS (end = the final's last word), so it includes any gap between\n` +
      `  the recogniser's word end and the endpointer's energy end; negative = the endpointer closed before that frame (${single.finalMs.filter((v) => v < 0).length} finals).\n` +
      `  A partial is sent when the text changes, so its interval is how often the guess moves (at least the ${FRAME_MS} ms chunk).`,
  );
  console.log(
    table(cols(['clip', 's', 'words', 'stream errors', 'file errors'], ['clip']), [
      ...fileRuns.map((f, i) => [f.id, fixed(f.durationSeconds, 1), String(f.words), String(single.perClip[i]!.errors), String(f.errors)]),
      ['WER', '', String(sum(fileRuns.map((r) => r.words))), fixed(wer(single.perClip), 3), fixed(wer(fileRuns), 3)],
    ]),
  );
  console.log('  stream = the finals joined per clip; file = POST /transcriptions?isolation=in-process of the clip (whole-file decoding).');
}

function printCapacity(rows: readonly CapacityRow[]): void {
  const headers = ['mode', 'N', 'final p50 ms', 'final p95 ms', 'final max ms', 'max lag ms', 'last lag max ms', 'end->done max ms', 'partial gap p95 ms', 'CPU s / audio s', 'hark core share', 'core 0 busy (all)', 'WER', 'errors', 'real time'];
  console.log(
    table(
      cols(headers, ['mode', 'errors', 'real time']),
      rows.map((r) => [
        r.setup,
        String(r.n),
        ...[percentile(r.a.finalMs, 50), percentile(r.a.finalMs, 95), max(r.a.finalMs), max(r.a.lagMs), max(r.a.lastLagMs), max(r.a.drainMs), percentile(r.a.partialGapMs, 95)].map((v) => fixed(v, 0)),
        fixed(r.cpuSeconds / r.audioSeconds, 3),
        fixed(r.cpuSeconds / (r.wallMs / 1000), 2),
        fixed(r.core0Busy, 2),
        fixed(wer(r.a.perClip), 3),
        countErrors(r.a.errors) || '-',
        r.keptUp ? 'kept up' : 'FELL BEHIND',
      ]),
    ),
  );
  console.log(
    `  in-process: IN_PROCESS_CONCURRENCY=N MAX_STREAMS=N ENABLE_PROCESS_ISOLATED=false; isolated: ?isolation=process, WORKER_COUNT=1 (server and worker on core 0).\n` +
      `  CPU = the server's process tree over the streams; hark core share = CPU s / wall s (1.00 = the whole pinned core);\n` +
      `  core 0 busy (all) = /proc/stat for core 0, every process: near 1.00 with a low hark share means other work took the core.\n` +
      `  lag = a final's arrival - (t0 + end + pause): max is the worst moment (streams' first seconds and long utterances' ends coincide),\n` +
      `  last is each stream's last final, where a decoder slower than real time shows its backlog. Streams start at once, phases spread over one frame, clips rotated.`,
  );
}

/** "6x CLOSED_BEFORE_DONE, 1x STREAM_TOO_FAST". */
function countErrors(errors: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const e of errors) counts.set(e, (counts.get(e) ?? 0) + 1);
  return [...counts].map(([e, n]) => `${n}x ${e}`).join(', ');
}

function summary(a: Analysis) {
  return {
    final_ms: { p50: percentile(a.finalMs, 50), p95: percentile(a.finalMs, 95), max: max(a.finalMs) },
    lag_ms: { p50: percentile(a.lagMs, 50), p95: percentile(a.lagMs, 95), max: max(a.lagMs) },
    partial_gap_ms: { p50: percentile(a.partialGapMs, 50), p95: percentile(a.partialGapMs, 95) },
    first_partial_ms: { p50: percentile(a.firstPartialMs, 50), p95: percentile(a.firstPartialMs, 95), stream_first: a.streamFirstPartialMs },
    drain_ms: a.drainMs,
    last_lag_ms: a.lastLagMs,
    wer: wer(a.perClip),
    errors: a.errors,
  };
}

async function main(): Promise<void> {
  if (flags.help) {
    console.log(USAGE);
    return;
  }
  const clipCount = positiveFlag('clips', flags.clips);
  const maxStreams = positiveFlag('max-streams', flags['max-streams']);
  const minStreams = Math.min(maxStreams, positiveFlag('min-streams', flags['min-streams']));
  const capacitySeconds = positiveFlag('capacity-seconds', flags['capacity-seconds']);
  const lagLimitMs = positiveFlag('lag-limit-ms', flags['lag-limit-ms']);
  const { info, launch } = startBench('live streaming');
  const config = loadConfig({ env: { ...process.env, ...BASE_ENV }, envFile: join(ROOT, '.env') });
  const silence = config.STREAM_SILENCE_SECONDS;
  const pause = silence + GAP_SLACK_SECONDS;
  const corpus = benchCorpus();
  const clips = spreadClips(corpus.clips, clipCount);
  const list = playlist(clips, pause);
  console.log(`${CORPUS_CREDIT}\n${clips.length} clips (${clips.map((c) => `${c.id} ${fixed(c.durationSeconds, 1)} s`).join(', ')}), each followed by ${fixed(pause, 1)} s of steady ${NOISE_DB} dB noise: ${fixed(list.seconds, 1)} s streamed`);
  console.log(`pcm_s16le, ${FRAME_MS} ms frames at real-time pace; STREAM_SILENCE_SECONDS=${silence} STREAM_MIN_CHUNK_SIZE=${config.STREAM_MIN_CHUNK_SIZE} UTTERANCE_MAX_SECONDS=${config.UTTERANCE_MAX_SECONDS}`);

  heading('One stream, in-process (IN_PROCESS_CONCURRENCY=1, not pinned), then the same clips as files');
  const { single, fileRuns } = await singleStream(list, silence, corpus.warmup);
  printSingle(single, fileRuns, silence);

  heading(`Capacity: N streams at once, one core${hasTaskset ? ' (taskset -c 0)' : ' (NOT pinned: taskset missing)'}, ~${capacitySeconds} s of audio each`);
  const cores = os.availableParallelism();
  const benchCores = hasTaskset && cores > 1 ? `1-${cores - 1}` : undefined;
  if (benchCores !== undefined) execFileSync('taskset', ['-a', '-cp', benchCores, String(process.pid)], { stdio: 'ignore' });
  console.log(`server on core 0, this bench ${benchCores === undefined ? 'sharing it' : `on cores ${benchCores}`}; a stream keeps up with no error, its last final within ${lagLimitMs} ms of its end + pause and done within ${lagLimitMs} ms of end`);
  const lists = (n: number) => Array.from({ length: n }, (_, k) => playlist(rotation(clips, k, capacitySeconds), pause));
  const rows: CapacityRow[] = [];
  for (let n = minStreams; n <= maxStreams; n++) {
    // Every engine for streams: the capacity measured is the decoders', not what hark keeps for files.
    const env = { ...IN_PROCESS_ONLY, IN_PROCESS_CONCURRENCY: String(n), MAX_STREAMS: String(n), STREAM_RESERVED_ENGINES: '0' };
    const row = await capacityRun('in-process', env, 'in-process', n, lists(n), silence, lagLimitMs, corpus.warmup);
    rows.push(row);
    console.log(`  N=${n}: final p95 ${fixed(percentile(row.a.finalMs, 95), 0)} ms, max lag ${fixed(max(row.a.lagMs), 0)} ms, last ${fixed(max(row.a.lastLagMs), 0)} ms, ${row.keptUp ? 'kept up' : `FELL BEHIND ${countErrors(row.a.errors)}`}`);
    if (row.serverDied !== undefined) console.log(`  the server EXITED during the streams; its last log lines:\n${row.serverDied}`);
    if (!row.keptUp) break;
  }
  rows.push(await capacityRun('isolated', ISOLATED_ENV, 'process', 1, lists(1), silence, lagLimitMs, corpus.warmup));
  const kept = rows.filter((r) => r.setup === 'in-process' && r.keptUp).map((r) => r.n);
  const largest = kept.length === 0 ? 0 : Math.max(...kept);
  const hitCap = largest === maxStreams;
  // The same series read against the latency target: streams whose finals still come within it.
  const withinTarget = rows.filter((r) => r.setup === 'in-process' && r.keptUp && percentile(r.a.finalMs, 95) < TARGET_FINAL_P95_MS).map((r) => r.n);
  const largestWithinTarget = withinTarget.length === 0 ? 0 : Math.max(...withinTarget);

  heading('Live streams side by side');
  printCapacity(rows);

  heading('Against the targets');
  const p95 = percentile(single.finalMs, 95);
  console.log(
    table(cols(['figure', 'value', 'target', 'verdict'], ['figure', 'value', 'target', 'verdict']), [
      ['final latency p95, one stream', `${fixed(p95, 0)} ms`, `< ${TARGET_FINAL_P95_MS} ms`, verdict(p95 < TARGET_FINAL_P95_MS)],
      ['real-time streams on one core (in-process)', hitCap ? `>= ${largest} (the --max-streams cap)` : String(largest), 'figure (no target)', '-'],
      [`  of them with final p95 < ${TARGET_FINAL_P95_MS} ms`, String(largestWithinTarget), 'figure (no target)', '-'],
      ['stream WER vs file WER', `${fixed(wer(single.perClip), 3)} vs ${fixed(wer(fileRuns), 3)}`, 'figure (no target)', '-'],
    ]),
  );
  console.log(`  load average (1/5/15 min) at the start: ${String(info['load_avg'])}, at the end: ${loadAverage()} on ${cores} cores`);

  writeResults('stream', {
    machine: info,
    launch,
    corpus: { set: 'dev', clips: clips.map((c) => c.id), audio_seconds: sum(clips.map((c) => c.durationSeconds)), streamed_seconds: list.seconds },
    settings: { frame_ms: FRAME_MS, pause_seconds: pause, noise_db: NOISE_DB, stream_silence_seconds: silence, capacity_seconds: capacitySeconds, lag_limit_ms: lagLimitMs, max_streams: maxStreams, pinned: hasTaskset, single_server: SINGLE_ENV, isolated_server: ISOLATED_ENV },
    targets: { final_p95_ms: TARGET_FINAL_P95_MS },
    single: { ...summary(single), per_clip: single.perClip, raw: { final_ms: single.finalMs, lag_ms: single.lagMs, partial_gap_ms: single.partialGapMs } },
    file: { wer: wer(fileRuns), runs: fileRuns },
    capacity: rows.map((r) => ({ setup: r.setup, n: r.n, kept_up: r.keptUp, audio_seconds: r.audioSeconds, wall_ms: r.wallMs, cpu_seconds: r.cpuSeconds, core0_busy: r.core0Busy, ...summary(r.a), finals: r.a.finals })),
    largest_n_kept_up: largest,
    largest_n_within_final_target: largestWithinTarget,
    reached_cap: hitCap,
    load_avg_end: loadAverage(),
  });
}

runBench('stream', main);
