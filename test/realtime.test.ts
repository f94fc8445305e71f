import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { wavData } from './support/audio.js';
import { waitFor } from './support/child-server.js';
import { clip } from './support/corpus.js';
import { tally, wer } from './support/eval/index.js';
import { createKeyWithCli } from './support/keys-cli.js';
import { streamPcm } from './support/live-stream.js';
import { appendPaced, ofType, pcmAt, realtimeClient, record, waitForEvent, type RealtimeLog, type Received } from './support/realtime.js';
import { startTestServer, type TestServer } from './support/server.js';

// OpenAI's Realtime API (transcription sessions) at GET /v1/realtime, driven by the official
// `openai` client's realtime WebSocket (openai/realtime/ws), as a voice-agent framework would.

const A = clip('1089-134686-0002'); // 6.6 s, one sentence
const B = clip('1089-134686-0004'); // 5.2 s
const second = (rate: number) => Buffer.alloc(rate * 2);

const transcription = (extra: Record<string, unknown> = {}) =>
  ({ type: 'transcription', audio: { input: { format: { type: 'audio/pcm', rate: 24000 }, transcription: { model: 'gpt-4o-transcribe', language: 'en' }, ...extra } } }) as const;

const completedOf = (log: RealtimeLog) => log.events.filter(ofType('conversation.item.input_audio_transcription.completed'));
const deltasOf = (log: RealtimeLog, itemId: string) =>
  log.events.filter(ofType('conversation.item.input_audio_transcription.delta')).filter((d) => d.item_id === itemId);
const errorsOf = (log: RealtimeLog) => log.events.filter(ofType('error'));
const index = (log: RealtimeLog, e: Received) => log.events.indexOf(e);

/** hark's own live stream (GET /v1/audio/stream) of the same clip: the finals a realtime session must match. */
async function harkStream(base: string, pcm16: Buffer): Promise<string> {
  const { messages } = await streamPcm(base, pcm16);
  return messages
    .filter((m) => m.type === 'final')
    .map((m) => m.text ?? '')
    .join(' ');
}

async function capacity(base: string): Promise<{ streams: { active: number } }> {
  return (await (await fetch(`${base}/api/v1/capacity`)).json()) as { streams: { active: number } };
}

describe('GET /v1/realtime, in-process', () => {
  let server: TestServer;
  beforeAll(async () => {
    // Two engines, one kept for files: one realtime session at a time holds an engine.
    server = await startTestServer({ MAX_STREAMS: '2', IN_PROCESS_CONCURRENCY: '2' });
  });
  afterAll(async () => server?.stop());

  it('server_vad at real-time pace: speech_started, deltas, speech_stopped, committed, then completed, as accurate as hark\'s own stream', async () => {
    const own = await harkStream(server.url, Buffer.concat([wavData(A.path), second(16_000)]));
    const rt = realtimeClient(server.url);
    const log = record(rt);
    await log.opened;
    rt.send({ type: 'session.update', session: transcription({ turn_detection: { type: 'server_vad', threshold: 0.5, prefix_padding_ms: 300, silence_duration_ms: 500 } }) });
    await appendPaced(rt, Buffer.concat([pcmAt(A.path, 24_000), second(24_000)]), 24_000, 100, 100);
    const completed = await waitForEvent(log, ofType('conversation.item.input_audio_transcription.completed'));
    rt.close();

    expect(log.events[0]).toMatchObject({ type: 'session.created', session: { type: 'transcription', audio: { input: { format: { type: 'audio/pcm', rate: 24000 } } } } });
    expect(log.events[1]).toMatchObject({
      type: 'session.updated',
      session: { audio: { input: { turn_detection: { type: 'server_vad', threshold: 0.5, prefix_padding_ms: 300, silence_duration_ms: 500 }, noise_reduction: null } } },
    });
    const started = log.events.find(ofType('input_audio_buffer.speech_started'))!;
    const stopped = log.events.find(ofType('input_audio_buffer.speech_stopped'))!;
    const committed = log.events.find(ofType('input_audio_buffer.committed'))!;
    for (const e of [started, stopped, committed]) expect(e.item_id).toBe(completed.item_id);
    expect(committed.previous_item_id).toBeNull();
    expect(started.audio_start_ms).toBeLessThan(1000);
    expect(stopped.audio_end_ms).toBeGreaterThan(A.durationSeconds * 1000 - 1000);
    expect(stopped.audio_end_ms).toBeLessThan(A.durationSeconds * 1000 + 1000);
    expect(index(log, started)).toBeLessThan(index(log, stopped));
    expect(index(log, stopped)).toBeLessThan(index(log, committed));
    expect(index(log, committed)).toBeLessThan(index(log, completed));
    // Partials: several deltas while the speaker is still talking, and together they are the transcript.
    const deltas = deltasOf(log, completed.item_id);
    expect(deltas.filter((d) => index(log, d) < index(log, stopped)).length).toBeGreaterThan(2);
    // Each delta adds whole words. A delta goes once a guess has held, and the final search (best
    // path) may still change a word sent (bench:realtime: in half to two thirds of the dev clips'
    // items, depending on timing); then `completed` alone has the rest. When it changed none, the
    // deltas are the transcript, word for word: the last of them comes with `completed`.
    for (const [i, d] of deltas.entries()) expect(d.delta).toMatch(i === 0 ? /^\S+( \S+)*$/ : /^( \S+)+$/);
    const said = deltas.map((d) => d.delta).join('');
    if (completed.transcript.startsWith(said)) expect(said).toBe(completed.transcript);
    expect(completed).toMatchObject({ content_index: 0, usage: { type: 'duration', seconds: expect.any(Number) } });
    expect(completed.logprobs).toBeUndefined();
    expect(errorsOf(log)).toEqual([]);
    expect(wer([tally(A.transcript, completed.transcript)])).toBeLessThanOrEqual(wer([tally(A.transcript, own)]) + 0.05);
    await waitFor(async () => (await capacity(server.url)).streams.active === 0);
  }, 30_000);

  it('turn_detection null: no speech events; a commit makes one item of everything appended, with logprobs when asked', async () => {
    const rt = realtimeClient(server.url);
    const log = record(rt);
    await log.opened;
    rt.send({ type: 'session.update', session: { ...transcription({ turn_detection: null }), include: ['item.input_audio_transcription.logprobs'] } });
    // Faster than real time (4x): with no VAD turns the pace only has to stay within STREAM_MAX_BUFFER_SIZE.
    await appendPaced(rt, pcmAt(A.path, 24_000), 24_000, 100, 25);
    rt.send({ type: 'input_audio_buffer.commit' });
    const completed = await waitForEvent(log, ofType('conversation.item.input_audio_transcription.completed'));
    expect(log.events.find(ofType('session.updated'))?.session).toMatchObject({ include: ['item.input_audio_transcription.logprobs'], audio: { input: { turn_detection: null } } });
    expect(log.events.some((e) => e.type === 'input_audio_buffer.speech_started' || e.type === 'input_audio_buffer.speech_stopped')).toBe(false);
    const committed = log.events.find(ofType('input_audio_buffer.committed'))!;
    expect(committed.item_id).toBe(completed.item_id);
    expect(index(log, committed)).toBeLessThan(index(log, completed));
    expect(wer([tally(A.transcript, completed.transcript)])).toBeLessThan(0.35);
    // One log probability per word, each a log of a probability.
    const words = completed.transcript.split(' ');
    expect(completed.logprobs?.map((l) => l.token.trim())).toEqual(words);
    for (const l of completed.logprobs ?? []) {
      expect(l.logprob).toBeLessThanOrEqual(0);
      expect(Buffer.from(l.bytes).toString('utf8')).toBe(l.token);
    }
    expect(completed.usage).toMatchObject({ type: 'duration', seconds: expect.closeTo(A.durationSeconds, 0) });
    // The buffer is empty again: a second commit is OpenAI's input_audio_buffer_commit_empty, and the session goes on.
    rt.send({ type: 'input_audio_buffer.commit', event_id: 'again' });
    const empty = await waitForEvent(log, ofType('error'));
    expect(empty.error).toMatchObject({ type: 'invalid_request_error', code: 'input_audio_buffer_commit_empty', event_id: 'again' });
    expect(rt.socket.readyState).toBe(WebSocket.OPEN);
    rt.close();
  }, 30_000);

  it('clear drops what was appended since the last commit; 16 kHz PCM is taken when the session says so (hark\'s extension)', async () => {
    const rt = realtimeClient(server.url);
    const log = record(rt);
    await log.opened;
    rt.send({ type: 'session.update', session: transcription({ turn_detection: null, format: { type: 'audio/pcm', rate: 16000 } }) });
    await appendPaced(rt, wavData(A.path), 16_000, 100, 25);
    rt.send({ type: 'input_audio_buffer.clear' });
    await waitForEvent(log, ofType('input_audio_buffer.cleared'));
    await appendPaced(rt, wavData(B.path), 16_000, 100, 25);
    rt.send({ type: 'input_audio_buffer.commit' });
    const completed = await waitForEvent(log, ofType('conversation.item.input_audio_transcription.completed'));
    rt.close();
    expect(log.events[1]).toMatchObject({ type: 'session.updated', session: { audio: { input: { format: { type: 'audio/pcm', rate: 16000 } } } } });
    expect(completedOf(log)).toHaveLength(1);
    expect(wer([tally(B.transcript, completed.transcript)])).toBeLessThan(0.35);
    // Nothing of the cleared clip: its words ("nightfall", "lamps", "squalid") are not in the transcript.
    expect(completed.transcript).not.toMatch(/nightfall|lamps|squalid/);
    expect(errorsOf(log)).toEqual([]);
  }, 30_000);

  it('answers a busy engine and a full server (MAX_STREAMS) as OpenAI would: an error event, then a close; places come back', async () => {
    const first = realtimeClient(server.url);
    const firstLog = record(first);
    await firstLog.opened;
    first.send({ type: 'session.update', session: transcription() });
    await waitForEvent(firstLog, ofType('session.updated'));
    // The one engine for streams is held: a second session is refused when it asks for one.
    const busy = realtimeClient(server.url);
    const busyLog = record(busy);
    await busyLog.opened;
    busy.send({ type: 'session.update', session: transcription() });
    expect((await busyLog.closed).code).toBe(1013);
    expect(errorsOf(busyLog).map((e) => e.error)).toEqual([expect.objectContaining({ type: 'server_error', code: 'AT_CAPACITY' })]);
    // Two sessions open (MAX_STREAMS=2): a third gets the error at once, before any session.created.
    const idle = realtimeClient(server.url);
    const idleLog = record(idle);
    await idleLog.opened;
    await waitForEvent(idleLog, ofType('session.created'));
    const third = realtimeClient(server.url);
    const thirdLog = record(third);
    await thirdLog.opened;
    expect((await thirdLog.closed).code).toBe(1013);
    expect(thirdLog.events.map((e) => e.type)).toEqual(['error']);
    expect(errorsOf(thirdLog)[0]?.error).toMatchObject({ type: 'server_error', code: 'AT_CAPACITY', message: expect.stringMatching(/MAX_STREAMS=2/) });
    first.close();
    idle.close();
    await waitFor(async () => (await capacity(server.url)).streams.active === 0);
  }, 30_000);
});

describe('GET /v1/realtime with API keys', () => {
  let server: TestServer;
  let transcribeKey: string;
  let jobsKey: string;
  beforeAll(async () => {
    server = await startTestServer({ AUTH_MODE: 'api_key' });
    [transcribeKey, jobsKey] = await Promise.all([createKeyWithCli(server.dataDir, 'agent', 'transcribe'), createKeyWithCli(server.dataDir, 'batch', 'jobs')]);
  }, 60_000);
  afterAll(async () => server?.stop());

  it('takes the key as OpenAI clients send it (Authorization: Bearer) and refuses the upgrade without one or without the transcribe scope', async () => {
    const ok = record(realtimeClient(server.url, transcribeKey));
    await ok.opened;
    await waitForEvent(ok, ofType('session.created'));
    await expect(record(realtimeClient(server.url, 'not-a-key')).opened).rejects.toMatchObject({ status: 401 });
    await expect(record(realtimeClient(server.url, jobsKey)).opened).rejects.toMatchObject({ status: 403 });
  }, 30_000);
});

describe('GET /v1/realtime in a worker process', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ ENABLE_PROCESS_ISOLATED: 'true', DEFAULT_ISOLATION: 'process', WORKER_COUNT: '1', ENABLE_DEBUG_ENDPOINTS: 'true' });
  }, 60_000);
  afterAll(async () => server?.stop());

  it('transcribes in the worker; a worker killed -9 ends the session with an error event (close 1011), the server stays up and the next session works', async () => {
    const rt = realtimeClient(server.url);
    const log = record(rt);
    await log.opened;
    rt.send({ type: 'session.update', session: transcription({ turn_detection: { type: 'server_vad' } }) });
    await appendPaced(rt, Buffer.concat([pcmAt(A.path, 24_000), second(24_000)]), 24_000, 100, 50);
    const completed = await waitForEvent(log, ofType('conversation.item.input_audio_transcription.completed'));
    expect(wer([tally(A.transcript, completed.transcript)])).toBeLessThan(0.35);
    const pool = (await (await fetch(`${server.url}/debug/pool`)).json()) as { workers: { pid: number; state: string }[] };
    const busy = pool.workers.find((w) => w.state === 'busy');
    expect(busy).toBeDefined();
    process.kill(busy!.pid, 'SIGKILL');
    // The client keeps talking: nothing it sends may reach a dead worker or hang the session.
    void appendPaced(rt, pcmAt(B.path, 24_000), 24_000, 100, 20);
    expect((await log.closed).code).toBe(1011);
    expect(errorsOf(log).map((e) => e.error)).toEqual([expect.objectContaining({ type: 'server_error', code: 'WORKER_CRASHED' })]);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    await waitFor(async () => (await capacity(server.url)).streams.active === 0);
    await waitFor(async () => (await fetch(`${server.url}/readyz`)).status === 200, 20_000);

    const again = realtimeClient(server.url);
    const againLog = record(again);
    await againLog.opened;
    again.send({ type: 'session.update', session: transcription({ turn_detection: null }) });
    await appendPaced(again, pcmAt(B.path, 24_000), 24_000, 100, 20);
    again.send({ type: 'input_audio_buffer.commit' });
    const next = await waitForEvent(againLog, ofType('conversation.item.input_audio_transcription.completed'), 20_000);
    expect(wer([tally(B.transcript, next.transcript)])).toBeLessThan(0.35);
    again.close();
  }, 60_000);
});
