import os from 'node:os';
import type { Config } from '../../config/index.js';
import { configuredModel, defaultWhisperModel, whisperModelFile } from '../../models/index.js';
import type { EngineEntry } from '../types.js';
import { WhisperEngine, WHISPER_CAPABILITIES } from './engine.js';

export { WhisperEngine, WHISPER_CAPABILITIES, WHISPER_LANGUAGES, whisperLanguage } from './engine.js';

/** Threads per decode: the cores shared by the decodes that can run at once. */
export function whisperThreads(config: Config): number {
  if (config.WHISPER_THREADS !== undefined) return config.WHISPER_THREADS;
  const atOnce = Math.max(config.ENABLE_PROCESS_ISOLATED ? config.WORKER_COUNT : 0, config.IN_PROCESS_CONCURRENCY);
  return Math.max(1, Math.floor(os.availableParallelism() / atOnce));
}

export const whisperEntry: EngineEntry = {
  capabilities: WHISPER_CAPABILITIES,
  create: (config, context) => {
    const model = configuredModel(config);
    return new WhisperEngine({
      modelPath: model.path,
      modelId: defaultWhisperModel(config).id,
      modelFile: (name) => whisperModelFile(config, name),
      ...(context === undefined ? {} : { models: context.models }),
      modelSource: model.source === 'WHISPER_MODEL_PATH' ? 'WHISPER_MODEL_PATH' : `WHISPER_MODEL_SIZE=${config.WHISPER_MODEL_SIZE} in MODELS_DIR`,
      threads: whisperThreads(config),
      language: config.WHISPER_LANGUAGE,
      bestOf: config.WHISPER_BEST_OF,
      utteranceMaxSeconds: config.UTTERANCE_MAX_SECONDS,
    });
  },
};
