import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { joinWavs, wavData } from './support/audio.js';
import { devClips } from './support/corpus.js';
import { postAudio } from './support/http.js';
import { streamPcm } from './support/live-stream.js';
import { startTestServer, type TestServer } from './support/server.js';

/**
 * Issue 20, item 6: the decoder's settings are adopted only if the same audio
 * gives the same transcript on every call, whatever the decoder heard before,
 * in both isolation modes. One in-process engine and one worker that is never
 * recycled each decode the same files forward, then a live stream (which puts
 * the decoder's features in live mode), then the files in reverse, so every
 * file follows other audio the second time; words and their times must not move.
 */

/** Six speakers' clips (every seventh of the dev set), and three of them joined: a file of several utterances. */
const singles = devClips.filter((_, i) => i % 7 === 0).slice(0, 6);
const dir = mkdtempSync(join(tmpdir(), 'hark-determinism-'));
const joined = join(dir, 'joined.wav');
const files = [...singles.map((c) => c.path), joined];

interface Answer {
  text: string;
  isolation: string;
  words: { word: string; start: number; end: number }[];
  segments: { start: number; end: number; text: string }[];
}

beforeAll(() => joinWavs([singles[1]!.path, singles[3]!.path, singles[5]!.path], joined));
afterAll(async () => rm(dir, { recursive: true, force: true }));

describe('the decoder gives the same transcript whatever it decoded before', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ ENABLE_PROCESS_ISOLATED: 'true', WORKER_COUNT: '1', MAX_TASKS_PER_WORKER: '1000000' });
  });
  afterAll(async () => server?.stop());

  async function pass(route: string, order: readonly string[]): Promise<Map<string, Answer>> {
    const out = new Map<string, Answer>();
    for (const path of order) {
      const res = await postAudio(`${server.url}${route}`, path);
      expect(res.status, await res.clone().text()).toBe(200);
      out.set(path, (await res.json()) as Answer);
    }
    return out;
  }

  /** Streams a clip's PCM into `isolation`'s engine at about 5x real time and waits for the stream's end. */
  async function liveStream(isolation: string, pcm: Buffer): Promise<string[]> {
    const { messages } = await streamPcm(server.url, pcm, { query: `?isolation=${isolation}`, paceMs: 20 });
    return messages.map((m) => m.type);
  }

  const said = (a: Answer) => ({ text: a.text, words: a.words, segments: a.segments.map((s) => ({ start: s.start, end: s.end, text: s.text })) });

  it('forward, a live stream, then reverse, in-process and in one long-lived worker: every file, word for word and time for time', async () => {
    const spoken = wavData(singles[2]!.path);
    const inForward = await pass('/transcriptions/sync', files);
    expect(await liveStream('in-process', spoken)).toEqual(expect.arrayContaining(['ready', 'final', 'done']));
    const inReverse = await pass('/transcriptions/sync', [...files].reverse());
    const poolForward = await pass('/transcriptions/process-isolated', files);
    expect(await liveStream('process', spoken)).toEqual(expect.arrayContaining(['ready', 'final', 'done']));
    const poolReverse = await pass('/transcriptions/process-isolated', [...files].reverse());
    const runs = { inForward, inReverse, poolForward, poolReverse };
    expect(runs.inForward.get(joined)!.isolation).toBe('in-process');
    expect(runs.poolForward.get(joined)!.isolation).toBe('process');
    // One worker did all the pool's work (the files and the stream): each file followed other audio in the same decoder.
    const pool = (await (await fetch(`${server.url}/debug/pool`)).json()) as { workers: { tasks_done: number }[] };
    expect(pool.workers.map((w) => w.tasks_done)).toEqual([2 * files.length + 1]);

    for (const path of files) {
      const first = said(runs.inForward.get(path)!);
      expect(first.words.length, path).toBeGreaterThan(5);
      expect(said(runs.inReverse.get(path)!), `${path}, in-process, reverse order`).toEqual(first);
      expect(said(runs.poolForward.get(path)!), `${path}, worker, forward order`).toEqual(first);
      expect(said(runs.poolReverse.get(path)!), `${path}, worker, reverse order`).toEqual(first);
    }
  }, 180_000);
});
