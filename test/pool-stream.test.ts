import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { concatPcm, type PcmAudio } from '../src/audio/index.js';
import { loadConfig } from '../src/config/index.js';
import type { EngineStream, StreamFinal } from '../src/engines/index.js';
import { tally, wer } from './support/eval/index.js';
import { PoolExecutor } from '../src/executors/index.js';
import { createLogger } from '../src/logger.js';
import { WorkerPool } from '../src/pool/index.js';
import { wavData } from './support/audio.js';
import { alive, waitFor } from './support/child-server.js';
import { clip } from './support/corpus.js';

const long = clip('1089-134686-0000'); // 10.4 s
const short = clip('1089-134686-0001'); // 3.3 s
/** Three sentences with a pause of 0.8 s after each: a stream of them ends three utterances. */
const sentences = [short, clip('1089-134686-0002'), clip('1089-134686-0004')];
const CHUNK_SAMPLES = 1600; // 100 ms

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Whether `p` settles within `ms`. */
async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let settled = false;
  void p.then(
    () => (settled = true),
    () => (settled = true),
  );
  await sleep(ms);
  return settled;
}

function samples(path: string): Int16Array {
  const data = wavData(path);
  const out = new Int16Array(data.length / 2);
  data.copy(Buffer.from(out.buffer));
  return out;
}

function withPauses(paths: readonly string[]): Int16Array {
  const pause = new Int16Array(12_800);
  return concatPcm(paths.flatMap((p) => [samples(p), pause]));
}

function chunks(pcm: Int16Array): Int16Array[] {
  const out: Int16Array[] = [];
  for (let off = 0; off < pcm.length; off += CHUNK_SAMPLES) out.push(pcm.subarray(off, off + CHUNK_SAMPLES));
  return out;
}

interface Opened {
  stream: EngineStream;
  finals: StreamFinal[];
  partials: string[];
  /** The partial that stood each time the worker said it held after more audio. */
  held: string[];
  errors: Error[];
}

let dir: string;
let pool: WorkerPool;
let executor: PoolExecutor;
let shortAudio: PcmAudio;

async function open(signal?: AbortSignal): Promise<Opened> {
  const opened: Omit<Opened, 'stream'> = { finals: [], partials: [], held: [], errors: [] };
  const stream = await executor.openStream(
    'pocketsphinx',
    { language: 'en', silenceSeconds: 0.5, utteranceMaxSeconds: 30 },
    {
      onPartial: (text) => opened.partials.push(text),
      onPartialHeld: () => opened.held.push(opened.partials.at(-1) ?? ''),
      onFinal: (final) => opened.finals.push(final),
      onError: (err) => opened.errors.push(err),
    },
    signal,
  );
  return { stream, ...opened };
}

function pcmFile(source: string | Int16Array): PcmAudio {
  const data = typeof source === 'string' ? wavData(source) : Buffer.from(source.buffer, source.byteOffset, source.byteLength);
  const out = join(dir, `${Math.random().toString(36).slice(2)}.pcm`);
  writeFileSync(out, data);
  return { path: out, samples: data.length / 2, durationSeconds: data.length / 32_000 };
}

function runShort() {
  return executor.run({ id: `task-${Math.random()}`, audio: shortAudio, engine: 'pocketsphinx', options: { language: 'en' } });
}

function workerPid(): number {
  const pid = pool.snapshot().workers.find((w) => w.state !== 'dead')?.pid;
  if (pid === undefined) throw new Error('no live worker');
  return pid;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hark-pool-stream-'));
  const config = loadConfig({ env: { WORKER_COUNT: '1', DATA_DIR: dir, ENGINES: 'pocketsphinx', LOG_LEVEL: 'silent' } });
  pool = new WorkerPool({ config, logger: createLogger('silent') });
  executor = new PoolExecutor(pool);
  await executor.start();
  expect(pool.snapshot().readyWorkers).toBe(1);
  shortAudio = pcmFile(short.path);
}, 60_000);

afterAll(async () => {
  await executor.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('live streams in the worker pool', () => {
  it('streams a clip in 100 ms chunks: finals in time order, text close to the file transcription', async () => {
    const audio = withPauses(sentences.map((c) => c.path));
    const file = await executor.run({ id: 'file', audio: pcmFile(audio), engine: 'pocketsphinx', options: { language: 'en' } });
    const s = await open();
    for (const c of chunks(audio)) await s.stream.write(c);
    await s.stream.end();

    expect(s.errors).toEqual([]);
    expect(s.finals.length).toBeGreaterThanOrEqual(3);
    // Each pause ends an utterance: no final spans one.
    let t = 0;
    for (const c of sentences) {
      t += samples(c.path).length / 16_000;
      const pause = { start: t, end: t + 0.8 };
      expect(s.finals.filter((f) => f.start < pause.start && f.end > pause.end)).toEqual([]);
      t = pause.end;
    }
    for (let i = 0; i < s.finals.length; i++) {
      const f = s.finals[i]!;
      expect(f.end).toBeGreaterThan(f.start);
      expect(f.end).toBeLessThanOrEqual(audio.length / 16_000);
      if (i > 0) expect(f.start).toBeGreaterThanOrEqual(s.finals[i - 1]!.end);
    }
    const streamed = s.finals.map((f) => f.text).join(' ');
    expect(wer([tally(file.transcript.text, streamed)])).toBeLessThan(0.3);
    expect(wer([tally(sentences.map((c) => c.transcript).join(' '), streamed)])).toBeLessThan(0.5);
    expect(s.partials.length).toBeGreaterThan(0);
    // A guess that holds while more audio is searched is said too (the Realtime API's deltas weigh it).
    expect(s.held.length).toBeGreaterThan(0);
    expect(s.held.filter((t) => t === '')).toEqual([]);
    // The stream was decoded in the worker, and the worker is free again.
    expect(pool.snapshot().workers[0]).toMatchObject({ pid: file.pid, state: 'idle', currentTask: undefined });
  });

  it('resolves write() only once the worker has decoded the chunk (backpressure)', async () => {
    const s = await open();
    const pid = workerPid();
    process.kill(pid, 'SIGSTOP'); // the worker cannot answer
    try {
      const pending = s.stream.write(chunks(samples(short.path))[0]!);
      expect(await settlesWithin(pending, 500)).toBe(false);
      process.kill(pid, 'SIGCONT');
      await pending;
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    await s.stream.end();
    expect(workerPid()).toBe(pid);
  });

  it('holds the worker for the whole stream: a task waits behind it, then runs on the same worker', async () => {
    const s = await open();
    const pid = workerPid();
    expect(pool.snapshot().workers[0]).toMatchObject({ state: 'busy', currentTask: expect.objectContaining({ id: expect.any(String) }) });
    const task = runShort();
    expect(await settlesWithin(task, 800)).toBe(false);
    expect(pool.snapshot().waitingTasks).toBe(1);
    for (const c of chunks(samples(short.path))) await s.stream.write(c);
    expect(await settlesWithin(task, 200)).toBe(false); // still streaming: the client has not ended
    await s.stream.end();
    const result = await task;
    expect(result.pid).toBe(pid);
    expect(result.transcript.text.length).toBeGreaterThan(0);
  });

  it('ends a stream whose worker is killed -9 with WORKER_CRASHED; the slot respawns and serves the next task', async () => {
    const crashedBefore = pool.snapshot().totals.crashed;
    const s = await open();
    const pid = workerPid();
    const audio = chunks(samples(long.path));
    for (const c of audio.slice(0, 20)) await s.stream.write(c);
    process.kill(pid, 'SIGSTOP'); // so the next write is certainly still pending when the worker dies
    const pending = s.stream.write(audio[20]!);
    process.kill(pid, 'SIGKILL');
    await expect(pending).rejects.toMatchObject({ code: 'WORKER_CRASHED' });
    await waitFor(() => s.errors.length > 0);
    expect(s.errors).toHaveLength(1);
    expect(s.errors[0]).toMatchObject({ code: 'WORKER_CRASHED' });
    expect(s.errors[0]!.message).toContain('SIGKILL');
    await expect(s.stream.write(audio[21]!)).rejects.toMatchObject({ code: 'WORKER_CRASHED' });
    await expect(s.stream.end()).rejects.toMatchObject({ code: 'WORKER_CRASHED' });

    const next = await runShort();
    expect(next.pid).not.toBe(pid);
    expect(next.transcript.text.length).toBeGreaterThan(0);
    expect(pool.snapshot().totals.crashed).toBe(crashedBefore + 1);
  });

  it('abort() resets the worker\'s engine without killing it; the worker takes the next task', async () => {
    const s = await open();
    const pid = workerPid();
    for (const c of chunks(samples(long.path)).slice(0, 30)) await s.stream.write(c);
    const finalsBefore = s.finals.length;
    const started = performance.now();
    await s.stream.abort();
    expect(performance.now() - started).toBeLessThan(1500); // answered, not killed after the grace
    expect(alive(pid)).toBe(true);
    await sleep(300);
    expect(s.finals.length).toBe(finalsBefore); // nothing more after an abort
    expect(s.errors).toEqual([]);
    const next = await runShort();
    expect(next.pid).toBe(pid);
  });

  it('aborts through the signal too, also while the stream waits for a worker', async () => {
    const first = new AbortController();
    const s = await open(first.signal);
    const pid = workerPid();
    const second = new AbortController();
    const queued = open(second.signal);
    expect(await settlesWithin(queued, 300)).toBe(false);
    second.abort(); // gave up waiting
    await expect(queued).rejects.toMatchObject({ code: 'REQUEST_ABORTED' });
    await s.stream.write(chunks(samples(short.path))[0]!);
    first.abort();
    await waitFor(() => pool.snapshot().workers[0]?.state === 'idle');
    expect((await runShort()).pid).toBe(pid);
  });

  it('kills a worker that does not answer an abort within about 2 s, and respawns the slot', async () => {
    const { recycled: { cancel: cancelledBefore }, crashed: crashedBefore } = pool.snapshot().totals;
    const s = await open();
    const pid = workerPid();
    process.kill(pid, 'SIGSTOP');
    const started = performance.now();
    await s.stream.abort();
    const waited = performance.now() - started;
    expect(waited).toBeGreaterThan(1500);
    expect(waited).toBeLessThan(5000);
    await waitFor(() => !alive(pid));
    expect(s.errors).toEqual([]); // the caller asked for the end: no crash reported
    const next = await runShort();
    expect(next.pid).not.toBe(pid);
    expect(pool.snapshot().totals.recycled.cancel).toBe(cancelledBefore + 1);
    expect(pool.snapshot().totals.crashed).toBe(crashedBefore); // killed for the abort: not a crash
  });
});
