import type { SpeechEvent, SpeechSegmenter, VoiceDetector } from '../vad/index.js';
import { SAMPLE_RATE } from './decode.js';
import type { Endpointer, EndpointEvent } from './endpointer.js';
import { concatPcm } from './pcm.js';

/**
 * What a live stream's endpointer makes of its audio: the utterances
 * (`start`, `audio`, `end`) with the speech events among them, in stream
 * order. A `speech_started` comes before the `start` it opens, a
 * `speech_stopped` before the `end` it causes.
 */
export type LiveEndpointEvent = EndpointEvent | SpeechEvent;

/**
 * An endpointer as a live stream drives it: one call at a time, in order
 * (each may wait for a model); `flush` ends the stream.
 */
export interface LiveEndpointer {
  push(pcm: Int16Array): Promise<LiveEndpointEvent[]>;
  flush(): Promise<LiveEndpointEvent[]>;
}

/** The VAD a {@link VadEndpointer} runs on: a detector and a segmenter over its windows, both fresh for the stream. */
export interface VadParts {
  detector: VoiceDetector;
  segmenter: Pick<SpeechSegmenter, 'push' | 'flush'>;
}

export interface VadEndpointerOptions {
  /** Longest utterance; cut there even in the middle of speech (UTTERANCE_MAX_SECONDS). */
  utteranceMaxSeconds: number;
  /**
   * Audio kept from before the onset of speech: the decoder wants a little
   * lead-in (VAD_SPEECH_PAD_MS; the segmenter's `speech_started` is already
   * this much before the onset).
   */
  preRollSeconds: number;
  /**
   * How far back a `speech_started` may point when it comes (the segmenter
   * waits for its minimum speech first): audio this old is kept while nobody
   * speaks.
   */
  lookbackSeconds: number;
  /** Speech probability at which a window counts as speech (VAD_THRESHOLD): after a cut at the maximum, the next utterance opens on it. */
  threshold: number;
}

interface Window {
  /** Stream sample of its first sample. */
  start: number;
  pcm: Int16Array;
}

/**
 * Endpointing of a live 16 kHz stream on a VAD: each window of the detector
 * (512 samples with Silero) gets a speech probability, the segmenter turns
 * them into speech starts and stops (hysteresis, minimum speech, and its
 * minimum silence, which is the stream's STREAM_SILENCE_SECONDS), and those
 * open and close utterances: the same {@link EndpointEvent}s as the energy
 * {@link Endpointer}, so an engine stream takes either. An utterance's audio
 * runs from the pre-roll before the onset to the window that confirms the
 * pause, the pause included (the decoder ends words better with it). Audio
 * the VAD never takes for speech is dropped: noise alone opens no utterance.
 * At most one window of audio waits for its probability; nothing else is
 * held back.
 */
export class VadEndpointer implements LiveEndpointer {
  private readonly maxSamples: number;
  private readonly preRollSamples: number;
  private parts: VadParts | undefined;
  /** Calls run one after another, whatever the caller does. */
  private queue: Promise<unknown> = Promise.resolve();
  /** Samples given to the detector whose window is not complete yet (fewer than one window). */
  private tail = new Int16Array(0);
  /** Samples of complete windows: the stream clock. */
  private samples = 0;
  /** Idle: the last windows, in case speech has started in them. */
  private ring: Window[] = [];
  private inUtterance = false;
  private utteranceSamples = 0;
  /** Utterance audio not yet handed out as an `audio` event. */
  private out: Int16Array[] = [];
  /**
   * The segmenter's speech region outlived an utterance cut at the maximum
   * (no `speech_stopped` yet, so no new `speech_started` will come): the next
   * window over the threshold opens the next utterance.
   */
  private regionOpen = false;

  constructor(
    private readonly vad: Promise<VadParts>,
    private readonly options: VadEndpointerOptions,
  ) {
    this.maxSamples = Math.max(1, Math.round(options.utteranceMaxSeconds * SAMPLE_RATE));
    this.preRollSamples = Math.round(options.preRollSeconds * SAMPLE_RATE);
    // A model that fails to load fails the first call that needs it, not the process.
    vad.catch(() => undefined);
  }

  /** Takes the next samples; returns what they complete, in order. */
  push(pcm: Int16Array): Promise<LiveEndpointEvent[]> {
    return this.serial(async (parts) => {
      const all = new Int16Array(this.tail.length + pcm.length);
      all.set(this.tail, 0);
      all.set(pcm, this.tail.length);
      const probs = await parts.detector.probabilities(pcm);
      const w = parts.detector.windowSamples;
      const events: LiveEndpointEvent[] = [];
      for (let i = 0; i < probs.length; i++) this.window(parts, all.subarray(i * w, (i + 1) * w), probs[i]!, events);
      this.tail = all.slice(probs.length * w);
      this.drain(events);
      return events;
    });
  }

  /** The stream is over: ends the speech and the utterance still open, with the last incomplete window. */
  flush(): Promise<LiveEndpointEvent[]> {
    return this.serial((parts) => {
      const events: LiveEndpointEvent[] = [];
      for (const ev of parts.segmenter.flush(this.samples + this.tail.length)) {
        events.push(ev);
        if (ev.type === 'speech_started' && !this.inUtterance) this.begin(ev.time, events);
      }
      if (this.inUtterance) {
        if (this.tail.length > 0) this.out.push(this.tail);
        this.samples += this.tail.length;
        this.tail = new Int16Array(0);
        this.finish('flush', events);
      }
      return Promise.resolve(events);
    });
  }

  private serial<T>(step: (parts: VadParts) => Promise<T>): Promise<T> {
    const run = this.queue.then(async () => step((this.parts ??= await this.vad)));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private window(parts: VadParts, pcm: Int16Array, prob: number, events: LiveEndpointEvent[]): void {
    // Cut before a window that would take the utterance past the maximum; the speech goes on in the next one.
    if (this.inUtterance && this.utteranceSamples + pcm.length > this.maxSamples) {
      this.finish('max', events);
      this.regionOpen = true;
    }
    const start = this.samples;
    this.samples += pcm.length;
    if (this.inUtterance) {
      this.out.push(pcm);
      this.utteranceSamples += pcm.length;
    } else {
      this.ring.push({ start, pcm });
      const keep = Math.ceil((this.options.lookbackSeconds * SAMPLE_RATE) / pcm.length) + 1;
      if (this.ring.length > keep) this.ring.shift();
    }
    for (const ev of parts.segmenter.push(Float32Array.of(prob))) {
      events.push(ev);
      if (ev.type === 'speech_started') {
        if (!this.inUtterance) this.begin(ev.time, events);
      } else {
        this.regionOpen = false;
        if (this.inUtterance) this.finish('silence', events);
      }
    }
    if (!this.inUtterance && this.regionOpen && prob >= this.options.threshold) this.begin((start - this.preRollSamples) / SAMPLE_RATE, events);
  }

  /** Opens an utterance at `time` (seconds, pre-roll included), or as far back as the idle windows reach. */
  private begin(time: number, events: LiveEndpointEvent[]): void {
    const from = Math.round(time * SAMPLE_RATE);
    let first = this.ring.findIndex((w) => w.start + w.pcm.length > from);
    if (first < 0) first = this.ring.length - 1;
    const kept = this.ring.slice(Math.max(0, first));
    this.ring = [];
    this.inUtterance = true;
    this.regionOpen = false;
    this.out = kept.map((w) => w.pcm);
    this.utteranceSamples = kept.reduce((n, w) => n + w.pcm.length, 0);
    events.push({ type: 'start', time: round((kept[0]?.start ?? this.samples) / SAMPLE_RATE) });
  }

  private finish(reason: 'silence' | 'max' | 'flush', events: LiveEndpointEvent[]): void {
    this.drain(events);
    events.push({ type: 'end', time: round(this.samples / SAMPLE_RATE), reason });
    this.inUtterance = false;
    this.utteranceSamples = 0;
  }

  private drain(events: LiveEndpointEvent[]): void {
    if (this.out.length === 0) return;
    events.push({ type: 'audio', pcm: concatPcm(this.out) });
    this.out = [];
  }
}

/**
 * The energy {@link Endpointer} as a {@link LiveEndpointer} (VAD=energy or
 * off): its utterances are the speech events, `speech_started` at an
 * utterance's first sample (pre-roll included) and `speech_stopped` where its
 * trailing pause began (at its end when cut at the maximum or by the end of
 * the stream).
 */
export function energyLiveEndpointer(endpointer: Endpointer, silenceSeconds: number): LiveEndpointer {
  const withSpeech = (events: readonly EndpointEvent[]): LiveEndpointEvent[] =>
    events.flatMap((ev): LiveEndpointEvent[] => {
      if (ev.type === 'start') return [{ type: 'speech_started', time: ev.time }, ev];
      if (ev.type === 'end') return [{ type: 'speech_stopped', time: round(ev.reason === 'silence' ? ev.time - silenceSeconds : ev.time) }, ev];
      return [ev];
    });
  return {
    push: (pcm) => Promise.resolve(withSpeech(endpointer.push(pcm))),
    flush: () => Promise.resolve(withSpeech(endpointer.flush())),
  };
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
