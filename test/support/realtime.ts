import { execFileSync } from 'node:child_process';
import net from 'node:net';
import OpenAI from 'openai';
import type { RealtimeServerEvent } from 'openai/resources/realtime/realtime';
import { OpenAIRealtimeWS } from 'openai/realtime/ws';

/**
 * The official `openai` realtime WebSocket client pointed at a hark on plain
 * HTTP. The SDK always dials wss:// (it sets the URL's protocol itself), so
 * the connection is made with `net.connect` instead of TLS: everything above
 * the socket is the SDK's own.
 */
export function realtimeClient(baseUrl: string, apiKey = 'not-needed', model = 'gpt-4o-transcribe'): OpenAIRealtimeWS {
  const client = new OpenAI({ baseURL: `${baseUrl}/v1`, apiKey, maxRetries: 0 });
  return new OpenAIRealtimeWS({ model, options: { createConnection: (options: net.NetConnectOpts) => net.connect(options) } as object }, client);
}

/** A server event as received, with its arrival time (performance.now()). */
export type Received = RealtimeServerEvent & { at: number };

/** Every event the client receives (errors included), in order, and how the socket closed. */
export interface RealtimeLog {
  events: Received[];
  closed: Promise<{ code: number; reason: string }>;
  opened: Promise<void>;
}

export function record(rt: OpenAIRealtimeWS): RealtimeLog {
  const events: Received[] = [];
  rt.on('event', (e) => events.push({ ...e, at: performance.now() }));
  // Bound so that error events are not unhandled rejections; they are in `events` too.
  rt.on('error', () => undefined);
  const closed = new Promise<{ code: number; reason: string }>((resolve) => rt.socket.once('close', (code, reason) => resolve({ code, reason: String(reason) })));
  const opened = new Promise<void>((resolve, reject) => {
    rt.socket.once('open', () => resolve());
    rt.socket.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode })));
    rt.socket.once('error', reject);
  });
  return { events, closed, opened };
}

/** A WAV as 16-bit mono PCM at `rate`, resampled by ffmpeg (not by hark's resampler, which is under test). */
export function pcmAt(path: string, rate: number): Buffer {
  return execFileSync('ffmpeg', ['-loglevel', 'error', '-i', path, '-ar', String(rate), '-ac', '1', '-f', 's16le', '-']);
}

/** Sends `pcm` in appends of `frameMs`, one every `paceMs` (real time: paceMs = frameMs); resolves after the last. */
export async function appendPaced(rt: OpenAIRealtimeWS, pcm: Buffer, rate: number, frameMs: number, paceMs: number): Promise<number[]> {
  const bytes = (rate * 2 * frameMs) / 1000;
  const sentAt: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i * bytes < pcm.length; i++) {
    const wait = t0 + i * paceMs - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    if (rt.socket.readyState !== rt.socket.OPEN) break;
    rt.send({ type: 'input_audio_buffer.append', audio: pcm.subarray(i * bytes, (i + 1) * bytes).toString('base64') });
    sentAt.push(performance.now());
  }
  return sentAt;
}

/** Resolves with the first event (after index `from`) that `match` accepts; rejects after `ms`. */
export async function waitForEvent<T extends Received>(log: RealtimeLog, match: (e: Received) => e is T, ms = 10_000, from = 0): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const found = log.events.slice(from).find(match);
    if (found !== undefined) return found;
    if (Date.now() > until) throw new Error(`no matching event in ${ms} ms; got ${log.events.map((e) => e.type).join(', ')}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A type guard for one event type. */
export function ofType<K extends Received['type']>(type: K): (e: Received) => e is Extract<Received, { type: K }> {
  return (e): e is Extract<Received, { type: K }> => e.type === type;
}
