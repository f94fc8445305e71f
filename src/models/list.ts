import { readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Config } from '../config/index.js';
import { modelFileName, type Catalogue } from './catalogue.js';
import { readGgmlHeader } from './ggml.js';
import { configuredModel, modelsDir, type ConfiguredModel } from './paths.js';

/** One model file on disk. */
export interface InstalledModel {
  name: string;
  path: string;
  bytes: number;
  /** Found in MODELS_DIR, or only named by WHISPER_MODEL_PATH. */
  location: 'MODELS_DIR' | 'WHISPER_MODEL_PATH';
  /** Starts with the ggml magic whisper.cpp checks first. */
  ggml: boolean;
  /** The whisper size its header describes (e.g. `tiny.en`), null when unknown or not ggml. */
  architecture: string | null;
  weights: string | null;
  /** The file the whisper engine loads with the current configuration. */
  configured: boolean;
  /** The catalogue name its file name matches (`ggml-<name>.bin`), if any. */
  catalogueName: string | null;
  /** The catalogue's length for that name; a file of another length is incomplete or another build. */
  catalogueBytes: number | null;
  /** Whether its length is the catalogue's (null when not in the catalogue); checksums are left to `pull`. */
  sizeMatchesCatalogue: boolean | null;
}

/** A `.part` file an interrupted `hark models pull` left behind. */
export interface PartialDownload {
  name: string;
  path: string;
  bytes: number;
  /** The full length from the catalogue, when known. */
  expectedBytes: number | null;
}

export interface ModelListing {
  modelsDir: string;
  modelsDirExists: boolean;
  configured: ConfiguredModel & { exists: boolean };
  installed: InstalledModel[];
  partial: PartialDownload[];
  /** Catalogue models with no `ggml-<name>.bin` in MODELS_DIR, with their download length. */
  available: { name: string; bytes: number; sha1: string | null }[];
}

const MODEL_FILE = /^ggml-(.+)\.bin$/;
const PART_FILE = /^ggml-(.+)\.bin\.part$/;

async function fileSize(path: string): Promise<number | null> {
  const s = await stat(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return null;
    throw err;
  });
  return s?.isFile() ? s.size : null;
}

async function describeFile(path: string, bytes: number, location: InstalledModel['location'], configured: string, catalogue: Catalogue): Promise<InstalledModel> {
  const header = await readGgmlHeader(path);
  const catalogueName = MODEL_FILE.exec(basename(path))?.[1] ?? null;
  const entry = catalogueName === null ? undefined : catalogue.get(catalogueName);
  return {
    name: basename(path),
    path,
    bytes,
    location,
    ggml: header !== null,
    architecture: header?.architecture ?? null,
    weights: header?.weights ?? null,
    configured: path === configured,
    catalogueName: entry === undefined ? null : catalogueName,
    catalogueBytes: entry?.bytes ?? null,
    sizeMatchesCatalogue: entry === undefined ? null : entry.bytes === bytes,
  };
}

/**
 * The model files in MODELS_DIR (`ggml-*.bin`, and `.part` leftovers), the file WHISPER_MODEL_PATH
 * names, which one the whisper engine would load, and what the catalogue offers that is not here.
 * Reads only file headers, so it stays quick with multi-GB models.
 */
export async function listModels(config: Config, catalogue: Catalogue): Promise<ModelListing> {
  const dir = modelsDir(config);
  const chosen = configuredModel(config);
  const names = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return null;
    throw err;
  });
  const installed: InstalledModel[] = [];
  const partial: PartialDownload[] = [];
  for (const name of (names ?? []).sort()) {
    const path = join(dir, name);
    const part = PART_FILE.exec(name);
    if (!MODEL_FILE.test(name) && !part) continue;
    const bytes = await fileSize(path);
    if (bytes === null) continue;
    if (part) partial.push({ name, path, bytes, expectedBytes: catalogue.get(part[1] ?? '')?.bytes ?? null });
    else installed.push(await describeFile(path, bytes, 'MODELS_DIR', chosen.path, catalogue));
  }
  let configuredExists = installed.some((m) => m.configured);
  if (!configuredExists && chosen.source === 'WHISPER_MODEL_PATH') {
    const bytes = await fileSize(chosen.path);
    if (bytes !== null) {
      installed.push(await describeFile(chosen.path, bytes, 'WHISPER_MODEL_PATH', chosen.path, catalogue));
      configuredExists = true;
    }
  }
  const present = new Set(installed.filter((m) => m.location === 'MODELS_DIR').map((m) => m.name));
  const available = [...catalogue]
    .filter(([name]) => !present.has(modelFileName(name)))
    .map(([name, e]) => ({ name, bytes: e.bytes, sha1: e.sha1 }));
  return { modelsDir: dir, modelsDirExists: names !== null, configured: { ...chosen, exists: configuredExists }, installed, partial, available };
}
