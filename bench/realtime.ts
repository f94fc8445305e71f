/**
 * OpenAI's Realtime API for transcription (`GET /v1/realtime`,
 * docs/streaming.md) against a child server (`node dist/main.js`,
 * PocketSphinx, in-process): dev clips resampled to 24 kHz by ffmpeg, each
 * followed by a pause of low noise, sent by the official `openai` realtime
 * client as 100 ms `input_audio_buffer.append`s at real-time pace, with
 * `server_vad` turn detection, twice: one session over all the clips, and a
 * session of its own for each clip (every item a session's first utterance,
 * which waits for PocketSphinx's CMN seed). For each item (one per clip):
 *   - first delta latency: from the moment the onset of speech was sent
 *     (`audio_start_ms` + `prefix_padding_ms`, the VAD's onset) to the first
 *     `delta`;
 *   - completed latency: from the moment the audio that ends the pause was
 *     sent (the speech's end, `audio_end_ms` - `prefix_padding_ms` since
 *     hark's end is padded, + `silence_duration_ms`: before it no one can
 *     know the speaker stopped) to `completed`, as bench:stream times finals;
 *   - whether `completed` contradicts words the deltas already said;
 *   - and the WER of the completed transcripts.
 * Prints p50/p95 next to the targets (first delta < 1 s p95 in both runs,
 * completed < 300 ms p95); asserts nothing.
 *
 *   npm run bench:realtime [-- --clips N]
 */
import { parseArgs } from 'node:util';
import type { Clip } from '../test/support/eval/index.js';
import { tally, wer } from '../test/support/eval/index.js';
import { appendPaced, ofType, pcmAt, realtimeClient, record, waitForEvent, type RealtimeLog } from '../test/support/realtime.js';
import { positiveFlag, runBench, startBench } from './lib/bench.js';
import { startChildServer } from './lib/child-server.js';
import { waitFor } from '../src/loadtest/child-server.js';
import { benchCorpus, CORPUS_CREDIT } from './lib/corpus.js';
import { fixed, heading, loadAverage, table, verdict, writeResults } from './lib/report.js';
import { IN_PROCESS_ONLY } from './lib/settings.js';
import { percentile } from './lib/stats.js';

const TARGET_FIRST_DELTA_MS = 1000;
const TARGET_COMPLETED_P95_MS = 300;
const RATE = 24_000;
const FRAME_MS = 100;
/** server_vad as a voice agent sets it (OpenAI's defaults). */
const TURN = { type: 'server_vad', threshold: 0.5, prefix_padding_ms: 300, silence_duration_ms: 500 } as const;
/** Pause after each clip: the silence that ends the turn, and some. */
const PAUSE_SECONDS = 1.2;

const { values: flags } = parseArgs({ options: { clips: { type: 'string', default: '5' }, help: { type: 'boolean', short: 'h', default: false } } });

/** `count` clips spread evenly from the shortest to the longest. */
function spreadClips(clips: readonly Clip[], count: number): Clip[] {
  const sorted = [...clips].sort((a, b) => a.durationSeconds - b.durationSeconds);
  if (count >= sorted.length) return sorted;
  return [...new Set(Array.from({ length: count }, (_, i) => Math.round((i * (sorted.length - 1)) / Math.max(1, count - 1))))].map((i) => sorted[i]!);
}

/** Low, steady noise (a fixed seed): a room between two utterances; no microphone sends digital zeros. */
function noise(samples: number, seed: number): Buffer {
  const out = Buffer.alloc(samples * 2);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < samples; i++) {
    s = (Math.imul(s, 1_664_525) + 1_013_904_223) >>> 0;
    out.writeInt16LE(Math.round((s / 2 ** 32 - 0.5) * 40), i * 2);
  }
  return out;
}

interface ItemFigures {
  clip: string;
  firstDeltaMs: number | undefined;
  completedMs: number;
  deltas: number;
  /** Words the deltas said, and how many of them `completed` begins with (fewer: the decoder revised what was sent). */
  sentWords: number;
  keptWords: number;
  transcript: string;
}

/** Waits until the server holds no stream: a closed session gives its engine back just after the close. */
async function noStreams(url: string): Promise<void> {
  await waitFor(async () => ((await (await fetch(`${url}/api/v1/capacity`)).json()) as { streams: { active: number } }).streams.active === 0, 10_000, 50);
}

/** How many of the words the deltas said `transcript` begins with. */
function keptWords(said: string, transcript: string): { sentWords: number; keptWords: number } {
  const sent = said.split(' ').filter((w) => w !== '');
  const final = transcript.split(' ');
  let kept = 0;
  while (kept < sent.length && sent[kept] === final[kept]) kept++;
  return { sentWords: sent.length, keptWords: kept };
}

/** One session over the clips; per item, the latencies against the wall time its audio was sent (t0 + audio time). */
async function session(url: string, clips: readonly Clip[]): Promise<{ items: ItemFigures[]; errors: string[] }> {
  const parts = clips.map((c, i) => Buffer.concat([pcmAt(c.path, RATE), noise(Math.round(PAUSE_SECONDS * RATE), i + 1)]));
  const spansMs: number[] = [];
  let at = 0;
  for (const p of parts) {
    spansMs.push(at);
    at += (p.length / 2 / RATE) * 1000;
  }
  await noStreams(url);
  const rt = realtimeClient(url);
  const log: RealtimeLog = record(rt);
  await log.opened;
  rt.send({ type: 'session.update', session: { type: 'transcription', audio: { input: { format: { type: 'audio/pcm', rate: RATE }, transcription: { language: 'en' }, turn_detection: TURN } } } });
  await waitForEvent(log, ofType('session.updated'));
  const sentAt = await appendPaced(rt, Buffer.concat(parts), RATE, FRAME_MS, FRAME_MS);
  // Frame i (audio up to (i + 1) * FRAME_MS) was sent at sentAt[i]: audio time T was sent when its frame was.
  const sentWhen = (ms: number) => sentAt[Math.min(sentAt.length - 1, Math.floor(ms / FRAME_MS))]!;
  await new Promise((r) => setTimeout(r, 2000));
  rt.close();
  const items: ItemFigures[] = [];
  for (const done of log.events.filter(ofType('conversation.item.input_audio_transcription.completed'))) {
    const started = log.events.filter(ofType('input_audio_buffer.speech_started')).find((e) => e.item_id === done.item_id);
    const stopped = log.events.filter(ofType('input_audio_buffer.speech_stopped')).find((e) => e.item_id === done.item_id);
    if (started === undefined || stopped === undefined) continue;
    const deltas = log.events.filter(ofType('conversation.item.input_audio_transcription.delta')).filter((d) => d.item_id === done.item_id);
    const onset = started.audio_start_ms + TURN.prefix_padding_ms;
    const clipIndex = spansMs.findLastIndex((from) => from <= onset);
    items.push({
      clip: clips[clipIndex]?.id ?? '?',
      firstDeltaMs: deltas[0] === undefined ? undefined : deltas[0].at - sentWhen(onset),
      completedMs: done.at - sentWhen(stopped.audio_end_ms - TURN.prefix_padding_ms + TURN.silence_duration_ms),
      deltas: deltas.length,
      ...keptWords(deltas.map((d) => d.delta).join(''), done.transcript),
      transcript: done.transcript,
    });
  }
  return { items, errors: log.events.filter(ofType('error')).map((e) => `${e.error.code ?? e.error.type}: ${e.error.message}`) };
}

async function main(): Promise<void> {
  if (flags.help) {
    console.log('usage: npm run bench:realtime [-- --clips N]   (dev clips spread from shortest to longest; default 5)');
    return;
  }
  const { info, launch } = startBench('OpenAI Realtime (transcription)');
  const clips = spreadClips(benchCorpus().clips, positiveFlag('clips', flags.clips));
  console.log(`${CORPUS_CREDIT}\n${clips.length} clips (${clips.map((c) => `${c.id} ${fixed(c.durationSeconds, 1)} s`).join(', ')}), each followed by ${PAUSE_SECONDS} s of low noise`);
  console.log(`audio/pcm at 24 kHz, ${FRAME_MS} ms appends at real-time pace, turn_detection ${JSON.stringify(TURN)}`);
  const server = await startChildServer({ env: { ...IN_PROCESS_ONLY, ENGINES: 'pocketsphinx', ENGINE: 'pocketsphinx', IN_PROCESS_CONCURRENCY: '1' } });
  let result;
  try {
    // A short first session loads the VAD and warms the decoder, so no item pays first-call costs.
    await session(server.url, clips.slice(0, 1));
    const joined = await session(server.url, clips);
    const alone = { items: [] as ItemFigures[], errors: [] as string[] };
    for (const clip of clips) {
      const one = await session(server.url, [clip]);
      alone.items.push(...one.items);
      alone.errors.push(...one.errors);
    }
    result = { joined, alone };
  } finally {
    await server.stop();
  }
  const { joined, alone } = result;
  const errors = [...joined.errors, ...alone.errors];
  const figures = (items: readonly ItemFigures[]) => ({
    first: items.flatMap((i) => (i.firstDeltaMs === undefined ? [] : [i.firstDeltaMs])),
    completed: items.map((i) => i.completedMs),
    wer: wer(clips.map((c) => tally(c.transcript, items.filter((i) => i.clip === c.id).map((i) => i.transcript).join(' ')))),
  });
  const runs = { joined: figures(joined.items), alone: figures(alone.items) };
  for (const [title, items] of [['Per item, one session over all the clips', joined.items], ['Per item, each clip in a session of its own', alone.items]] as const) {
    heading(title);
    console.log(
      table(
        [{ header: 'clip', align: 'left' }, { header: 'first delta ms' }, { header: 'completed ms' }, { header: 'deltas' }, { header: 'contradicted', align: 'left' }, { header: 'transcript', align: 'left' }],
        items.map((i) => [i.clip, fixed(i.firstDeltaMs ?? NaN, 0), fixed(i.completedMs, 0), String(i.deltas), i.keptWords < i.sentWords ? 'yes' : '', i.transcript.slice(0, 60)]),
      ),
    );
  }
  const completed = [...runs.joined.completed, ...runs.alone.completed];
  const p = (values: readonly number[], q: number) => `${fixed(percentile(values, q), 0)} ms`;
  heading('Against the targets');
  console.log(
    table(
      [{ header: 'figure', align: 'left' }, { header: 'p50' }, { header: 'p95' }, { header: 'target', align: 'left' }, { header: 'verdict', align: 'left' }],
      [
        ['first delta after the onset of speech, one session', p(runs.joined.first, 50), p(runs.joined.first, 95), `< ${TARGET_FIRST_DELTA_MS} ms p95`, verdict(percentile(runs.joined.first, 95) < TARGET_FIRST_DELTA_MS)],
        ['first delta, each clip a session\'s first utterance', p(runs.alone.first, 50), p(runs.alone.first, 95), `< ${TARGET_FIRST_DELTA_MS} ms p95`, verdict(percentile(runs.alone.first, 95) < TARGET_FIRST_DELTA_MS)],
        ['completed after the pause that ends the turn', p(completed, 50), p(completed, 95), `< ${TARGET_COMPLETED_P95_MS} ms p95`, verdict(percentile(completed, 95) < TARGET_COMPLETED_P95_MS)],
        ['WER of the completed transcripts, one session', fixed(runs.joined.wer, 3), '', 'figure', '-'],
        ['WER, each clip a session of its own', fixed(runs.alone.wer, 3), '', 'figure', '-'],
      ],
    ),
  );
  const kept = (items: readonly ItemFigures[]) => {
    const sent = items.reduce((n, i) => n + i.sentWords, 0);
    const k = items.reduce((n, i) => n + i.keptWords, 0);
    return `${items.filter((i) => i.keptWords < i.sentWords).length} of ${items.length} items, ${k} of ${sent} delta words kept (${fixed((100 * k) / Math.max(1, sent), 1)}%)`;
  };
  console.log(`items: ${joined.items.length} and ${alone.items.length} for ${clips.length} clips; error events: ${errors.length === 0 ? 'none' : errors.join('; ')}`);
  console.log(`deltas \`completed\` contradicts: ${kept(joined.items)} in one session; ${kept(alone.items)} alone`);
  console.log(`load average (1/5/15 min) at the start: ${String(info['load_avg'])}, at the end: ${loadAverage()}`);
  writeResults('realtime', {
    machine: info,
    launch,
    corpus: { set: 'dev', clips: clips.map((c) => c.id) },
    settings: { rate: RATE, frame_ms: FRAME_MS, pause_seconds: PAUSE_SECONDS, turn_detection: TURN },
    targets: { first_delta_ms: TARGET_FIRST_DELTA_MS, completed_p95_ms: TARGET_COMPLETED_P95_MS },
    first_delta_ms: { p50: percentile(runs.joined.first, 50), p95: percentile(runs.joined.first, 95) },
    first_delta_alone_ms: { p50: percentile(runs.alone.first, 50), p95: percentile(runs.alone.first, 95) },
    completed_ms: { p50: percentile(completed, 50), p95: percentile(completed, 95) },
    wer: runs.joined.wer,
    wer_alone: runs.alone.wer,
    items: joined.items,
    items_alone: alone.items,
    errors,
  });
}

runBench('realtime', main);
