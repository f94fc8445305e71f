import { useEffect, useState } from 'preact/hooks';
import { announce } from './announce.js';
import { ApiError, upload, type UploadAnswer, type UploadMode, type UploadOptions } from './api.js';
import { explainUploadError, type Explained } from './messages.js';

export type ItemState =
  | { phase: 'ready' }
  | { phase: 'uploading'; mode: UploadMode; sent: number; total: number }
  | { phase: 'done'; answer: UploadAnswer }
  | { phase: 'error'; error: Explained; retryable: boolean };

export interface Item {
  key: number;
  file: File;
  state: ItemState;
}

/** Refusals of the file itself: sending it again cannot help. */
const FILE_PROBLEMS = new Set(['INVALID_AUDIO', 'EMPTY_FILE', 'EMPTY_AUDIO', 'FILE_TOO_LARGE', 'AUDIO_TOO_LONG', 'UNSUPPORTED_MEDIA_TYPE']);

/**
 * The files chosen for upload and their fate. It lives outside the view so that
 * opening a job (or any other view) while files are still going up neither aborts
 * them nor forgets their answers.
 */
class UploadQueue {
  items: Item[] = [];
  busy = false;
  private nextKey = 1;
  private current: { abort(): void } | undefined;
  private stopped = false;
  private readonly listeners = new Set<() => void>();

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private set(items: Item[]): void {
    this.items = items;
    for (const l of this.listeners) l();
  }

  private update(key: number, state: ItemState): void {
    this.set(this.items.map((x) => (x.key === key ? { ...x, state } : x)));
  }

  add(files: FileList | File[] | null): void {
    if (files === null || files.length === 0) return;
    const added = [...files].map((file): Item => ({ key: this.nextKey++, file, state: { phase: 'ready' } }));
    // Answers already read make room for the new files; refusals stay until removed.
    this.set([...this.items.filter((x) => x.state.phase !== 'done'), ...added]);
    announce(`${added.length} file${added.length === 1 ? '' : 's'} added`);
  }

  remove(key: number): void {
    this.set(this.items.filter((x) => x.key !== key));
  }

  retry(key: number): void {
    this.update(key, { phase: 'ready' });
  }

  /** Sends every ready file, one at a time: the server queues anyway, and each bar then means something. */
  async start(options: UploadOptions): Promise<void> {
    if (this.busy) return;
    const todo = this.items.filter((x) => x.state.phase === 'ready');
    this.busy = true;
    this.stopped = false;
    let ok = 0;
    for (const item of todo) {
      if (this.stopped) break;
      this.update(item.key, { phase: 'uploading', mode: options.mode, sent: 0, total: item.file.size });
      const handle = upload(item.file, options, (sent, total) => this.update(item.key, { phase: 'uploading', mode: options.mode, sent, total }));
      this.current = handle;
      try {
        this.update(item.key, { phase: 'done', answer: await handle.done });
        ok++;
      } catch (err) {
        const e = err instanceof ApiError ? err : new ApiError(0, 'CLIENT', String(err));
        this.update(item.key, { phase: 'error', error: explainUploadError(e, item.file.name), retryable: !FILE_PROBLEMS.has(e.code) });
      }
    }
    this.current = undefined;
    this.busy = false;
    this.set(this.items);
    announce(`${ok} of ${todo.length} upload${todo.length === 1 ? '' : 's'} ${options.mode === 'job' ? 'accepted' : 'transcribed'}`);
  }

  /** Aborts the upload in flight and leaves the files not yet sent ready. */
  cancel(): void {
    this.stopped = true;
    this.current?.abort();
  }
}

export const uploadQueue = new UploadQueue();

/** Re-renders the calling view whenever the queue changes. */
export function useUploadQueue(): UploadQueue {
  const [, setVersion] = useState(0);
  useEffect(() => uploadQueue.subscribe(() => setVersion((v) => v + 1)), []);
  return uploadQueue;
}
