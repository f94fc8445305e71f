import { useEffect, useState } from 'preact/hooks';
import { announce } from './announce.js';
import { ApiError, upload, type UploadAnswer, type UploadMode, type UploadOptions } from './api.js';
import { explainLocalRefusal, explainUploadError, retryCannotFix, type Explained, type LocalRefusal } from './messages.js';

export type ItemState =
  | { phase: 'ready' }
  /** Kept back by the page before any upload (empty, or plainly not sound). */
  | { phase: 'refused'; error: Explained }
  | { phase: 'uploading'; mode: UploadMode; sent: number; total: number }
  /** `options`: what it was sent with, for a sync answer kept as a job afterwards. */
  | { phase: 'done'; answer: UploadAnswer; options: UploadOptions; kept?: Keeping }
  | { phase: 'error'; error: Explained; retryable: boolean };

/** A sync answer being kept as a job: the file sent again to the jobs route, with the same settings. */
export type Keeping = { phase: 'sending' } | { phase: 'kept'; jobId: string } | { phase: 'error'; error: Explained };

export interface Item {
  key: number;
  file: File;
  state: ItemState;
}

/** Refusals of the file itself: sending it again cannot help. */
const FILE_PROBLEMS = new Set(['INVALID_AUDIO', 'EMPTY_FILE', 'EMPTY_AUDIO', 'FILE_TOO_LARGE', 'AUDIO_TOO_LONG', 'UNSUPPORTED_MEDIA_TYPE']);

/** Names that say sound or video, whatever type the system gives them (`.ts` is also TypeScript's, say). */
const MEDIA_EXTENSIONS = new Set(['wav', 'wave', 'mp3', 'flac', 'ogg', 'oga', 'opus', 'm4a', 'mp4', 'm4v', 'aac', 'webm', 'weba', 'mkv', 'mka', 'mov', 'wma', 'wmv', 'amr', '3gp', 'aif', 'aiff', 'caf', 'ts', 'mts', 'm2ts', 'avi', 'mpg', 'mpeg', 'ac3', 'asf']);
/** Names that are never sound: documents, pictures, text, archives. */
const OTHER_EXTENSIONS = new Set(['txt', 'md', 'rtf', 'pdf', 'doc', 'docx', 'odt', 'xls', 'xlsx', 'ods', 'csv', 'ppt', 'pptx', 'odp', 'json', 'xml', 'html', 'htm', 'srt', 'vtt', 'png', 'jpg', 'jpeg', 'gif', 'webp', 'bmp', 'tif', 'tiff', 'svg', 'heic', 'zip', 'gz', 'tgz', '7z', 'rar', 'tar', 'exe', 'dmg', 'iso']);
/** Types that are never sound (a type the browser does not know is empty, and passes). */
const OTHER_TYPES = /^(text|image|font|model)\/|^application\/(pdf|json|xml|zip|gzip|x-7z-compressed|vnd\.rar|x-tar|msword|rtf|vnd\.ms-|vnd\.openxmlformats-|vnd\.oasis\.)/;

/**
 * Why the page keeps `file` back, or undefined to send it. Only the plain cases: an empty
 * file, or one whose name or type says it is no sound; anything else is the server's to
 * judge (it decodes with ffmpeg, which reads more than any list here).
 */
function localRefusal(file: File): LocalRefusal | undefined {
  if (file.size === 0) return { reason: 'empty' };
  const extension = /\.([^.]+)$/.exec(file.name)?.[1]?.toLowerCase() ?? '';
  if (MEDIA_EXTENSIONS.has(extension)) return undefined;
  const type = file.type.toLowerCase();
  if (/^(audio|video)\//.test(type)) return undefined;
  return OTHER_EXTENSIONS.has(extension) || OTHER_TYPES.test(type) ? { reason: 'not-media', type } : undefined;
}

function addedMessage(added: readonly Item[]): string {
  const refused = added.filter((x) => x.state.phase === 'refused').map((x) => x.file.name);
  const ok = added.length - refused.length;
  const parts = [`${ok} file${ok === 1 ? '' : 's'} added`];
  if (refused.length > 0) parts.push(`${refused.length} not added: ${refused.join(', ')}`);
  return parts.join('; ');
}

function asApiError(err: unknown): ApiError {
  return err instanceof ApiError ? err : new ApiError(0, 'CLIENT', String(err));
}

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
    const added = [...files].map((file): Item => {
      const refusal = localRefusal(file);
      return { key: this.nextKey++, file, state: refusal === undefined ? { phase: 'ready' } : { phase: 'refused', error: explainLocalRefusal(refusal, file.name) } };
    });
    // Earlier answers stay until dismissed: a sync transcript exists nowhere else.
    this.set([...this.items, ...added]);
    announce(addedMessage(added));
  }

  /** Takes a file off the list: one not sent yet, a refusal, or an answer dismissed. */
  remove(key: number): void {
    this.set(this.items.filter((x) => x.key !== key));
  }

  /** Dismisses every answer at once (files not sent and failures stay). */
  dismissDone(): void {
    this.set(this.items.filter((x) => x.state.phase !== 'done'));
  }

  retry(key: number): void {
    this.update(key, { phase: 'ready' });
  }

  /**
   * Sends every ready file, one at a time: the server queues anyway, and each bar then means
   * something. Answers how many were sent and the answers that came back, in order.
   */
  async start(options: UploadOptions): Promise<{ sent: number; answers: UploadAnswer[] }> {
    if (this.busy) return { sent: 0, answers: [] };
    const todo = this.items.filter((x) => x.state.phase === 'ready');
    this.busy = true;
    this.stopped = false;
    const answers: UploadAnswer[] = [];
    for (const item of todo) {
      if (this.stopped) break;
      this.update(item.key, { phase: 'uploading', mode: options.mode, sent: 0, total: item.file.size });
      const handle = upload(item.file, options, (sent, total) => this.update(item.key, { phase: 'uploading', mode: options.mode, sent, total }));
      this.current = handle;
      try {
        const answer = await handle.done;
        this.update(item.key, { phase: 'done', answer, options });
        answers.push(answer);
      } catch (err) {
        const e = asApiError(err);
        this.update(item.key, { phase: 'error', error: explainUploadError(e, item.file.name, options.mode), retryable: !FILE_PROBLEMS.has(e.code) && !retryCannotFix(e) });
      }
    }
    this.current = undefined;
    this.busy = false;
    this.set(this.items);
    announce(`${answers.length} of ${todo.length} upload${todo.length === 1 ? '' : 's'} ${options.mode === 'job' ? 'accepted' : 'transcribed'}`);
    return { sent: todo.length, answers };
  }

  /**
   * Keeps a sync answer as a job, when the user asks: the server stores no sync answer, so the
   * file goes again to the jobs route with the settings it was transcribed with, and the job
   * (transcribed anew) then stays in History like any other.
   */
  async keep(key: number): Promise<void> {
    const item = this.items.find((x) => x.key === key);
    if (item?.state.phase !== 'done' || item.state.answer.mode !== 'sync' || item.state.kept?.phase === 'sending') return;
    const { options } = item.state;
    const setKept = (kept: Keeping) => {
      const now = this.items.find((x) => x.key === key);
      if (now?.state.phase === 'done') this.update(key, { ...now.state, kept });
    };
    setKept({ phase: 'sending' });
    try {
      const answer = await upload(item.file, { ...options, mode: 'job' }, () => undefined).done;
      if (answer.mode === 'job') setKept({ phase: 'kept', jobId: answer.jobId });
      announce(`${item.file.name} kept as a job`);
    } catch (err) {
      setKept({ phase: 'error', error: explainUploadError(asApiError(err), item.file.name, 'job') });
    }
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
