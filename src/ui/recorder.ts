/**
 * A live session's model: its captions with their times, the files they download as, the
 * input level, and the audio kept to be saved as a job. Pure, apart from Blob.
 */
import type { Word } from '../engines/index.js';
// The same cue rules as a job's subtitles (src/transcription/formats.ts is pure: no server code comes along).
import { toSrt, toVtt } from '../transcription/formats.js';
import { timeTag } from './transcript-nav.js';

/** What MediaRecorder records and the stream is sent; also the saved job's file type. */
export const MIME = 'audio/webm;codecs=opus';

/**
 * The most audio the page keeps in memory whatever the server accepts (MAX_FILE_SIZE_MB goes to
 * 10 GB): about 3.5 hours of MediaRecorder's Opus, longer than a stream may last by default.
 */
export const PAGE_MAX_BYTES = 200e6;

/** A final of the stream: times in seconds of audio from the start of the recording. */
export interface Caption {
  id: number;
  start: number;
  end: number;
  text: string;
  words: Word[];
}

/** The download formats: plain text with times, and the two subtitle formats. */
export type CaptionFormat = 'txt' | 'vtt' | 'srt';

const TYPES: Record<CaptionFormat, string> = { txt: 'text/plain', vtt: 'text/vtt', srt: 'application/x-subrip' };

/** `[00:05] text`, one caption a line, as the transcript viewer's "Copy with times" writes them. */
export function timedCaptions(captions: readonly Caption[]): string {
  return captions.map((c) => `${timeTag(c.start)} ${c.text}`).join('\n');
}

/** A download of the captions in `format`. Subtitle cues are rebuilt from the word times, as a job's are. */
export function captionFile(captions: readonly Caption[], format: CaptionFormat): Blob {
  const transcript = { segments: captions.map(({ start, end, text }) => ({ start, end, text })), words: captions.flatMap((c) => c.words) };
  const text = format === 'txt' ? `${timedCaptions(captions)}\n` : format === 'vtt' ? toVtt(transcript) : toSrt(transcript);
  return new Blob([text], { type: `${TYPES[format]};charset=utf-8` });
}

/** Quieter than this reads as an empty meter: room noise, not a voice. */
const FLOOR_DB = -60;

/** An input level from 0 to 1: the RMS of `samples` in dBFS, -60 dB (or quieter) to 0. */
export function inputLevel(samples: Float32Array): number {
  let sum = 0;
  for (const x of samples) sum += x * x;
  const rms = Math.sqrt(sum / Math.max(1, samples.length));
  const db = rms > 0 ? 20 * Math.log10(rms) : FLOOR_DB;
  return Math.min(1, Math.max(0, (db - FLOOR_DB) / -FLOOR_DB));
}

/** What the server accepts in one upload (GET /api/v1/system). */
export interface AudioLimits {
  maxBytes: number;
  maxSeconds: number;
}

/** Why the kept audio stopped growing before the recording did. */
export type AudioCut = 'size' | 'length';

/**
 * The session's audio: the very WebM chunks the stream was sent, in order, so a job made of them
 * decodes to what the captions were made from. MediaRecorder's chunks join into one valid file
 * (the first holds the header). Keeping stops for good at the first chunk past a limit: a gap
 * would shift every later time. The limits bound the page's memory too.
 */
export class SessionAudio {
  private readonly chunks: Blob[] = [];
  private bytes = 0;
  private lastAt = 0;
  private stopped: AudioCut | undefined;
  private readonly maxBytes: number;

  constructor(private readonly limits: AudioLimits) {
    this.maxBytes = Math.min(limits.maxBytes, PAGE_MAX_BYTES);
  }

  /**
   * Keeps `chunk`, recorded up to `at` seconds from the start, if the whole stays within the
   * limits. The length is checked with one chunk's room (`slack` seconds) to spare, since a
   * chunk's audio is known only by when it arrived.
   */
  add(chunk: Blob, at: number, slack: number): void {
    if (this.stopped !== undefined) return;
    if (this.bytes + chunk.size > this.maxBytes) this.stopped = 'size';
    else if (at + slack > this.limits.maxSeconds) this.stopped = 'length';
    else {
      this.chunks.push(chunk);
      this.bytes += chunk.size;
      this.lastAt = at;
    }
  }

  get size(): number {
    return this.bytes;
  }

  /** Seconds of audio kept (up to the last chunk kept). */
  get seconds(): number {
    return this.lastAt;
  }

  /** Set once keeping stopped at a limit; the captions went on. */
  get cut(): AudioCut | undefined {
    return this.stopped;
  }

  file(name: string): File {
    return new File(this.chunks, name, { type: MIME });
  }
}
