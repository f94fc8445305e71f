import type { VoiceDetector } from './types.js';

/** The same window as Silero's, so both detectors go through the same region logic. */
const WINDOW = 512;
/**
 * The endpointer's levels (src/audio/endpointer.ts), which years of live streams
 * tuned: speech starts this far above the noise floor...
 */
const ONSET_DB = 12;
/** ...and, once started, holds while this far above it. */
const HOLD_DB = 8;
const INITIAL_FLOOR_CAP_DB = 45;
const DEFAULT_FLOOR_DB = 30;
const DIGITAL_SILENCE_DB = 3;
/** The endpointer's per-10 ms floor rates, restated per 32 ms window so the floor moves as fast in time. */
const FRAMES_PER_WINDOW = WINDOW / 160;
const perWindow = (rate: number): number => 1 - (1 - rate) ** FRAMES_PER_WINDOW;
const FALL_RATE = perWindow(0.3);
const RISE_RATE = perWindow(0.02);
const RISE_RATE_IN_SPEECH = perWindow(0.0015);
/**
 * dB above the floor become a probability on a line through ONSET_DB -> 0.5 and
 * HOLD_DB -> 0.35: with the default threshold (0.5) and Silero's hysteresis
 * (threshold - 0.15) the regions start and hold where the endpointer's would.
 */
const SLOPE = 0.15 / (ONSET_DB - HOLD_DB);

/** Log energy (dB) of samples [from, to), as `frameEnergies` in src/audio/pcm.ts computes it. */
function energyDb(samples: Int16Array, from: number, to: number): number {
  let sum = 0;
  for (let i = from; i < to; i++) {
    const s = samples[i]!;
    sum += s * s;
  }
  return 10 * Math.log10(sum / Math.max(1, to - from) + 1);
}

/**
 * A speech probability from energy alone: log energy against a noise floor that
 * adapts as the audio goes (down at once, up slowly, more slowly still during
 * speech). The baseline `VAD=energy` and the bench compare Silero with; it hears
 * any loud noise as speech.
 */
export class EnergyDetector implements VoiceDetector {
  readonly kind = 'energy' as const;
  readonly windowSamples = WINDOW;
  private floor: number | undefined;
  private speaking = false;
  private partial = new Int16Array(WINDOW);
  private partialLength = 0;

  probabilities(pcm: Int16Array): Promise<Float32Array> {
    return Promise.resolve(this.windows(pcm));
  }

  reset(): void {
    this.floor = undefined;
    this.speaking = false;
    this.partialLength = 0;
  }

  private windows(pcm: Int16Array): Float32Array {
    const out = new Float32Array(Math.floor((this.partialLength + pcm.length) / WINDOW));
    let at = 0;
    let w = 0;
    if (this.partialLength > 0 && out.length > 0) {
      at = WINDOW - this.partialLength;
      this.partial.set(pcm.subarray(0, at), this.partialLength);
      this.partialLength = 0;
      out[w++] = this.window(energyDb(this.partial, 0, WINDOW));
    }
    for (; w < out.length; w++, at += WINDOW) out[w] = this.window(energyDb(pcm, at, at + WINDOW));
    if (at < pcm.length) {
      this.partial.set(pcm.subarray(at), this.partialLength);
      this.partialLength += pcm.length - at;
    }
    return out;
  }

  private window(e: number): number {
    const floor = this.floor ?? DEFAULT_FLOOR_DB;
    const above = e - floor;
    this.speaking = above > (this.speaking ? HOLD_DB : ONSET_DB);
    if (e >= DIGITAL_SILENCE_DB) {
      if (this.floor === undefined) this.floor = Math.min(e, INITIAL_FLOOR_CAP_DB);
      else this.floor += (e < this.floor ? FALL_RATE : this.speaking ? RISE_RATE_IN_SPEECH : RISE_RATE) * (e - this.floor);
    }
    // Digital silence is never speech, whatever the floor.
    if (e < DIGITAL_SILENCE_DB) return 0;
    return Math.min(1, Math.max(0, 0.5 + (above - ONSET_DB) * SLOPE));
  }
}
