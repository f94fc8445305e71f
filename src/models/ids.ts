import { readdirSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Config } from '../config/index.js';
import { MODEL_NAME, modelFileName } from './catalogue.js';
import { configuredModel, modelsDir } from './paths.js';

/*
 * Model ids: what a client passes as `model` (OpenAI routes) or `engine` (hark's routes) to pick a
 * whisper model per request. `whisper-<name>` is `MODELS_DIR/ggml-<name>.bin`, the file
 * `hark models pull <name>` and `POST /v1/models/whisper-<name>` write; `whisper` is the engine's
 * default model (WHISPER_MODEL_SIZE or WHISPER_MODEL_PATH).
 */

const PREFIX = 'whisper-';
type ModelsConfig = Pick<Config, 'MODELS_DIR' | 'DATA_DIR' | 'WHISPER_MODEL_PATH' | 'WHISPER_MODEL_SIZE'>;

export function whisperModelId(name: string): string {
  return `${PREFIX}${name}`;
}

/** `whisper-tiny.en` -> `tiny.en`; undefined for anything that is not a whisper model id. */
export function whisperModelName(id: string): string | undefined {
  if (!id.startsWith(PREFIX)) return undefined;
  const name = id.slice(PREFIX.length);
  return MODEL_NAME.test(name) ? name : undefined;
}

/** The file and id of a whisper model: `name`'s in MODELS_DIR, or the configured default. */
export interface WhisperModelFile {
  id: string;
  path: string;
  /** Its name in MODELS_DIR, or null for a WHISPER_MODEL_PATH outside it. */
  name: string | null;
}

/** The default model: `whisper-<size>`, or WHISPER_MODEL_PATH (named `whisper-<name>` when it is MODELS_DIR's `ggml-<name>.bin`). */
export function defaultWhisperModel(config: ModelsConfig): WhisperModelFile {
  const chosen = configuredModel(config);
  if (chosen.size !== null) return { id: whisperModelId(chosen.size), path: chosen.path, name: chosen.size };
  const inDir = dirname(chosen.path) === modelsDir(config) ? /^ggml-(.+)\.bin$/.exec(basename(chosen.path))?.[1] : undefined;
  return inDir !== undefined && MODEL_NAME.test(inDir) ? { id: whisperModelId(inDir), path: chosen.path, name: inDir } : { id: 'whisper', path: chosen.path, name: null };
}

/** The file a request's model name stands for (absent: the default). */
export function whisperModelFile(config: ModelsConfig, name: string | undefined): WhisperModelFile {
  const fallback = defaultWhisperModel(config);
  if (name === undefined || name === fallback.name) return fallback;
  return { id: whisperModelId(name), path: join(modelsDir(config), modelFileName(name)), name };
}

/** Names of the `ggml-<name>.bin` files in MODELS_DIR now (sorted); none when the folder does not exist. */
export function installedWhisperNames(config: ModelsConfig): string[] {
  let files: string[];
  try {
    files = readdirSync(modelsDir(config));
  } catch {
    return [];
  }
  return files
    .map((f) => /^ggml-(.+)\.bin$/.exec(f)?.[1])
    .filter((n): n is string => n !== undefined && MODEL_NAME.test(n))
    .sort();
}

/** A file's length, or null when there is none. */
export function fileBytes(path: string): number | null {
  try {
    const s = statSync(path);
    return s.isFile() ? s.size : null;
  } catch {
    return null;
  }
}
