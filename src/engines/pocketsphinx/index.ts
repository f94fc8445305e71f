export { PocketsphinxEngine, POCKETSPHINX_CAPABILITIES, TUNED_ARGS, parseDecoderArgs, type PocketsphinxEngineOptions } from './engine.js';
export { loadAddon } from './native.js';
