import { AppError } from '../errors.js';

/** Something a cache entry holds: a loaded model (a whisper.cpp context), freed by `unload`. */
export interface Loadable<T> {
  load(): Promise<T>;
  unload(value: T): Promise<void>;
}

/** A loaded model as /readyz, /debug/pool and the metrics show it. */
export interface ResidentModel {
  /** Model id (`whisper-base.en`). */
  id: string;
  /** Memory it takes: what the process grew by while loading it, at least its file's length. */
  bytes: number;
  /** Decoding with it now. */
  inUse: boolean;
  /** `Date.now()` of its last use (or of its load). */
  lastUsedAt: number;
}

export type ModelEvent =
  | { type: 'loaded'; id: string; bytes: number; loadMs: number }
  /** Its first decode made it larger than its load did (see `measureFirstUse`). */
  | { type: 'resized'; id: string; bytes: number }
  | { type: 'unloaded'; id: string; bytes: number; reason: UnloadReason };

/** Why a model left memory: unused past the TTL, room made for another, its file deleted, the process closing. */
export const UNLOAD_REASONS = ['idle', 'memory', 'deleted', 'shutdown'] as const;
export type UnloadReason = (typeof UNLOAD_REASONS)[number];

export interface ModelCacheOptions {
  /** What the models of this process may take in all; 0: no limit. */
  limitBytes: number;
  /** Unused this long, a model is unloaded; 0: never. */
  idleTtlMs: number;
  /** The process's resident memory now (bytes), to measure what a load took; absent: the file length is used. */
  rss?: () => number | undefined;
  onEvent?: (event: ModelEvent) => void;
  /** Called after each unload: hands the freed memory back to the kernel (malloc_trim), so the RSS drops. */
  afterUnload?: () => void;
}

interface Entry {
  owner: object;
  key: string;
  id: string;
  bytes: number;
  value: unknown;
  unload: (value: unknown) => Promise<void>;
  busy: boolean;
  lastUsedAt: number;
  timer: NodeJS.Timeout | undefined;
  /** The process's RSS before the load, until its first use has ended (see `lease`). */
  rssBeforeLoad: number | undefined;
  /** Why it is to go as soon as nobody uses it (its file deleted, its owner unloaded); false while it stays. */
  doomed: UnloadReason | false;
}

/** A model held for one decode; `release()` gives it back to the cache (idle, kept for the next). */
export interface ModelLease<T> {
  readonly value: T;
  release(): void;
}

/**
 * The models one process holds, each loaded on first use and kept for the
 * next, within a memory budget: the least recently used idle ones are unloaded
 * to make room, and each is unloaded after an idle TTL. An entry belongs to
 * one owner (an engine instance, which decodes one file at a time), so two
 * decodes in one process never share a model context.
 */
export class ModelCache {
  private readonly entries: Entry[] = [];
  /** Bytes being loaded now, counted before they are resident so two loads cannot both fit the same room. */
  private reserved = 0;
  /** Last measured size of each key: a better guess than the file length for the next load. */
  private readonly measured = new Map<string, number>();
  private closed = false;

  constructor(private readonly options: ModelCacheOptions) {}

  /**
   * The owner's model `key` (a file path), loaded now if the owner holds none.
   * Throws MODEL_MEMORY_LIMIT when it cannot fit even with every idle model unloaded.
   */
  async acquire<T>(owner: object, key: string, meta: { id: string; fileBytes: number }, loader: Loadable<T>): Promise<ModelLease<T>> {
    if (this.closed) throw new AppError('SHUTTING_DOWN', 'the process is shutting down');
    const held = this.entries.find((e) => e.owner === owner && e.key === key && e.doomed === false);
    if (held !== undefined && !held.busy) return this.lease<T>(held);
    const estimate = Math.max(meta.fileBytes, this.measured.get(key) ?? 0);
    await this.makeRoom(meta.id, estimate);
    this.reserved += estimate;
    const before = this.options.rss?.();
    const started = performance.now();
    let value: T;
    try {
      value = await loader.load();
    } finally {
      this.reserved -= estimate;
    }
    const after = this.options.rss?.();
    const grew = before !== undefined && after !== undefined ? after - before : 0;
    const bytes = Math.max(meta.fileBytes, grew, this.measured.get(key) ?? 0);
    this.measured.set(key, bytes);
    const entry: Entry = {
      owner,
      key,
      id: meta.id,
      bytes,
      value,
      unload: loader.unload as (v: unknown) => Promise<void>,
      busy: false,
      lastUsedAt: Date.now(),
      timer: undefined,
      rssBeforeLoad: before,
      doomed: false,
    };
    this.entries.push(entry);
    this.options.onEvent?.({ type: 'loaded', id: meta.id, bytes, loadMs: Math.round(performance.now() - started) });
    const lease = this.lease<T>(entry);
    // It may have taken more than its file's length: idle models go until the limit holds again (best effort).
    await this.makeRoom(meta.id, 0).catch(() => undefined);
    return lease;
  }

  /** Whether `owner` holds `key` now (the executor prefers an instance that does). */
  holds(owner: object, key: string): boolean {
    return this.entries.some((e) => e.owner === owner && e.key === key && e.doomed === false);
  }

  /** Every loaded model, for /readyz, /debug/pool and the metrics. */
  snapshot(): ResidentModel[] {
    return this.entries.map((e) => ({ id: e.id, bytes: e.bytes, inUse: e.busy, lastUsedAt: e.lastUsedAt }));
  }

  /** Unloads every copy of model `id` (its file is being deleted): idle copies now, busy ones when their decode ends. */
  async evict(id: string): Promise<void> {
    const copies = this.entries.filter((e) => e.id === id);
    for (const e of copies) e.doomed = 'deleted';
    await Promise.all(copies.filter((e) => !e.busy).map((e) => this.unload(e, 'deleted')));
  }

  /** Unloads every idle model `owner` holds (an engine instance being unloaded); a busy one goes when released. */
  async forget(owner: object): Promise<void> {
    const mine = this.entries.filter((e) => e.owner === owner);
    for (const e of mine) e.doomed = 'shutdown';
    await Promise.all(mine.filter((e) => !e.busy).map((e) => this.unload(e, 'shutdown')));
  }

  /** Unloads everything; later acquires fail. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.entries].map((e) => this.unload(e, 'shutdown')));
  }

  private lease<T>(entry: Entry): ModelLease<T> {
    entry.busy = true;
    clearTimeout(entry.timer);
    entry.timer = undefined;
    let released = false;
    return {
      value: entry.value as T,
      release: () => {
        if (released) return;
        released = true;
        entry.busy = false;
        this.measureFirstUse(entry);
        entry.lastUsedAt = Date.now();
        if (entry.doomed !== false || this.closed) {
          void this.unload(entry, this.closed ? 'shutdown' : entry.doomed || 'shutdown');
          return;
        }
        const ttl = this.options.idleTtlMs;
        if (ttl > 0) {
          entry.timer = setTimeout(() => void this.unload(entry, 'idle'), ttl);
          entry.timer.unref();
        }
      },
    };
  }

  /**
   * A model allocates part of its memory at its first decode (whisper.cpp's
   * compute buffers, kept until it is unloaded): once that use ends, what the
   * process grew by since before the load counts as the model's, if more than
   * the load alone. (In-process, other work in the server at the same time is
   * counted too: the figure is an estimate there.)
   */
  private measureFirstUse(entry: Entry): void {
    const before = entry.rssBeforeLoad;
    entry.rssBeforeLoad = undefined;
    const now = before === undefined ? undefined : this.options.rss?.();
    if (before === undefined || now === undefined || now - before <= entry.bytes) return;
    entry.bytes = now - before;
    this.measured.set(entry.key, Math.max(this.measured.get(entry.key) ?? 0, entry.bytes));
    this.options.onEvent?.({ type: 'resized', id: entry.id, bytes: entry.bytes });
  }

  /** Unloads idle models, least recently used first, until `bytes` more fit the limit. */
  private async makeRoom(id: string, bytes: number): Promise<void> {
    const limit = this.options.limitBytes;
    if (limit <= 0) return;
    const mb = (n: number) => `${Math.round(n / 1e6)} MB`;
    if (bytes > limit) {
      throw new AppError('MODEL_MEMORY_LIMIT', `model ${id} needs about ${mb(bytes)}, more than MODEL_MEMORY_LIMIT_MB (${mb(limit)}) allows one process`, {
        details: { model: id, needed_bytes: bytes, limit_bytes: limit },
      });
    }
    const used = () => this.entries.reduce((n, e) => n + e.bytes, 0) + this.reserved;
    const idle = this.entries.filter((e) => !e.busy).sort((a, b) => a.lastUsedAt - b.lastUsedAt);
    const victims: Entry[] = [];
    let freed = 0;
    for (const e of idle) {
      if (used() - freed + bytes <= limit) break;
      victims.push(e);
      freed += e.bytes;
    }
    if (used() - freed + bytes > limit) {
      throw new AppError(
        'MODEL_MEMORY_LIMIT',
        `model ${id} (about ${mb(bytes)}) does not fit MODEL_MEMORY_LIMIT_MB (${mb(limit)}) beside the models in use in this process; retry when they are done, or raise the limit`,
        { details: { model: id, needed_bytes: bytes, limit_bytes: limit, in_use: this.entries.filter((e) => e.busy).map((e) => e.id) } },
      );
    }
    await Promise.all(victims.map((e) => this.unload(e, 'memory')));
  }

  private async unload(entry: Entry, reason: UnloadReason): Promise<void> {
    const i = this.entries.indexOf(entry);
    if (i < 0 || entry.busy) return;
    this.entries.splice(i, 1);
    clearTimeout(entry.timer);
    // Never rejects: callers fire it from timers. A binding that fails to free has still lost the entry.
    await entry.unload(entry.value).catch(() => undefined);
    this.options.afterUnload?.();
    this.options.onEvent?.({ type: 'unloaded', id: entry.id, bytes: entry.bytes, reason });
  }
}
