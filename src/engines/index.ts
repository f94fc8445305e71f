export * from './types.js';
export { createEngine, engineCapabilities, resolveModel, listModels, DEFAULT_MODEL_ALIASES, type EngineName } from './registry.js';
export { loadAddon } from './pocketsphinx/index.js';
