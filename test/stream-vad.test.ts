import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { tally } from './support/eval/index.js';
import { wavData } from './support/audio.js';
import { clip } from './support/corpus.js';
import { startTestServer, type TestServer } from './support/server.js';
import { concatPcm } from '../src/audio/index.js';
import { seededRandom } from './support/chaos-faults.js';

/**
 * Live streams end utterances on the VAD (issue 20 item 3): real PocketSphinx
 * behind a real server, real speech with noise between, streamed as PCM over
 * the WebSocket in both isolation modes.
 */

interface Msg {
  type: string;
  text?: string;
  time?: number;
  start?: number;
  end?: number;
  code?: string;
}

const RATE = 16_000;
/** 100 ms frames, sent at four times real time: endpointing runs on audio time, and the test stays short. */
const FRAME_SAMPLES = 1600;
const PACE_MS = 25;
const GAP_SECONDS = 2;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function samples(id: string): Int16Array {
  const data = wavData(clip(id).path);
  return new Int16Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.length));
}

/** Steady Gaussian noise of standard deviation `sigma` (30: about the LibriSpeech clips' own background). */
function noise(seconds: number, sigma: number, random: () => number): Int16Array {
  const out = new Int16Array(Math.round(seconds * RATE));
  for (let i = 0; i < out.length; i++) out[i] = Math.round(sigma * Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random()));
  return out;
}

/** Streams `pcm` as binary frames after the config, then `end`; every message until the close. */
async function stream(base: string, pcm: Int16Array, isolation: 'in-process' | 'process', config: Record<string, unknown> = {}): Promise<Msg[]> {
  const ws = new WebSocket(`${base.replace('http', 'ws')}/v1/audio/stream?isolation=${isolation}`);
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const messages: Msg[] = [];
  ws.on('message', (data) => messages.push(JSON.parse(String(data)) as Msg));
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  ws.send(JSON.stringify({ sample_rate: RATE, encoding: 'pcm_s16le', ...config }));
  const bytes = Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength);
  for (let at = 0; at < bytes.length && ws.readyState === WebSocket.OPEN; at += FRAME_SAMPLES * 2) {
    ws.send(bytes.subarray(at, at + FRAME_SAMPLES * 2));
    await sleep(PACE_MS);
  }
  ws.send(JSON.stringify({ type: 'end' }));
  expect(await closed).toBe(1000);
  expect(messages.at(-1)).toMatchObject({ type: 'done' });
  return messages;
}

const first = clip('1089-134686-0001'); // "stuff it into you his belly counselled him", 3.3 s
const second = clip('1089-134686-0032'); // "he is called as you know the apostle of the indies", 4.1 s
const a = samples(first.id);
const b = samples(second.id);
/** The two clips with 2 s of low noise between them and 1 s after. */
const twoClips = concatPcm([a, noise(GAP_SECONDS, 30, seededRandom(1)), b, noise(1, 30, seededRandom(2))]);
const gapStart = a.length / RATE;
const gapEnd = gapStart + GAP_SECONDS;
/**
 * Noise without speech whose level steps up by 26 dB for 2 s and back down,
 * like a fan or traffic starting: loud enough that an energy threshold takes it
 * for speech.
 */
const noiseOnly = concatPcm([noise(1, 30, seededRandom(3)), noise(2, 600, seededRandom(4)), noise(1, 30, seededRandom(5))]);

const errorsOf = (reference: string, text: string) => {
  const t = tally(reference, text);
  return t.errors / t.words;
};

describe.each(['in-process', 'process'] as const)('live streams on the VAD (VAD=silero, %s)', (isolation) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ ENABLE_PROCESS_ISOLATED: String(isolation === 'process'), WORKER_COUNT: '1', MAX_STREAMS: '1', VAD: 'silero' });
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
  });

  it('ends one utterance per clip at the noisy pause: two finals with their words, speech_started/speech_stopped around each, in order', async () => {
    const messages = await stream(server.url, twoClips, isolation);
    expect(messages[0]).toMatchObject({ type: 'ready', isolation });
    const events = messages.filter((m) => m.type === 'speech_started' || m.type === 'speech_stopped' || m.type === 'final');
    expect(events.map((m) => m.type)).toEqual(['speech_started', 'speech_stopped', 'final', 'speech_started', 'speech_stopped', 'final']);
    const [start1, stop1, final1, start2, stop2, final2] = events as [Msg, Msg, Msg, Msg, Msg, Msg];

    // Audio times (seconds from the stream's start), padded by VAD_SPEECH_PAD_MS (0.4 s) around the speech.
    expect(start1.time).toBeGreaterThanOrEqual(0);
    expect(start1.time).toBeLessThan(final1.start!);
    expect(stop1.time).toBeGreaterThan(final1.end!);
    expect(stop1.time).toBeLessThan(gapStart + 0.6);
    expect(start2.time).toBeGreaterThan(gapEnd - 0.6);
    expect(start2.time).toBeLessThan(final2.start!);
    expect(stop2.time).toBeGreaterThan(final2.end!);
    expect(stop2.time).toBeLessThanOrEqual(twoClips.length / RATE);
    // Each final holds its clip's words, and no word from the pause.
    expect(final1.end).toBeLessThan(gapStart + 0.1);
    expect(final2.start).toBeGreaterThan(gapEnd - 0.1);
    expect(errorsOf(first.transcript, final1.text!)).toBeLessThan(0.4);
    expect(errorsOf(second.transcript, final2.text!)).toBeLessThan(0.4);
  });

  it('opens no utterance on noise alone: no speech_started, no final', async () => {
    const messages = await stream(server.url, noiseOnly, isolation);
    expect(messages.map((m) => m.type)).toEqual(['ready', 'done']);
  });
});

describe('VAD=energy keeps the energy endpointer', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ MAX_STREAMS: '1', VAD: 'energy' });
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
  });

  it('cuts the clips at the pause as before, and takes the step in the noise for speech (which silero does not)', async () => {
    const finals = (await stream(server.url, twoClips, 'in-process')).filter((m) => m.type === 'final');
    expect(finals.length).toBeGreaterThanOrEqual(2);
    expect(finals.filter((f) => f.start! < gapEnd && f.end! > gapStart)).toEqual([]);
    expect(errorsOf(`${first.transcript} ${second.transcript}`, finals.map((f) => f.text).join(' '))).toBeLessThan(0.4);

    const noisy = await stream(server.url, noiseOnly, 'in-process');
    expect(noisy.find((m) => m.type === 'speech_started')).toMatchObject({ time: expect.closeTo(1, 0) });
  });

  it('takes the VAD from the stream\'s config: {"vad":"silero"} hears no speech in the same noise; a threshold out of bounds is refused', async () => {
    const noisy = await stream(server.url, noiseOnly, 'in-process', { vad: 'silero', vad_threshold: 0.6, vad_min_silence_ms: 500 });
    expect(noisy.map((m) => m.type)).toEqual(['ready', 'done']);

    const ws = new WebSocket(`${server.url.replace('http', 'ws')}/v1/audio/stream`);
    const messages: Msg[] = [];
    ws.on('message', (data) => messages.push(JSON.parse(String(data)) as Msg));
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    ws.once('open', () => ws.send(JSON.stringify({ vad_threshold: 2 })));
    expect(await closed).toBe(1008);
    expect(messages).toEqual([{ type: 'error', code: 'INVALID_REQUEST', message: expect.stringContaining('vad_threshold') }]);
  });
});
