import type { PcmAudio } from '../audio/index.js';
import type { SpeechRegion } from '../vad/types.js';

/** A stretch of one speaker's speech, in seconds of file time. */
export interface SpeakerTurn {
  start: number;
  end: number;
  /** `A`, `B`, ... in order of first appearance (or a caller's name). */
  speaker: string;
}

/**
 * What a request asks of diarization: what the caller knows about the speaker
 * count (`num_speakers`, or bounds). Plain data: it crosses to a worker with the task.
 */
export interface DiarizeRequest {
  numSpeakers?: number | undefined;
  minSpeakers?: number | undefined;
  maxSpeakers?: number | undefined;
}

/**
 * A speaker the caller can name from a reference clip (OpenAI's
 * `known_speaker_names[]` with `known_speaker_references[]`): the clip already
 * decoded to PCM on disk, so it crosses to a worker as a path, like the task's
 * audio, and is removed with the upload.
 */
export interface KnownSpeaker {
  name: string;
  audio: PcmAudio;
}

/** The label of the `i`-th speaker (0-based) by first appearance: A..Z, then AA, AB, ... as spreadsheet columns. */
export function speakerLetter(i: number): string {
  let s = '';
  for (let n = i + 1; n > 0; n = Math.floor((n - 1) / 26)) s = String.fromCharCode(65 + ((n - 1) % 26)) + s;
  return s;
}

/** Characters in a speaker's name: room for "Dr. Jane Whitfield-Okafor (chair)", short enough for a subtitle's prefix. */
export const MAX_SPEAKER_NAME_LENGTH = 64;

/** Control characters and line or paragraph separators: any would break an SRT cue's line or a WebVTT voice. */
const UNPRINTABLE = /[\p{Cc}\u2028\u2029]/u;

/**
 * What is wrong with a (trimmed) speaker name, for a caller's message, or
 * undefined: the one rule for names stored on a job and names of reference clips.
 */
export function speakerNameProblem(name: string): string | undefined {
  if (name === '') return 'is empty';
  if ([...name].length > MAX_SPEAKER_NAME_LENGTH) return `is longer than ${MAX_SPEAKER_NAME_LENGTH} characters`;
  if (UNPRINTABLE.test(name)) return 'holds a control character or a line break';
  return undefined;
}

/** The most speakers a request may ask for or bound by (`num_speakers` and the bounds are 1..this). */
export const MAX_SPEAKERS = 20;

export interface DiarizeOptions extends DiarizeRequest {
  signal?: AbortSignal | undefined;
}

export interface Diarization {
  /** Sorted by start; one speaker per instant (no overlap). */
  turns: SpeakerTurn[];
  /** How many speakers were found. */
  speakers: number;
}

/**
 * Who spoke when, from 16 kHz mono PCM and the VAD's speech regions. Runs where
 * the engine runs. The local implementation needs no model file; one with
 * user-supplied models (segmentation + speaker embeddings) fits the same seam.
 */
export interface Diarizer {
  readonly kind: string;
  diarize(audio: PcmAudio, regions: readonly SpeechRegion[], options: DiarizeOptions): Promise<Diarization>;
}
