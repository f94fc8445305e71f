import { SAMPLE_RATE } from './decode.js';
import { concatPcm, FRAME_SAMPLES } from './pcm.js';

export interface EndpointerOptions {
  /** A pause this long after speech ends the utterance (STREAM_SILENCE_SECONDS). */
  silenceSeconds: number;
  /** Longest utterance; cut there even without a pause (UTTERANCE_MAX_SECONDS). */
  utteranceMaxSeconds: number;
  /**
   * Audio kept from before the detected onset of speech. Soft word starts lie
   * under the threshold, and PocketSphinx decodes better with some silence
   * before the first word.
   */
  preRollSeconds?: number;
}

/**
 * What the endpointer makes of the audio: utterances as `start`, then their
 * samples as `audio` (pre-roll and trailing pause included), then `end`.
 * Audio outside utterances is dropped. Times are seconds from the start of the
 * stream.
 */
export type EndpointEvent =
  | { type: 'start'; time: number }
  | { type: 'audio'; pcm: Int16Array }
  | { type: 'end'; time: number; reason: 'silence' | 'max' | 'flush' };

const FRAME_SECONDS = FRAME_SAMPLES / SAMPLE_RATE;
/** Frames this far above the noise floor may be speech (start of an utterance)... */
const ONSET_DB = 12;
/** ...when this many follow each other (a click is shorter). */
const ONSET_FRAMES = 3;
/** Inside an utterance, frames this far above the floor still count as speech (hysteresis). */
const HOLD_DB = 8;
/**
 * The floor starts at the first frame that is not digital silence, but no
 * higher than this: a stream that opens mid-word still finds its speech.
 */
const INITIAL_FLOOR_CAP_DB = 45;
/** Floor assumed while only digital silence has arrived. */
const DEFAULT_FLOOR_DB = 30;
/** All-zero (or ±1) frames, e.g. from a muted or just-opened microphone: they say nothing about the room. */
const DIGITAL_SILENCE_DB = 3;
/** Per-frame tracking rates: down fast, up slowly, and more slowly still during speech. */
const FALL_RATE = 0.3;
const RISE_RATE = 0.02;
const RISE_RATE_IN_SPEECH = 0.0015;

/** Log energy (dB) of samples [from, to), as `frameEnergies` in pcm.ts computes it. */
function energyDb(pcm: Int16Array, from: number, to: number): number {
  let sum = 0;
  for (let i = from; i < to; i++) {
    const s = pcm[i] ?? 0;
    sum += s * s;
  }
  return 10 * Math.log10(sum / Math.max(1, to - from) + 1);
}

/**
 * Energy-based endpointing of a live 16 kHz stream on 10 ms frames: speech is
 * energy well above a noise floor that adapts as the stream goes (down at once,
 * up slowly), so a quiet room and a noisy one both work without a setting. An
 * utterance ends after `silenceSeconds` of non-speech or at
 * `utteranceMaxSeconds`. Feed it with `push` in any chunk sizes; `flush` ends
 * the stream.
 */
export class Endpointer {
  private readonly silenceFrames: number;
  private readonly maxFrames: number;
  private readonly recentFrames: number;
  private floor: number | undefined;
  /** Samples of a frame not yet complete. */
  private partial = new Int16Array(FRAME_SAMPLES);
  private partialLength = 0;
  /** Samples consumed as whole frames: the stream clock. */
  private samples = 0;
  /** Idle: the last frames, in case speech starts. */
  private recent: Int16Array[] = [];
  private onsetRun = 0;
  /** In an utterance (its frames so far, and the trailing run of non-speech). */
  private inUtterance = false;
  private utteranceFrames = 0;
  private silentRun = 0;
  /** Utterance audio not yet handed out as an `audio` event. */
  private out: Int16Array[] = [];

  constructor(options: EndpointerOptions) {
    const fps = 1 / FRAME_SECONDS;
    this.silenceFrames = Math.max(1, Math.round(options.silenceSeconds * fps));
    this.maxFrames = Math.max(1, Math.round(options.utteranceMaxSeconds * fps));
    // The onset frames themselves are kept too: pre-roll is what comes before them.
    this.recentFrames = Math.round((options.preRollSeconds ?? 0.3) * fps) + ONSET_FRAMES;
  }

  /** Seconds of audio consumed so far. */
  get time(): number {
    return (this.samples + this.partialLength) / SAMPLE_RATE;
  }

  /** Takes the next samples; returns what they complete, in order. */
  push(pcm: Int16Array): EndpointEvent[] {
    const events: EndpointEvent[] = [];
    let at = 0;
    if (this.partialLength > 0) {
      const take = Math.min(FRAME_SAMPLES - this.partialLength, pcm.length);
      this.partial.set(pcm.subarray(0, take), this.partialLength);
      this.partialLength += take;
      at = take;
      if (this.partialLength === FRAME_SAMPLES) {
        this.partialLength = 0;
        this.frame(this.partial.slice(), events);
      }
    }
    for (; at + FRAME_SAMPLES <= pcm.length; at += FRAME_SAMPLES) this.frame(pcm.slice(at, at + FRAME_SAMPLES), events);
    if (at < pcm.length) {
      this.partial.set(pcm.subarray(at), 0);
      this.partialLength = pcm.length - at;
    }
    this.drain(events);
    return events;
  }

  /** The stream is over: ends the open utterance, with any incomplete last frame. */
  flush(): EndpointEvent[] {
    const events: EndpointEvent[] = [];
    if (this.inUtterance) {
      if (this.partialLength > 0) this.out.push(this.partial.slice(0, this.partialLength));
      this.samples += this.partialLength;
      this.partialLength = 0;
      this.finish('flush', events);
    }
    return events;
  }

  private frame(frame: Int16Array, events: EndpointEvent[]): void {
    const e = energyDb(frame, 0, frame.length);
    const floor = this.floor ?? DEFAULT_FLOOR_DB;
    this.samples += frame.length;
    if (!this.inUtterance) {
      this.recent.push(frame);
      if (this.recent.length > this.recentFrames) this.recent.shift();
      this.onsetRun = e > floor + ONSET_DB ? this.onsetRun + 1 : 0;
      this.track(e);
      if (this.onsetRun >= ONSET_FRAMES) {
        this.inUtterance = true;
        this.utteranceFrames = this.recent.length;
        this.silentRun = 0;
        this.onsetRun = 0;
        events.push({ type: 'start', time: round((this.samples - this.recent.length * FRAME_SAMPLES) / SAMPLE_RATE) });
        this.out = this.recent;
        this.recent = [];
      }
      return;
    }
    this.out.push(frame);
    this.utteranceFrames++;
    this.silentRun = e > floor + HOLD_DB ? 0 : this.silentRun + 1;
    this.track(e);
    if (this.silentRun >= this.silenceFrames) this.finish('silence', events);
    // A cut mid-speech: the frames after it start the next utterance as soon as they are loud.
    else if (this.utteranceFrames >= this.maxFrames) this.finish('max', events);
  }

  private track(e: number): void {
    if (e < DIGITAL_SILENCE_DB) return;
    if (this.floor === undefined) {
      this.floor = Math.min(e, INITIAL_FLOOR_CAP_DB);
      return;
    }
    const rate = e < this.floor ? FALL_RATE : this.inUtterance ? RISE_RATE_IN_SPEECH : RISE_RATE;
    this.floor += rate * (e - this.floor);
  }

  private finish(reason: 'silence' | 'max' | 'flush', events: EndpointEvent[]): void {
    this.drain(events);
    events.push({ type: 'end', time: round(this.samples / SAMPLE_RATE), reason });
    this.inUtterance = false;
    this.utteranceFrames = 0;
    this.silentRun = 0;
  }

  private drain(events: EndpointEvent[]): void {
    if (this.out.length === 0) return;
    events.push({ type: 'audio', pcm: concatPcm(this.out) });
    this.out = [];
  }
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
