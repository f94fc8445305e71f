/**
 * Accuracy and speed of hark on ../shared/corpus/dev, three ways:
 *   (a) HTTP API, the real server started in this process: sequential at
 *       IN_PROCESS_CONCURRENCY=1 (clean real-time factor), then 2 at once;
 *   (b) the CLI, `hark transcribe --format json` in a child, with its peak RSS;
 *   (c) every clip joined into one long WAV, through a child-process server,
 *       with that server's peak RSS; `--hour` repeats it to ~1 h to show RSS
 *       does not grow with length.
 * Prints figures next to their targets; asserts nothing.
 *
 *   npm run bench:accuracy [-- --hour]
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { tally, wer, type WerTally } from '../test/support/eval/index.js';
import { startChildServer, type ChildServer } from './lib/child-server.js';
import { runBench, startBench } from './lib/bench.js';
import { makeTempDir } from './lib/cleanup.js';
import { runCliTranscribe, type CliRun } from './lib/cli-run.js';
import { benchCorpus, clipsToPcm, CORPUS_CREDIT } from './lib/corpus.js';
import { transcribeOverHttp, type TranscriptionAnswer } from './lib/http.js';
import { startInProcessServer } from './lib/in-process-server.js';
import { mb, PeakSampler, readCpuSeconds, readProcMemory, type PeakResult } from './lib/proc.js';
import { cliLaunch, serverLaunch } from './lib/paths.js';
import { fixed, heading, loadAverage, pct, table, verdict, writeResults } from './lib/report.js';
import { clipRun, httpConcurrent, httpSequential, sum, type ClipRun } from './lib/runs.js';
import { IN_PROCESS_ONLY } from './lib/settings.js';
import { joinPcmToWav } from './lib/wav.js';

const TARGET_WER_CLIPS = 0.18;
const TARGET_WER_JOINED = 0.19;
const HOUR_SECONDS = 3600;

const { values: flags } = parseArgs({
  options: { hour: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } },
});

/** Totals of one way of transcribing the set. */
interface ModeSummary {
  mode: string;
  audioSeconds: number;
  wallMs: number;
  rtf: number;
  wer: number;
  errors: number;
  words: number;
  werTarget?: number;
  /** User + system CPU seconds for the set, where measurable. */
  cpuSeconds?: number;
  peakRssMb?: number;
  note?: string;
}

function summarize(mode: string, runs: readonly (WerTally & { durationSeconds: number })[], wallMs: number, extra: Partial<ModeSummary> = {}): ModeSummary {
  const audioSeconds = sum(runs.map((r) => r.durationSeconds));
  return {
    mode,
    audioSeconds,
    wallMs,
    rtf: wallMs / 1000 / audioSeconds,
    wer: wer(runs),
    errors: sum(runs.map((r) => r.errors)),
    words: sum(runs.map((r) => r.words)),
    ...extra,
  };
}

function clipWer(r: WerTally): number {
  return r.words === 0 ? 0 : r.errors / r.words;
}

function rtf(r: ClipRun): number {
  return r.ms / 1000 / r.durationSeconds;
}

/** How many clips got the same words two ways (PocketSphinx here is deterministic, so all should). */
function sameTexts(a: readonly ClipRun[], b: readonly ClipRun[]): number {
  return a.filter((r, i) => r.text === b[i]?.text).length;
}

/** A long-file run on the child server: one POST, RSS sampled every 100 ms. */
interface LongRun {
  audioSeconds: number;
  wallMs: number;
  serverMs: number;
  /** The server's CPU seconds (with its ffmpeg runs) during the request. */
  cpuSeconds: number;
  rtf: number;
  tally: WerTally;
  wer: number;
  memory: PeakResult;
  answer: TranscriptionAnswer;
}

async function longRun(server: ChildServer, wavPath: string, audioSeconds: number, score: (a: TranscriptionAnswer) => WerTally): Promise<LongRun> {
  const cpuBefore = readCpuSeconds(server.pid) ?? NaN;
  const sampler = new PeakSampler(server.pid, 100);
  let res;
  try {
    res = await transcribeOverHttp(server.url, wavPath);
  } catch (err) {
    sampler.stop();
    throw err;
  }
  const memory = sampler.stop();
  const cpuSeconds = (readCpuSeconds(server.pid) ?? NaN) - cpuBefore;
  const t = score(res.answer);
  return {
    audioSeconds,
    wallMs: res.ms,
    serverMs: res.answer.processing_ms,
    cpuSeconds,
    rtf: res.ms / 1000 / audioSeconds,
    tally: t,
    wer: wer([t]),
    memory,
    answer: res.answer,
  };
}

/**
 * Scores an hour made of `repeats` copies of the joined file: each word goes to
 * the copy its start time falls in, and is compared with that copy's reference.
 */
function scoreRepeated(answer: TranscriptionAnswer, reference: string, copySeconds: number, repeats: number): WerTally {
  const buckets: string[][] = Array.from({ length: repeats }, () => []);
  for (const w of answer.words) buckets[Math.min(repeats - 1, Math.floor(w.start / copySeconds))]?.push(w.word);
  const tallies = buckets.map((words) => tally(reference, words.join(' ')));
  return { errors: sum(tallies.map((t) => t.errors)), words: sum(tallies.map((t) => t.words)) };
}

function cliRuns(cli: CliRun, corpus: ReturnType<typeof benchCorpus>): ClipRun[] {
  const byFile = new Map(cli.results.map((r, i) => [r.file, { ...r, prevAt: cli.results[i - 1]?.atMs }]));
  return corpus.clips.map((clip) => {
    const r = byFile.get(clip.path);
    if (r === undefined) throw new Error(`the CLI printed no transcript for ${clip.id} (exit ${cli.exitCode}): ${cli.stderr.slice(0, 500)}`);
    // The CLI prints each file as it finishes: a clip's time runs from the previous file's output to its own.
    return clipRun(clip, r.text, r.atMs - (r.prevAt ?? 0));
  });
}

async function main(): Promise<void> {
  if (flags.help) {
    console.log('usage: npm run bench:accuracy [-- --hour]\n  --hour  also transcribe ~1 h (the joined file repeated) and compare the server\'s peak RSS');
    return;
  }
  const { info } = startBench('accuracy', [serverLaunch(), cliLaunch([])]);
  const corpus = benchCorpus();
  const { clips } = corpus;
  console.log(`${CORPUS_CREDIT}\n${clips.length} clips, ${fixed(corpus.audioSeconds, 1)} s of audio; warm-up clip ${corpus.warmup.id} (not counted)`);
  const tmp = makeTempDir('hark-bench-accuracy-');

  heading('(a) HTTP API: server in this process, POST /transcriptions');
  console.log('IN_PROCESS_CONCURRENCY=1, one request at a time ...');
  let httpRuns: ClipRun[];
  let seqCpu: number;
  {
    const server = await startInProcessServer({ ...IN_PROCESS_ONLY, IN_PROCESS_CONCURRENCY: '1' });
    try {
      await transcribeOverHttp(server.url, corpus.warmup.path);
      const cpuBefore = readCpuSeconds(process.pid) ?? NaN;
      httpRuns = await httpSequential(server.url, clips);
      seqCpu = (readCpuSeconds(process.pid) ?? NaN) - cpuBefore;
    } finally {
      await server.stop();
    }
  }
  const httpSeq = summarize('HTTP, sequential (concurrency 1)', httpRuns, sum(httpRuns.map((r) => r.ms)), {
    werTarget: TARGET_WER_CLIPS,
    cpuSeconds: seqCpu,
    note: 'server in the bench process: CPU includes the HTTP client side',
  });
  console.log('IN_PROCESS_CONCURRENCY=2, two requests in flight ...');
  let concurrent: { runs: ClipRun[]; wallMs: number };
  let concCpu: number;
  {
    const server = await startInProcessServer({ ...IN_PROCESS_ONLY, IN_PROCESS_CONCURRENCY: '2' });
    try {
      await Promise.all([transcribeOverHttp(server.url, corpus.warmup.path), transcribeOverHttp(server.url, corpus.warmup.path)]);
      const cpuBefore = readCpuSeconds(process.pid) ?? NaN;
      concurrent = await httpConcurrent(server.url, clips, 2);
      concCpu = (readCpuSeconds(process.pid) ?? NaN) - cpuBefore;
    } finally {
      await server.stop();
    }
  }
  const httpConc = summarize('HTTP, 2 concurrent (concurrency 2)', concurrent.runs, concurrent.wallMs, {
    werTarget: TARGET_WER_CLIPS,
    cpuSeconds: concCpu,
    note: `${fixed(httpSeq.wallMs / concurrent.wallMs, 2)}x the sequential throughput on ${String(info['cores'])} cores`,
  });

  heading('(b) CLI: hark transcribe --format json --no-progress <42 files>');
  const cli = await runCliTranscribe([corpus.warmup.path, ...clips.map((c) => c.path)]);
  if (cli.exitCode !== 0) throw new Error(`hark transcribe exited with ${cli.exitCode}: ${cli.stderr.slice(0, 1000)}`);
  const cliClipRuns = cliRuns(cli, corpus);
  const firstClipAt = cli.results.find((r) => r.file === clips[0]?.path)?.atMs ?? 0;
  const startupMs = cli.results[0]?.atMs ?? 0;
  const cliSum = summarize('CLI, one process, clip by clip', cliClipRuns, cli.results.at(-1)!.atMs - startupMs, {
    werTarget: TARGET_WER_CLIPS,
    ...(cli.peakRssBytes === undefined ? {} : { peakRssMb: mb(cli.peakRssBytes) }),
    note:
      `process wall ${fixed(cli.wallMs / 1000, 1)} s incl. ${fixed(startupMs / 1000, 2)} s start-up + model load + warm-up clip` +
      (cli.cpuSeconds === undefined ? '' : `; CPU ${fixed(cli.cpuSeconds, 1)} s for the whole process (start-up included)`),
  });
  console.log(`${cli.launch.kind === 'dist' ? 'node dist/cli/main.js' : 'tsx src/cli/main.ts'}; peak RSS by ${cli.rssMethod}; first dev clip out at ${fixed(firstClipAt / 1000, 2)} s`);

  heading('Clip by clip (RTF = wall time / audio duration)');
  const rows = clips.map((clip, i) => {
    const h = httpRuns[i]!;
    const c = cliClipRuns[i]!;
    return [clip.id, fixed(clip.durationSeconds, 2), String(h.words), fixed(clipWer(h), 3), fixed(rtf(h), 3), fixed(clipWer(c), 3), fixed(rtf(c), 3)];
  });
  rows.push(['TOTAL', fixed(corpus.audioSeconds, 2), String(httpSeq.words), fixed(httpSeq.wer, 3), fixed(httpSeq.rtf, 3), fixed(cliSum.wer, 3), fixed(cliSum.rtf, 3)]);
  console.log(
    table(
      [{ header: 'clip', align: 'left' }, { header: 'dur s' }, { header: 'words' }, { header: 'HTTP WER' }, { header: 'HTTP RTF' }, { header: 'CLI WER' }, { header: 'CLI RTF' }],
      rows,
    ),
  );
  console.log(
    `identical transcripts: HTTP sequential vs CLI ${sameTexts(httpRuns, cliClipRuns)}/${clips.length}, vs HTTP concurrent ${sameTexts(httpRuns, concurrent.runs)}/${clips.length}`,
  );

  heading('(c) One joined file through a child-process server (node dist/main.js)');
  const pcmDir = makeTempDir('hark-bench-pcm-');
  const pcmPaths = await clipsToPcm(clips, pcmDir);
  const joinedWav = join(tmp, 'dev-joined.wav');
  const joinedSeconds = await joinPcmToWav(pcmPaths, joinedWav);
  const joinedReference = clips.map((c) => c.transcript).join(' ');
  console.log(`joined ${clips.length} clips in manifest order: ${fixed(joinedSeconds, 1)} s, ${tally(joinedReference, '').words} reference words`);
  const server = await startChildServer({ env: { ...IN_PROCESS_ONLY, IN_PROCESS_CONCURRENCY: '1' } });
  let joined: LongRun;
  let hour: (LongRun & { repeats: number }) | undefined;
  let idleRssMb: number;
  try {
    await transcribeOverHttp(server.url, corpus.warmup.path);
    idleRssMb = mb(readProcMemory(server.pid)?.rss ?? NaN);
    console.log(`server pid ${server.pid} ready in ${fixed(server.readyMs, 0)} ms; RSS after warm-up ${fixed(idleRssMb, 1)} MB; transcribing ...`);
    joined = await longRun(server, joinedWav, joinedSeconds, (a) => tally(joinedReference, a.text));
    if (flags.hour) {
      const repeats = Math.ceil(HOUR_SECONDS / joinedSeconds);
      const hourWav = join(tmp, 'dev-hour.wav');
      const hourSeconds = await joinPcmToWav(pcmPaths, hourWav, repeats);
      console.log(`--hour: the joined file ${repeats} times, ${fixed(hourSeconds / 60, 1)} min; transcribing on the same server ...`);
      hour = { ...(await longRun(server, hourWav, hourSeconds, (a) => scoreRepeated(a, joinedReference, joinedSeconds, repeats))), repeats };
    }
  } finally {
    await server.stop();
  }
  const joinedSum = summarize('HTTP, one joined file', [{ ...joined.tally, durationSeconds: joinedSeconds }], joined.wallMs, {
    werTarget: TARGET_WER_JOINED,
    cpuSeconds: joined.cpuSeconds,
    peakRssMb: mb(joined.memory.peakBytes),
    note: `child server; ${joined.answer.words.length} words out; server processing ${fixed(joined.serverMs / 1000, 1)} s`,
  });
  const longRows = [joined, ...(hour ? [hour] : [])].map((r, i) => [
    i === 0 ? 'joined dev' : `${hour?.repeats ?? 0} x joined`,
    fixed(r.audioSeconds, 1),
    fixed(r.wallMs / 1000, 1),
    fixed(r.rtf, 3),
    fixed(r.wer, 3),
    fixed(mb(r.memory.startBytes), 1),
    fixed(mb(r.memory.peakBytes), 1),
    String(r.memory.samples),
  ]);
  console.log(
    table(
      [{ header: 'file', align: 'left' }, { header: 'audio s' }, { header: 'wall s' }, { header: 'RTF' }, { header: 'WER' }, { header: 'RSS before MB' }, { header: 'peak RSS MB' }, { header: 'samples' }],
      longRows,
    ),
  );
  console.log(`peak = max(VmRSS sampled every 100 ms, VmHWM${joined.memory.exact ? ' reset at the start of the request' : ' unavailable: samples only'})`);
  let hourSum: ModeSummary | undefined;
  if (hour) {
    const growth = hour.memory.peakBytes - joined.memory.peakBytes;
    console.log(
      `RSS vs length: ${fixed(hour.audioSeconds / joinedSeconds, 1)}x the audio -> peak ${fixed(mb(hour.memory.peakBytes), 1)} MB vs ${fixed(mb(joined.memory.peakBytes), 1)} MB ` +
        `(${growth >= 0 ? '+' : ''}${fixed(mb(growth), 1)} MB, ratio ${fixed(hour.memory.peakBytes / joined.memory.peakBytes, 3)})`,
    );
    hourSum = summarize(`HTTP, ${hour.repeats} x joined (--hour)`, [{ ...hour.tally, durationSeconds: hour.audioSeconds }], hour.wallMs, {
      werTarget: TARGET_WER_JOINED,
      cpuSeconds: hour.cpuSeconds,
      peakRssMb: mb(hour.memory.peakBytes),
      note: 'same server, after the joined file; WER per copy by word start time',
    });
  }

  heading('Summary');
  const modes = [httpSeq, httpConc, cliSum, joinedSum, ...(hourSum ? [hourSum] : [])];
  console.log(
    table(
      [
        { header: 'mode', align: 'left' },
        { header: 'audio s' },
        { header: 'wall s' },
        { header: 'RTF' },
        { header: 'CPU s' },
        { header: 'CPU/audio' },
        { header: 'WER' },
        { header: 'target', align: 'left' },
        { header: 'peak RSS MB' },
      ],
      modes.map((m) => [
        m.mode,
        fixed(m.audioSeconds, 1),
        fixed(m.wallMs / 1000, 1),
        fixed(m.rtf, 3),
        m.cpuSeconds === undefined ? '-' : fixed(m.cpuSeconds, 1),
        m.cpuSeconds === undefined ? '-' : fixed(m.cpuSeconds / m.audioSeconds, 3),
        fixed(m.wer, 3),
        m.werTarget === undefined ? '' : `<= ${m.werTarget} ${verdict(m.wer <= m.werTarget)}`,
        m.peakRssMb === undefined ? '-' : fixed(m.peakRssMb, 1),
      ]),
    ),
  );
  for (const m of modes) if (m.note !== undefined) console.log(`  ${m.mode}: ${m.note}`);
  console.log(`  RTF = wall time / audio duration; CPU/audio = CPU seconds / audio seconds (less sensitive to other load on the machine)`);
  console.log(`  load average (1/5/15 min) at the end: ${loadAverage()}`);
  console.log(`  WER = all edits / all reference words (${httpSeq.errors}/${httpSeq.words} sequential HTTP); ${pct(httpSeq.wer)} by clip, ${pct(joinedSum.wer)} joined`);

  writeResults('accuracy', {
    machine: info,
    launch: { server: serverLaunch(), cli: cli.launch },
    corpus: { set: 'dev', clips: clips.length, audio_seconds: corpus.audioSeconds, warmup: corpus.warmup.id },
    targets: { wer_by_clip: TARGET_WER_CLIPS, wer_joined: TARGET_WER_JOINED },
    summary: modes,
    clips: clips.map((clip, i) => ({
      id: clip.id,
      duration_seconds: clip.durationSeconds,
      words: httpRuns[i]!.words,
      http: { errors: httpRuns[i]!.errors, wer: clipWer(httpRuns[i]!), ms: httpRuns[i]!.ms, server_ms: httpRuns[i]!.serverMs, rtf: rtf(httpRuns[i]!), text: httpRuns[i]!.text },
      http_concurrent: { errors: concurrent.runs[i]!.errors, ms: concurrent.runs[i]!.ms },
      cli: { errors: cliClipRuns[i]!.errors, wer: clipWer(cliClipRuns[i]!), ms: cliClipRuns[i]!.ms, rtf: rtf(cliClipRuns[i]!) },
    })),
    cli: { wall_ms: cli.wallMs, startup_ms: startupMs, peak_rss_bytes: cli.peakRssBytes, rss_method: cli.rssMethod },
    joined: { audio_seconds: joined.audioSeconds, wall_ms: joined.wallMs, server_ms: joined.serverMs, rtf: joined.rtf, ...joined.tally, wer: joined.wer, memory: joined.memory, idle_rss_mb: idleRssMb },
    hour: hour && { repeats: hour.repeats, audio_seconds: hour.audioSeconds, wall_ms: hour.wallMs, server_ms: hour.serverMs, rtf: hour.rtf, ...hour.tally, wer: hour.wer, memory: hour.memory },
  });
}

runBench('accuracy', main);
