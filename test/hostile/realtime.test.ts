import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { waitFor } from '../support/child-server.js';
import { startTestServer, type TestServer } from '../support/server.js';

/*
 * What a client can throw at GET /v1/realtime (OpenAI's Realtime protocol):
 * each bad event is answered by an `error` event in OpenAI's shape, and the
 * session goes on (the next session.update is still answered). Raw `ws`, so
 * the frames are exactly as written (no SDK fixes them up).
 */

interface Event {
  type: string;
  error?: { type: string; code: string | null; message: string; param: string | null; event_id: string | null };
  session?: Record<string, unknown>;
}

let server: TestServer;

beforeAll(async () => {
  // A small buffer, so the cap on one append is cheap to reach.
  server = await startTestServer({ STREAM_MAX_BUFFER_SIZE: '64000', MAX_STREAMS: '4' });
});
afterAll(async () => server?.stop());

interface Session {
  ws: WebSocket;
  events: Event[];
  closed: Promise<number>;
  /** Sends a frame and resolves with the next event of `type` after it. */
  ask(frame: string | Buffer, type: string): Promise<Event>;
}

async function open(): Promise<Session> {
  const ws = new WebSocket(`${server.url.replace('http', 'ws')}/v1/realtime?model=gpt-4o-transcribe`);
  const events: Event[] = [];
  ws.on('message', (data) => events.push(JSON.parse(String(data)) as Event));
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  await waitFor(async () => events.length > 0);
  return {
    ws,
    events,
    closed,
    async ask(frame, type) {
      const from = events.length;
      ws.send(frame);
      let found: Event | undefined;
      await waitFor(async () => (found = events.slice(from).find((e) => e.type === type)) !== undefined);
      return found!;
    },
  };
}

const update = (session: Record<string, unknown>) => JSON.stringify({ type: 'session.update', session: { type: 'transcription', ...session } });
const append = (audio: string, eventId?: string) => JSON.stringify({ type: 'input_audio_buffer.append', audio, ...(eventId === undefined ? {} : { event_id: eventId }) });
const input = (fields: Record<string, unknown>) => ({ audio: { input: fields } });

/** Closes the session and waits until the server has given its place (and engine) back. */
async function done(s: Session): Promise<void> {
  s.ws.close();
  await s.closed;
  await waitFor(async () => ((await (await fetch(`${server.url}/api/v1/capacity`)).json()) as { streams: { active: number } }).streams.active === 0);
}

/** The session still answers: it was neither closed nor left hanging. */
async function stillServes(s: Session): Promise<void> {
  expect((await s.ask(update({}), 'session.updated')).type).toBe('session.updated');
  expect(s.ws.readyState).toBe(WebSocket.OPEN);
}

describe('bad client events on /v1/realtime', () => {
  it.each([
    ['invalid JSON', '{"type": "session.update", ', 'invalid_json', null],
    ['a JSON value that is not an object', '[1,2]', 'invalid_type', null],
    ['an event without a type', JSON.stringify({ audio: 'AAAA' }), 'missing_required_parameter', 'type'],
    ['an unknown event type', JSON.stringify({ type: 'input_audio_buffer.flush' }), 'invalid_value', 'type'],
    ['a conversation event (response.create)', JSON.stringify({ type: 'response.create' }), 'invalid_value', 'type'],
    ['bad base64', append('@@not base64@@', 'evt_1'), 'invalid_value', 'audio'],
    ['an append without audio', JSON.stringify({ type: 'input_audio_buffer.append' }), 'missing_required_parameter', 'audio'],
    ['an unknown field on an event', JSON.stringify({ type: 'input_audio_buffer.clear', flush: true }), 'unknown_parameter', 'flush'],
    ['a conversation session', JSON.stringify({ type: 'session.update', session: { type: 'realtime', instructions: 'hi' } }), 'invalid_value', 'session.type'],
    ['a session without a type', JSON.stringify({ type: 'session.update', session: {} }), 'missing_required_parameter', 'session.type'],
    ['an unknown session field', update({ voice: 'alloy' }), 'unknown_parameter', 'session.voice'],
    ['an unsupported format (G.711 mu-law)', update(input({ format: { type: 'audio/pcmu' } })), 'invalid_value', 'session.audio.input.format.type'],
    ['a wrong sample rate', update(input({ format: { type: 'audio/pcm', rate: 44100 } })), 'invalid_value', 'session.audio.input.format.rate'],
    ['semantic_vad', update(input({ turn_detection: { type: 'semantic_vad' } })), 'invalid_value', 'session.audio.input.turn_detection.type'],
    ['a VAD threshold out of hark\'s bounds', update(input({ turn_detection: { type: 'server_vad', threshold: 0.99 } })), 'invalid_value', 'session.audio.input.turn_detection.threshold'],
    ['an unknown transcription model', update(input({ transcription: { model: 'vosk' } })), 'invalid_value', 'session.audio.input.transcription.model'],
  ])('%s: an error event, the session goes on', async (_what, frame, code, param) => {
    const s = await open();
    const err = await s.ask(frame, 'error');
    expect(err.error).toMatchObject({ type: 'invalid_request_error', code, param });
    expect(err.error?.message.length).toBeGreaterThan(10);
    if (frame.includes('evt_1')) expect(err.error?.event_id).toBe('evt_1');
    await stillServes(s);
    await done(s);
  });

  it('a binary frame: an error event that says how audio is sent', async () => {
    const s = await open();
    const err = await s.ask(Buffer.alloc(3200), 'error');
    expect(err.error).toMatchObject({ code: 'invalid_value', message: expect.stringMatching(/base64 in input_audio_buffer\.append/) });
    await stillServes(s);
    await done(s);
  });

  it('commit with nothing (or under 100 ms) appended: OpenAI\'s input_audio_buffer_commit_empty', async () => {
    const s = await open();
    expect((await s.ask(JSON.stringify({ type: 'input_audio_buffer.commit' }), 'error')).error).toMatchObject({ code: 'input_audio_buffer_commit_empty' });
    // 50 ms at 24 kHz.
    s.ws.send(append(Buffer.alloc(2400).toString('base64')));
    const err = await s.ask(JSON.stringify({ type: 'input_audio_buffer.commit' }), 'error');
    expect(err.error).toMatchObject({ code: 'input_audio_buffer_commit_empty', message: expect.stringMatching(/only has 50\.00ms/) });
    await stillServes(s);
    await done(s);
  });

  it('an append larger than STREAM_MAX_BUFFER_SIZE of 16 kHz audio is refused alone; smaller appends and a commit still work', async () => {
    const s = await open();
    // 64000 bytes at 16 kHz is 96000 bytes at 24 kHz; one more sample is too many.
    const err = await s.ask(append(Buffer.alloc(96_002).toString('base64')), 'error');
    expect(err.error).toMatchObject({ code: 'invalid_value', param: 'audio', message: expect.stringMatching(/STREAM_MAX_BUFFER_SIZE/) });
    s.ws.send(update(input({ turn_detection: null })));
    for (let i = 0; i < 5; i++) s.ws.send(append(Buffer.alloc(4800).toString('base64')));
    const completed = await s.ask(JSON.stringify({ type: 'input_audio_buffer.commit' }), 'conversation.item.input_audio_transcription.completed');
    expect(completed).toMatchObject({ transcript: '' });
    await done(s);
  });

  it('an append with an odd number of bytes keeps the half sample for the next one', async () => {
    const s = await open();
    s.ws.send(update(input({ turn_detection: null })));
    // 150 ms, then 101 appends of 3 bytes: 151 samples if every odd byte waits for the next, 101 if they were dropped.
    s.ws.send(append(Buffer.alloc(7200).toString('base64')));
    for (let i = 0; i < 101; i++) s.ws.send(append(Buffer.alloc(3).toString('base64')));
    const completed = await s.ask(JSON.stringify({ type: 'input_audio_buffer.commit' }), 'conversation.item.input_audio_transcription.completed');
    expect(completed).toMatchObject({ usage: { type: 'duration', seconds: 0.156 } });
    await done(s);
  });

  it('noise_reduction is taken, reported as null and warned about: an error event of type warning after session.updated', async () => {
    const s = await open();
    const updated = await s.ask(update(input({ noise_reduction: { type: 'near_field' } })), 'session.updated');
    expect(updated.session).toMatchObject({ audio: { input: { noise_reduction: null } } });
    await waitFor(async () => s.events.some((e) => e.type === 'error'));
    expect(s.events.find((e) => e.type === 'error')?.error).toMatchObject({ type: 'warning', code: 'parameter_ignored', param: 'session.audio.input.noise_reduction' });
    await stillServes(s);
    await done(s);
  });

  it('a flood of bad events neither closes nor stalls the session, and every session gives its place back', async () => {
    const s = await open();
    for (let i = 0; i < 200; i++) s.ws.send(i % 2 === 0 ? '{' : append('%%%'));
    await waitFor(async () => s.events.filter((e) => e.type === 'error').length === 200);
    await stillServes(s);
    await done(s);
  });
});
