import { SAMPLE_RATE } from '../audio/decode.js';
import type { SpeechRegion, VadSettings } from './types.js';

/** Speech onset or end on a live stream, in seconds from the stream's start. */
export interface SpeechEvent {
  type: 'speech_started' | 'speech_stopped';
  time: number;
}

/** Silero's hysteresis: once speech has started, it ends only below this much under the threshold. */
const HYSTERESIS = 0.15;

/** The settings in samples, as get_speech_timestamps computes them. */
interface SampleSettings {
  threshold: number;
  negThreshold: number;
  minSpeech: number;
  minSilence: number;
  pad: number;
}

function inSamples(settings: VadSettings): SampleSettings {
  return {
    threshold: settings.threshold,
    negThreshold: Math.max(settings.threshold - HYSTERESIS, 0.01),
    minSpeech: (SAMPLE_RATE * settings.minSpeechMs) / 1000,
    minSilence: (SAMPLE_RATE * settings.minSilenceMs) / 1000,
    pad: Math.floor((SAMPLE_RATE * settings.speechPadMs) / 1000),
  };
}

/**
 * The trigger of Silero's `get_speech_timestamps` (utils_vad.py, v5), one window
 * at a time: speech starts at a window >= threshold; a window under
 * threshold - 0.15 marks a possible end, which a window >= threshold cancels
 * (windows in between neither cancel nor confirm it); the end is confirmed once
 * `minSilence` samples have passed since it. Unpadded, in samples. The
 * reference's `max_speech_duration_s` is left out: planUtterances splits long
 * regions itself, and a live stream is cut by its own utterance limit.
 */
class Trigger {
  triggered = false;
  /** Where the current speech started. */
  start = 0;
  /** Where the current speech may have ended, or -1. */
  tempEnd = -1;
  /** Windows seen. */
  windows = 0;

  constructor(
    private readonly s: SampleSettings,
    private readonly windowSamples: number,
  ) {}

  /** Takes the next window; returns a speech stretch whose end it confirms (shorter than minSpeech included). */
  step(p: number): { start: number; end: number } | undefined {
    const at = this.windowSamples * this.windows++;
    if (p >= this.s.threshold && this.tempEnd >= 0) this.tempEnd = -1;
    if (p >= this.s.threshold && !this.triggered) {
      this.triggered = true;
      this.start = at;
      return undefined;
    }
    if (p < this.s.negThreshold && this.triggered) {
      if (this.tempEnd < 0) this.tempEnd = at;
      if (at - this.tempEnd < this.s.minSilence) return undefined;
      const done = { start: this.start, end: this.tempEnd };
      this.triggered = false;
      this.tempEnd = -1;
      return done;
    }
    return undefined;
  }
}

/**
 * Speech regions in `probs` (one probability per window of `windowSamples`, the
 * audio `totalSamples` long), with the semantics of Silero's
 * `get_speech_timestamps`: hysteresis, speech of at most `minSpeechMs` dropped,
 * pauses shorter than `minSilenceMs` kept inside a region, `speechPadMs` added
 * on each side, and where two regions' pads would overlap the pause between them
 * split at its middle. In seconds, sorted, not overlapping, within [0, total].
 */
export function speechRegions(probs: Float32Array, windowSamples: number, settings: VadSettings, totalSamples: number): SpeechRegion[] {
  const s = inSamples(settings);
  const trigger = new Trigger(s, windowSamples);
  const speeches: { start: number; end: number }[] = [];
  for (const p of probs) {
    const done = trigger.step(p);
    if (done !== undefined && done.end - done.start > s.minSpeech) speeches.push(done);
  }
  // Speech still going at the end of the audio runs to its end.
  if (trigger.triggered && totalSamples - trigger.start > s.minSpeech) speeches.push({ start: trigger.start, end: totalSamples });

  for (const [i, speech] of speeches.entries()) {
    if (i === 0) speech.start = Math.max(0, speech.start - s.pad);
    const next = speeches[i + 1];
    if (next === undefined) {
      speech.end = Math.min(totalSamples, speech.end + s.pad);
      continue;
    }
    const silence = next.start - speech.end;
    if (silence < 2 * s.pad) {
      speech.end += Math.floor(silence / 2);
      next.start = Math.max(0, next.start - Math.floor(silence / 2));
    } else {
      speech.end = Math.min(totalSamples, speech.end + s.pad);
      next.start = Math.max(0, next.start - s.pad);
    }
  }
  return speeches.map((r) => ({ start: r.start / SAMPLE_RATE, end: r.end / SAMPLE_RATE }));
}

/**
 * {@link speechRegions} incrementally, for a live stream: feed the detector's
 * probabilities as they come, get `speech_started` and `speech_stopped` events.
 * `speech_started` comes once the speech is sure to outlast `minSpeechMs` (a
 * cough or a click never starts anything), with the region's padded start;
 * `speech_stopped` comes once `minSilenceMs` of non-speech has followed, with
 * the padded end. Whenever `minSilenceMs >= 2 * speechPadMs` (the defaults) the
 * events are exactly speechRegions' regions on the same probabilities. With
 * shorter pauses than that the pads of two regions could overlap; an end once
 * announced stays, so the next start is moved to it instead of both meeting
 * halfway, and no end lies beyond the audio received so far.
 */
export class SpeechSegmenter {
  private readonly s: SampleSettings;
  private readonly trigger: Trigger;
  /** The current speech has been announced with `speech_started`. */
  private announced = false;
  /** The previous region: its unpadded end and its announced (padded) end, in samples; -1 before the first. */
  private prevEnd = -1;
  private prevStopped = 0;

  constructor(
    settings: VadSettings,
    private readonly windowSamples: number,
  ) {
    this.s = inSamples(settings);
    this.trigger = new Trigger(this.s, windowSamples);
  }

  /** Between a `speech_started` and its `speech_stopped`. */
  get speaking(): boolean {
    return this.announced;
  }

  /** Takes the probabilities of the next windows; returns the events they complete, in order. */
  push(probs: Float32Array): SpeechEvent[] {
    const events: SpeechEvent[] = [];
    for (const p of probs) {
      const done = this.trigger.step(p);
      const now = this.windowSamples * this.trigger.windows;
      if (done !== undefined) {
        if (!this.announced && done.end - done.start > this.s.minSpeech) this.announce(done.start, events);
        if (this.announced) this.stop(done.end, Math.min(now, done.end + this.s.pad), events);
      } else if (this.trigger.triggered && !this.announced) {
        // The speech ends no earlier than its pending end, or than the next window if none is pending.
        const endAtLeast = this.trigger.tempEnd >= 0 ? this.trigger.tempEnd : now;
        if (endAtLeast - this.trigger.start > this.s.minSpeech) this.announce(this.trigger.start, events);
      }
    }
    return events;
  }

  /**
   * The stream is over: speech still going ends at its end, `totalSamples` (by
   * default the windows pushed; pass the real length to count a last partial
   * window). The segmenter is then spent.
   */
  flush(totalSamples = this.windowSamples * this.trigger.windows): SpeechEvent[] {
    const events: SpeechEvent[] = [];
    if (this.trigger.triggered) {
      if (!this.announced && totalSamples - this.trigger.start > this.s.minSpeech) this.announce(this.trigger.start, events);
      if (this.announced) this.stop(totalSamples, totalSamples, events);
      this.trigger.triggered = false;
    }
    return events;
  }

  private announce(start: number, events: SpeechEvent[]): void {
    let padded: number;
    if (this.prevEnd < 0) padded = Math.max(0, start - this.s.pad);
    else {
      const silence = start - this.prevEnd;
      padded = silence < 2 * this.s.pad ? start - Math.floor(silence / 2) : start - this.s.pad;
      padded = Math.max(padded, this.prevStopped);
    }
    this.announced = true;
    events.push({ type: 'speech_started', time: padded / SAMPLE_RATE });
  }

  private stop(end: number, stopped: number, events: SpeechEvent[]): void {
    this.announced = false;
    this.prevEnd = end;
    this.prevStopped = stopped;
    events.push({ type: 'speech_stopped', time: stopped / SAMPLE_RATE });
  }
}
