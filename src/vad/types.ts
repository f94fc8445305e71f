import type { Config } from '../config/index.js';
import { VAD_KINDS } from '../config/index.js';

export { VAD_KINDS };
export type VadKind = (typeof VAD_KINDS)[number];

/**
 * How speech is told from non-speech for one request: the server's VAD_*
 * settings with the request's overrides applied (hark's `vad*` fields, OpenAI's
 * `chunking_strategy`). Plain data: it crosses to a worker with the task.
 */
export interface VadSettings {
  kind: VadKind;
  /** Speech starts at this probability and ends below `threshold - 0.15` (hysteresis). */
  threshold: number;
  /** Non-speech shorter than this does not end a speech region. */
  minSilenceMs: number;
  /** Audio kept on each side of a region. */
  speechPadMs: number;
  /** Speech shorter than this is dropped. */
  minSpeechMs: number;
}

/** A stretch of speech, in seconds from the start of the audio. */
export interface SpeechRegion {
  start: number;
  end: number;
}

/**
 * A voice activity detector over 16 kHz mono s16 PCM: one speech probability
 * (0-1) per window of `windowSamples`. It keeps state between calls, so audio
 * fed in any chunk sizes gives the same probabilities as fed whole; `reset`
 * starts a new audio. One instance serves one audio at a time.
 */
export interface VoiceDetector {
  readonly kind: Exclude<VadKind, 'off'>;
  readonly windowSamples: number;
  /** Probabilities of every window completed by `pcm` (a partial window waits for the next call). */
  probabilities(pcm: Int16Array): Promise<Float32Array>;
  reset(): void;
}

/** The server's settings, before any request override. */
export function vadSettingsFromConfig(config: Pick<Config, 'VAD' | 'VAD_THRESHOLD' | 'VAD_MIN_SILENCE_MS' | 'VAD_SPEECH_PAD_MS' | 'VAD_MIN_SPEECH_MS'>): VadSettings {
  return {
    kind: config.VAD,
    threshold: config.VAD_THRESHOLD,
    minSilenceMs: config.VAD_MIN_SILENCE_MS,
    speechPadMs: config.VAD_SPEECH_PAD_MS,
    minSpeechMs: config.VAD_MIN_SPEECH_MS,
  };
}
