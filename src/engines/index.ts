export * from './types.js';
export {
  createEngine,
  engineCapabilities,
  engineNotReady,
  loadEngines,
  resolveModel,
  listModels,
  DEFAULT_MODEL_ALIASES,
} from './registry.js';
export { loadAddon } from './pocketsphinx/index.js';
export { openEngineStream, bufferedStream } from './stream.js';
export { checkTranslation } from './translation.js';
