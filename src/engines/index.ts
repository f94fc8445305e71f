export * from './types.js';
export {
  createEngine,
  engineCapabilities,
  engineNotReady,
  loadEngines,
  resolveModel,
  resolveModelRef,
  type ModelRef,
  listModels,
  DEFAULT_MODEL_ALIASES,
} from './registry.js';
export { loadAddon, releaseFreeMemory } from './pocketsphinx/index.js';
export { openEngineStream, bufferedStream } from './stream.js';
export { checkTranslation } from './translation.js';
