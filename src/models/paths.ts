import { join, resolve } from 'node:path';
import type { Config } from '../config/index.js';
import { modelFileName, type WhisperModelSize } from './catalogue.js';

/** The folder `hark models pull` writes to and WHISPER_MODEL_SIZE is looked up in (absolute). */
export function modelsDir(config: Pick<Config, 'MODELS_DIR' | 'DATA_DIR'>): string {
  return resolve(config.MODELS_DIR ?? join(config.DATA_DIR, 'models'));
}

/** The model file the whisper engine loads with this configuration, and which setting chose it. */
export interface ConfiguredModel {
  path: string;
  source: 'WHISPER_MODEL_PATH' | 'WHISPER_MODEL_SIZE';
  /** The size named by WHISPER_MODEL_SIZE when that setting chose the file. */
  size: WhisperModelSize | null;
}

/** WHISPER_MODEL_PATH when set, else `MODELS_DIR/ggml-<WHISPER_MODEL_SIZE>.bin` (absolute). */
export function configuredModel(config: Pick<Config, 'MODELS_DIR' | 'DATA_DIR' | 'WHISPER_MODEL_PATH' | 'WHISPER_MODEL_SIZE'>): ConfiguredModel {
  if (config.WHISPER_MODEL_PATH !== undefined) return { path: resolve(config.WHISPER_MODEL_PATH), source: 'WHISPER_MODEL_PATH', size: null };
  return { path: join(modelsDir(config), modelFileName(config.WHISPER_MODEL_SIZE)), source: 'WHISPER_MODEL_SIZE', size: config.WHISPER_MODEL_SIZE };
}
