import { useEffect, useState } from 'preact/hooks';
import { announce } from './announce.js';
import { ApiError, upload } from './api.js';
import { explainUploadError, retryCannotFix, type Explained } from './messages.js';
import { SessionAudio, type AudioCut, type AudioLimits, type Caption } from './recorder.js';

/** Saving a session's audio as a job. */
export type SaveState =
  | { phase: 'idle' }
  | { phase: 'sending'; sent: number; total: number }
  | { phase: 'saved'; jobId: string }
  | { phase: 'failed'; error: Explained; retryable: boolean };

/** One recording from the microphone, from Start to Stop and after. */
export interface Session {
  id: number;
  /** performance.now() when the recording began, and when it stopped. */
  startedAt: number;
  endedAt: number | undefined;
  /** The saved job's file name, from the wall-clock start: `live-2026-12-05-1042.webm`. */
  fileName: string;
  captions: Caption[];
  audio: SessionAudio;
  cut: AudioCut | undefined;
  save: SaveState;
  /** Copied, downloaded or saved: starting again loses nothing then. */
  kept: boolean;
}

function fileName(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `live-${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}-${pad(date.getHours())}${pad(date.getMinutes())}.webm`;
}

/**
 * The last recording, kept outside the microphone panel so that its captions, its audio and a save
 * under way outlive the panel: opening the saved job and coming Back finds them as they were.
 * The recording itself stops when the panel goes (the microphone is the panel's).
 */
class LiveSessions {
  current: Session | undefined;
  private nextId = 1;
  private readonly listeners = new Set<() => void>();

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Replaces `current` with `change` applied, if it is still session `id`, and tells the listeners. */
  private update(id: number, change: Partial<Session>): void {
    if (this.current?.id !== id) return;
    this.current = { ...this.current, ...change };
    for (const l of this.listeners) l();
  }

  /** A new session, in place of the last one; answers its id. */
  begin(limits: AudioLimits): number {
    const id = this.nextId++;
    this.current = { id, startedAt: performance.now(), endedAt: undefined, fileName: fileName(new Date()), captions: [], audio: new SessionAudio(limits), cut: undefined, save: { phase: 'idle' }, kept: false };
    for (const l of this.listeners) l();
    return id;
  }

  addCaption(id: number, caption: Caption): void {
    if (this.current?.id === id) this.update(id, { captions: [...this.current.captions, caption] });
  }

  /** Keeps a chunk of the recording; says so once, when keeping stops at a limit. */
  addAudio(id: number, chunk: Blob, slack: number): void {
    const s = this.current;
    if (s?.id !== id) return;
    s.audio.add(chunk, (performance.now() - s.startedAt) / 1000, slack);
    if (s.audio.cut !== s.cut) this.update(id, { cut: s.audio.cut });
  }

  end(id: number): void {
    if (this.current?.endedAt === undefined) this.update(id, { endedAt: performance.now() });
  }

  markKept(): void {
    if (this.current !== undefined) this.update(this.current.id, { kept: true });
  }

  clear(): void {
    this.current = undefined;
    for (const l of this.listeners) l();
  }

  /**
   * Uploads the session's audio as a job with the server's default settings, as the live stream
   * ran, and speakers labelled when `diarize` (their count left to the server). The size was
   * bounded while recording; it is checked again here, so a limit that could not be read at the
   * start refuses before the upload rather than after.
   */
  async save(maxBytes: number | undefined, diarize = false): Promise<void> {
    const s = this.current;
    if (s === undefined || s.save.phase === 'sending' || s.save.phase === 'saved') return;
    const file = s.audio.file(s.fileName);
    if (maxBytes !== undefined && file.size > maxBytes) {
      const error = explainUploadError(new ApiError(413, 'FILE_TOO_LARGE', 'checked before upload', undefined, { max_file_size_bytes: maxBytes }), s.fileName, 'job');
      this.update(s.id, { save: { phase: 'failed', error, retryable: false } });
      return;
    }
    this.update(s.id, { save: { phase: 'sending', sent: 0, total: file.size } });
    const options = { mode: 'job', isolation: undefined, format: 'json', priority: 'normal', diarize: diarize ? { numSpeakers: undefined } : undefined } as const;
    try {
      const answer = await upload(file, options, (sent, total) => this.update(s.id, { save: { phase: 'sending', sent, total } })).done;
      if (answer.mode !== 'job') return;
      this.update(s.id, { save: { phase: 'saved', jobId: answer.jobId }, kept: true });
      announce('The recording was saved as a job');
    } catch (err) {
      const e = err instanceof ApiError ? err : new ApiError(0, 'CLIENT', String(err));
      this.update(s.id, { save: { phase: 'failed', error: explainUploadError(e, s.fileName, 'job'), retryable: !retryCannotFix(e) && e.status !== 413 && e.status !== 400 } });
    }
  }
}

export const liveSessions = new LiveSessions();

/** The last session (or none), re-rendering the caller whenever it changes. */
export function useLiveSession(): Session | undefined {
  const [, setVersion] = useState(0);
  useEffect(() => liveSessions.subscribe(() => setVersion((v) => v + 1)), []);
  return liveSessions.current;
}
