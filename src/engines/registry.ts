import type { Config } from '../config/index.js';
import { AppError } from '../errors.js';
import { PocketsphinxEngine, POCKETSPHINX_CAPABILITIES, parseDecoderArgs } from './pocketsphinx/index.js';
import { LeakingEngine } from './leak.js';
import type { Engine, EngineCapabilities } from './types.js';

export type EngineName = Config['ENGINE'];

interface EngineEntry {
  capabilities: EngineCapabilities;
  /** A fresh, unloaded instance; executors create one per parallel decode. */
  create(config: Config): Engine;
}

/** Every engine this build knows. Adding one is adding an entry here. */
const ENGINES: Record<EngineName, EngineEntry> = {
  pocketsphinx: {
    capabilities: POCKETSPHINX_CAPABILITIES,
    create: (config) =>
      new PocketsphinxEngine({
        modelDir: config.POCKETSPHINX_MODEL_DIR,
        extraArgs: parseDecoderArgs(config.POCKETSPHINX_ARGS),
        utteranceMaxSeconds: config.UTTERANCE_MAX_SECONDS,
      }),
  },
};

/** Model names clients already send (OpenAI's) that mean "the default engine". */
export const DEFAULT_MODEL_ALIASES = ['whisper-1', 'default'] as const;

export function createEngine(name: EngineName, config: Config): Engine {
  const engine = ENGINES[name].create(config);
  return config.SIMULATE_NATIVE_LEAK_MB > 0 ? new LeakingEngine(engine, config.SIMULATE_NATIVE_LEAK_MB * 1024 * 1024) : engine;
}

export function engineCapabilities(name: EngineName): EngineCapabilities {
  return ENGINES[name].capabilities;
}

/** Resolves an OpenAI-style `model` to an engine, or fails with MODEL_NOT_FOUND listing valid names. */
export function resolveModel(model: string | undefined, config: Config): EngineName {
  if (model === undefined || model === '' || (DEFAULT_MODEL_ALIASES as readonly string[]).includes(model)) {
    return config.ENGINE;
  }
  if (model in ENGINES) return model as EngineName;
  const valid = [...listModels(config)].join(', ');
  throw new AppError('MODEL_NOT_FOUND', `unknown model "${model}"; this server offers: ${valid}`, {
    details: { valid_models: listModels(config) },
  });
}

/** Names a client may pass as `model`. */
export function listModels(config: Config): string[] {
  return [config.ENGINE, ...DEFAULT_MODEL_ALIASES];
}
