import type { EngineEntry } from '../types.js';
import { PocketsphinxEngine, POCKETSPHINX_CAPABILITIES, parseDecoderArgs } from './engine.js';

export { PocketsphinxEngine, POCKETSPHINX_CAPABILITIES, TUNED_ARGS, mergeDecoderArgs, parseDecoderArgs, type PocketsphinxEngineOptions } from './engine.js';
export { loadAddon, releaseFreeMemory } from './native.js';

export const pocketsphinxEntry: EngineEntry = {
  capabilities: POCKETSPHINX_CAPABILITIES,
  create: (config) =>
    new PocketsphinxEngine({
      modelDir: config.POCKETSPHINX_MODEL_DIR,
      extraArgs: parseDecoderArgs(config.POCKETSPHINX_ARGS),
      utteranceMaxSeconds: config.UTTERANCE_MAX_SECONDS,
    }),
};
