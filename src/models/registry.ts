import { rm } from 'node:fs/promises';
import type { Config } from '../config/index.js';
import { AppError, toSerializedError } from '../errors.js';
import type { Logger } from '../logger.js';
import { loadCatalogue, modelFileName, type Catalogue } from './catalogue.js';
import { ensureRoomFor, pullModel, type PullProgress } from './download.js';
import { defaultWhisperModel, fileBytes, installedWhisperNames, whisperModelFile, whisperModelId, whisperModelName } from './ids.js';

/** Where a model is loaded: the server itself (in-process) or a worker. */
export interface ModelPlace {
  isolation: 'in-process' | 'process';
  pid: number;
  slot?: number | undefined;
  bytes: number;
  inUse: boolean;
}

/**
 * What a model is on this server:
 * - `not_downloaded`: in the catalogue, not on disk (an admin can pull it);
 * - `downloading`: being pulled (see `download`);
 * - `available`: on disk (or a remote engine that loaded), loaded nowhere now;
 * - `loaded`: held in memory by at least one process (see `loaded`);
 * - `failed`: its last pull failed, or its engine did not load (see `error`).
 */
export type ModelState = 'not_downloaded' | 'downloading' | 'available' | 'loaded' | 'failed';

export interface ModelInfo {
  id: string;
  engine: string;
  state: ModelState;
  /** Size on disk (or of the download), null for engines without a file here. */
  bytes: number | null;
  /** The engine's default model (what a request naming none gets). */
  isDefault: boolean;
  loaded: ModelPlace[];
  download: { receivedBytes: number; totalBytes: number; startedAt: number; bytesPerSecond: number } | undefined;
  error: { code: string; message: string } | undefined;
}

export interface ModelRegistryDeps {
  config: Config;
  logger: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** Models loaded in every process now. */
  held: () => (ModelPlace & { id: string })[];
  /** Unloads a model everywhere (idle copies now, busy ones after their decode). */
  evict: (id: string) => Promise<void>;
  /** Engines and whether each loaded somewhere (for the non-whisper entries). */
  engines: () => { name: string; ready: boolean; error: { code: string; message: string } | undefined }[];
}

interface Pull {
  promise: Promise<void>;
  progress: PullProgress | undefined;
  total: number;
  startedAt: number;
}

/**
 * Every model the server knows (catalogue entries, files in MODELS_DIR, the
 * configured engines) with its state, and the pulls and deletes an admin asks
 * for. Pulls run in the server (the same code as `hark models pull`: resume,
 * checksum, atomic rename); two pulls of one model share one download.
 */
export class ModelRegistry {
  private catalogue: Catalogue | undefined;
  private readonly pulls = new Map<string, Pull>();
  /** The last failed pull of each model, until the next pull or a file appears. */
  private readonly failures = new Map<string, { code: string; message: string }>();
  private readonly stop = new AbortController();

  constructor(private readonly deps: ModelRegistryDeps) {}

  private async loadedCatalogue(): Promise<Catalogue> {
    this.catalogue ??= await loadCatalogue(this.deps.config.MODELS_CATALOGUE);
    return this.catalogue;
  }

  private whisperOn(): boolean {
    return this.deps.config.ENGINES.includes('whisper');
  }

  /** Every model, engines first, then whisper's in name order. */
  async list(): Promise<ModelInfo[]> {
    const held = this.deps.held();
    const placesOf = (id: string): ModelPlace[] => held.filter((h) => h.id === id).map(({ id: _, ...place }) => place);
    const out: ModelInfo[] = [];
    const fallback = this.whisperOn() ? defaultWhisperModel(this.deps.config) : undefined;
    for (const e of this.deps.engines()) {
      const loaded = e.name === 'whisper' && fallback !== undefined ? placesOf(fallback.id) : [];
      const state: ModelState = !e.ready ? 'failed' : loaded.length > 0 ? 'loaded' : 'available';
      const bytes = e.name === 'whisper' && fallback !== undefined ? fileBytes(fallback.path) : null;
      out.push({ id: e.name, engine: e.name, state, bytes, isDefault: e.name === this.deps.config.ENGINE, loaded, download: undefined, error: e.ready ? undefined : e.error });
    }
    if (!this.whisperOn()) return out;
    const catalogue = await this.loadedCatalogue();
    const names = new Set([...catalogue.keys(), ...installedWhisperNames(this.deps.config), ...this.pulls.keys()]);
    for (const name of [...names].sort()) out.push(this.describe(name, catalogue, placesOf(whisperModelId(name)), fallback?.name === name));
    return out;
  }

  /** One model by id; MODEL_NOT_FOUND when the server knows no such id. */
  async get(id: string): Promise<ModelInfo> {
    const found = (await this.list()).find((m) => m.id === id);
    if (found === undefined) throw this.notFound(id);
    return found;
  }

  /**
   * Starts downloading `id` from MODELS_BASE_URL (or joins the download under
   * way) and returns at once; `get` shows the progress. A model already on disk
   * is left as it is. Throws MODEL_NOT_IN_CATALOGUE for an id no catalogue entry has,
   * and INSUFFICIENT_STORAGE when MODELS_DIR's disk cannot take the model.
   */
  async pull(id: string): Promise<{ started: boolean; model: ModelInfo }> {
    const name = whisperModelName(id);
    const catalogue = await this.loadedCatalogue();
    const expected = name === undefined ? undefined : catalogue.get(name);
    if (name === undefined || expected === undefined || !this.whisperOn()) {
      const hint = this.whisperOn() ? `; the catalogue has ${[...catalogue.keys()].map(whisperModelId).join(', ')}` : ' (the whisper engine is not in ENGINES)';
      throw new AppError('MODEL_NOT_IN_CATALOGUE', `no catalogue model "${id}" to download${hint}`, { details: { model: id } });
    }
    const dest = whisperModelFile(this.deps.config, name).path;
    if (this.pulls.has(name) || fileBytes(dest) !== null) return { started: false, model: await this.get(id) };
    await ensureRoomFor(dest, expected);
    // A second pull may have started while this one looked at the disk.
    if (this.pulls.has(name)) return { started: false, model: await this.get(id) };
    const url = `${this.deps.config.MODELS_BASE_URL.replace(/\/+$/, '')}/${modelFileName(name)}`;
    const pull: Pull = { promise: Promise.resolve(), progress: undefined, total: expected.bytes, startedAt: Date.now() };
    this.failures.delete(name);
    this.deps.logger.info({ model: id, url, dest }, 'model download started');
    pull.promise = pullModel({ url, dest, expected, signal: this.stop.signal, onProgress: (p) => (pull.progress = p), userAgent: 'hark (model pull)' })
      .then((r) => this.deps.logger.info({ model: id, bytes: r.bytes, sha1: r.sha1, resumedFrom: r.resumedFrom }, 'model downloaded and verified'))
      .catch((err: unknown) => {
        const e = toSerializedError(err);
        this.failures.set(name, { code: e.code, message: e.message });
        this.deps.logger.warn({ model: id, err }, 'model download failed');
      })
      .finally(() => this.pulls.delete(name));
    this.pulls.set(name, pull);
    return { started: true, model: await this.get(id) };
  }

  /** Resolves when the pull of `id` under way (if any) has ended, however it ended. */
  async settled(id: string): Promise<void> {
    const name = whisperModelName(id);
    if (name !== undefined) await this.pulls.get(name)?.promise;
  }

  /**
   * Deletes a whisper model's file, unloading it everywhere first (a decode
   * using it finishes; later requests get MODEL_NOT_DOWNLOADED). The default
   * model and a model being downloaded are refused (409 MODEL_IN_USE).
   */
  async delete(id: string): Promise<void> {
    const name = whisperModelName(id);
    if (name === undefined || !this.whisperOn()) {
      if (this.deps.engines().some((e) => e.name === id)) {
        throw new AppError('INVALID_REQUEST', `"${id}" is an engine, not a model file; only whisper models (whisper-<name>) can be deleted`);
      }
      throw this.notFound(id);
    }
    const fallback = defaultWhisperModel(this.deps.config);
    if (fallback.name === name) {
      throw new AppError('MODEL_IN_USE', `${id} is the whisper engine's default model (WHISPER_MODEL_SIZE / WHISPER_MODEL_PATH); choose another default first`, {
        details: { model: id, reason: 'default' },
      });
    }
    if (this.pulls.has(name)) throw new AppError('MODEL_IN_USE', `${id} is being downloaded; delete it once the download has ended`, { details: { model: id, reason: 'downloading' } });
    const path = whisperModelFile(this.deps.config, name).path;
    if (fileBytes(path) === null) throw new AppError('NOT_FOUND', `${id} is not downloaded to this server`, { details: { model: id } });
    await this.deps.evict(id);
    await rm(path, { force: true });
    await rm(`${path}.part`, { force: true });
    this.failures.delete(name);
    this.deps.logger.info({ model: id, path }, 'model deleted');
  }

  /** Stops downloads under way (their `.part` is kept, and the next pull resumes it). */
  async close(): Promise<void> {
    this.stop.abort();
    await Promise.allSettled([...this.pulls.values()].map((p) => p.promise));
  }

  private describe(name: string, catalogue: Catalogue, loaded: ModelPlace[], isDefault: boolean): ModelInfo {
    const id = whisperModelId(name);
    const onDisk = fileBytes(whisperModelFile(this.deps.config, name).path);
    const pull = this.pulls.get(name);
    const failure = this.failures.get(name);
    const base = { id, engine: 'whisper', isDefault, loaded, error: undefined, download: undefined };
    if (pull !== undefined) {
      const p = pull.progress;
      const seconds = p === undefined ? 0 : (performance.now() - p.startedAt) / 1000;
      const download = {
        receivedBytes: p?.received ?? 0,
        totalBytes: pull.total,
        startedAt: pull.startedAt,
        bytesPerSecond: p !== undefined && seconds > 0 ? Math.round((p.received - p.resumedFrom) / seconds) : 0,
      };
      return { ...base, state: 'downloading', bytes: pull.total, download };
    }
    if (onDisk !== null) return { ...base, state: loaded.length > 0 ? 'loaded' : 'available', bytes: onDisk };
    const bytes = catalogue.get(name)?.bytes ?? null;
    return failure === undefined ? { ...base, state: 'not_downloaded', bytes } : { ...base, state: 'failed', bytes, error: failure };
  }

  private notFound(id: string): AppError {
    return new AppError('MODEL_NOT_FOUND', `unknown model "${id}"; GET /v1/models lists them`, { details: { model: id } });
  }
}
