import { describe, expect, it } from 'vitest';
import { wavData } from '../../test/support/audio.js';
import { clip } from '../../test/support/corpus.js';
import { liveEndpointer } from '../engines/stream.js';
import type { SpeechEvent, VadSettings } from '../vad/index.js';
import type { LiveEndpointEvent } from './vad-endpointer.js';

const RATE = 16_000;
const SILERO: VadSettings = { kind: 'silero', threshold: 0.5, minSilenceMs: 1000, speechPadMs: 400, minSpeechMs: 250 };

function samples(id: string): Int16Array {
  const data = wavData(clip(id).path);
  return new Int16Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.length));
}

interface Utterance {
  start: number;
  end: number;
  reason: string;
  pcm: Int16Array;
}

interface Run {
  utterances: Utterance[];
  speech: SpeechEvent[];
}

/** Feeds `pcm` in chunks of the sizes in `chunks` (cycled), then flushes; checks the events' grammar on the way. */
async function run(pcm: Int16Array, chunks: readonly number[], options: { silenceSeconds: number; utteranceMaxSeconds: number }): Promise<Run> {
  const ep = liveEndpointer({ ...options, vad: SILERO });
  const events: LiveEndpointEvent[] = [];
  for (let at = 0, i = 0; at < pcm.length; i++) {
    const n = chunks[i % chunks.length]!;
    events.push(...(await ep.push(pcm.subarray(at, at + n))));
    at += n;
  }
  events.push(...(await ep.flush()));
  const out: Run = { utterances: [], speech: [] };
  let open: { start: number; parts: Int16Array[] } | undefined;
  for (const ev of events) {
    if (ev.type === 'speech_started' || ev.type === 'speech_stopped') {
      out.speech.push(ev as SpeechEvent);
    } else if (ev.type === 'start') {
      expect(open).toBeUndefined();
      open = { start: ev.time, parts: [] };
    } else if (ev.type === 'audio') {
      open!.parts.push(ev.pcm);
    } else if (ev.type === 'end') {
      const joined = new Int16Array(open!.parts.reduce((n, p) => n + p.length, 0));
      let at = 0;
      for (const p of open!.parts) {
        joined.set(p, at);
        at += p.length;
      }
      out.utterances.push({ start: open!.start, end: ev.time, reason: ev.reason, pcm: joined });
      open = undefined;
    }
  }
  expect(open).toBeUndefined();
  return out;
}

describe('VadEndpointer (Silero)', () => {
  const a = samples('1089-134686-0001');
  const b = samples('1089-134686-0032');
  /** The clips, 2 s of digital silence between them and 1 s after. */
  const joined = new Int16Array(a.length + 2 * RATE + b.length + RATE);
  joined.set(a, 0);
  joined.set(b, a.length + 2 * RATE);

  it('cuts at the pause, hands out exactly the stream\'s samples of each utterance, and does not depend on chunk sizes', async () => {
    const even = await run(joined, [1600], { silenceSeconds: 0.5, utteranceMaxSeconds: 30 });
    const odd = await run(joined, [7, 1000, 4096, 333], { silenceSeconds: 0.5, utteranceMaxSeconds: 30 });
    expect(odd.speech).toEqual(even.speech);
    expect(odd.utterances).toEqual(even.utterances);

    expect(even.utterances.map((u) => u.reason)).toEqual(['silence', 'silence']);
    expect(even.speech.map((e) => e.type)).toEqual(['speech_started', 'speech_stopped', 'speech_started', 'speech_stopped']);
    const [first, second] = even.utterances as [Utterance, Utterance];
    expect(first.end).toBeLessThan(a.length / RATE + 1);
    expect(second.start).toBeGreaterThan(a.length / RATE);
    for (const u of even.utterances) {
      // The utterance's audio is the stream's, from its start to its end, nothing dropped or repeated.
      expect(u.pcm.length).toBe(Math.round((u.end - u.start) * RATE));
      expect(u.pcm).toEqual(joined.subarray(Math.round(u.start * RATE), Math.round(u.end * RATE)));
    }
    // The pre-roll: each utterance starts at its speech_started (VAD_SPEECH_PAD_MS before the onset), to the window.
    expect(first.start).toBeCloseTo(even.speech[0]!.time, 1);
    expect(second.start).toBeCloseTo(even.speech[2]!.time, 1);
  });

  it('cuts speech longer than UTTERANCE_MAX_SECONDS there without a speech event, and goes on with the next window of speech', async () => {
    const long = samples('1089-134686-0000'); // 10.4 s of continuous reading
    const r = await run(long, [1600], { silenceSeconds: 0.5, utteranceMaxSeconds: 3 });
    expect(r.utterances.length).toBeGreaterThanOrEqual(3);
    for (const u of r.utterances) expect(u.end - u.start).toBeLessThanOrEqual(3);
    expect(r.utterances.slice(0, -1).every((u) => u.reason === 'max' || u.reason === 'silence')).toBe(true);
    expect(r.utterances.some((u) => u.reason === 'max')).toBe(true);
    // After a cut, the next utterance starts no later than the next speech and keeps the audio in between (no gap over the pre-roll).
    for (let i = 1; i < r.utterances.length; i++) {
      if (r.utterances[i - 1]!.reason === 'max') expect(r.utterances[i]!.start - r.utterances[i - 1]!.end).toBeLessThan(1);
    }
    // One stretch of speech: one speech_started; speech_stopped once the reading stops.
    expect(r.speech.filter((e) => e.type === 'speech_started').length).toBeLessThanOrEqual(r.utterances.filter((u) => u.reason !== 'max').length);
  });

  it('ends speech that is still going when the stream ends: speech_stopped, then the utterance with its last partial window', async () => {
    const cut = a.subarray(0, Math.round(1.5 * RATE) + 100); // mid-word, not a whole window
    const r = await run(cut, [1600], { silenceSeconds: 0.5, utteranceMaxSeconds: 30 });
    expect(r.speech).toEqual([
      { type: 'speech_started', time: expect.any(Number) },
      { type: 'speech_stopped', time: cut.length / RATE },
    ]);
    expect(r.utterances).toHaveLength(1);
    expect(r.utterances[0]).toMatchObject({ reason: 'flush', end: Math.round((cut.length / RATE) * 1000) / 1000 });
    expect(r.utterances[0]!.pcm.at(-1)).toBe(cut.at(-1));
  });
});
