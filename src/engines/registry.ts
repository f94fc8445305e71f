import type { Config } from '../config/index.js';
import { AppError, toSerializedError } from '../errors.js';
import { AZURE_CAPABILITIES } from './azure/capabilities.js';
import { deferredEntry } from './deferred.js';
import { LeakingEngine } from './leak.js';
import { pocketsphinxEntry } from './pocketsphinx/index.js';
import type { Engine, EngineCapabilities, EngineEntry, EngineInfo, EngineName, EngineStatus } from './types.js';
import { UPSTREAM_CAPABILITIES } from './upstream/capabilities.js';
import { whisperEntry } from './whisper/index.js';
import { preloadVad } from '../vad/index.js';

/** Every engine this build knows. Adding one is adding an entry here (and its name to ENGINE_NAMES). */
const ENGINES: Record<EngineName, EngineEntry> = {
  pocketsphinx: pocketsphinxEntry,
  whisper: whisperEntry,
  // Remote engines load their HTTP clients only when configured.
  azure: deferredEntry('azure', AZURE_CAPABILITIES, async () => (await import('./azure/index.js')).azureEntry),
  upstream: deferredEntry('upstream', UPSTREAM_CAPABILITIES, async () => (await import('./upstream/index.js')).upstreamEntry),
};

/**
 * Model names clients already send (OpenAI's) that mean "the default engine":
 * the openai package's `AudioModel`, `gpt-transcribe` (in OpenAI's API reference,
 * not yet in the package), and the Realtime API's transcription models, so that
 * every name GET /v1/models lists works on every endpoint.
 */
export const DEFAULT_MODEL_ALIASES = [
  'whisper-1',
  'default',
  'gpt-4o-transcribe',
  'gpt-4o-mini-transcribe',
  'gpt-4o-mini-transcribe-2025-12-15',
  'gpt-4o-transcribe-diarize',
  'gpt-transcribe',
  'gpt-realtime-whisper',
] as const;

export function createEngine(name: EngineName, config: Config): Engine {
  const engine = ENGINES[name].create(config);
  return config.SIMULATE_NATIVE_LEAK_MB > 0 ? new LeakingEngine(engine, config.SIMULATE_NATIVE_LEAK_MB * 1024 * 1024) : engine;
}

export function engineCapabilities(name: EngineName): EngineCapabilities {
  return ENGINES[name].capabilities;
}

/**
 * Loads `count` instances of each engine. An engine that fails is reported as
 * failed (its error kept for /readyz and for requests naming it), never thrown:
 * the other engines still serve. The VAD (VAD_*) is loaded first, as every
 * engine here decodes through it: one that fails fails every engine, with its error.
 */
export async function loadEngines(
  names: readonly EngineName[],
  config: Config,
  count = 1,
): Promise<{ instances: Map<EngineName, Engine[]>; status: EngineStatus[] }> {
  const instances = new Map<EngineName, Engine[]>();
  const status: EngineStatus[] = [];
  try {
    await preloadVad(config.VAD);
  } catch (err) {
    const { code, message } = toSerializedError(err);
    const error = { code, message: `the ${config.VAD} VAD did not load (VAD=${config.VAD}; VAD=energy or VAD=off runs without it): ${message}` };
    return { instances, status: names.map((name) => ({ name, state: 'failed' as const, error })) };
  }
  for (const name of names) {
    const loaded: Engine[] = [];
    try {
      // Sequential loads: parallel ones only compete for the same disk and cores.
      let info: EngineInfo | undefined;
      for (let i = 0; i < count; i++) {
        const engine = createEngine(name, config);
        const loadedInfo = await engine.load();
        info ??= loadedInfo;
        loaded.push(engine);
      }
      instances.set(name, loaded);
      if (info !== undefined) status.push({ name, state: 'ready', info });
    } catch (err) {
      await Promise.allSettled(loaded.map((e) => e.unload()));
      const { code, message } = toSerializedError(err);
      status.push({ name, state: 'failed', error: { code, message } });
    }
  }
  return { instances, status };
}

/** The error a request for an engine that did not load gets. */
export function engineNotReady(name: string, status: readonly EngineStatus[], where: string): AppError {
  const s = status.find((e) => e.name === name);
  const why = s?.state === 'failed' ? `: ${s.error.message}` : '';
  return new AppError('ENGINE_NOT_READY', `engine "${name}" is not loaded ${where}${why}`);
}

/** Resolves an OpenAI-style `model` to an engine, or fails with MODEL_NOT_FOUND listing valid names. */
export function resolveModel(model: string | undefined, config: Config): EngineName {
  if (model === undefined || model === '' || (DEFAULT_MODEL_ALIASES as readonly string[]).includes(model)) {
    return config.ENGINE;
  }
  if ((config.ENGINES as readonly string[]).includes(model)) return model as EngineName;
  const valid = listModels(config).join(', ');
  throw new AppError('MODEL_NOT_FOUND', `unknown model "${model}"; this server offers: ${valid}`, {
    details: { valid_models: listModels(config) },
  });
}

/** Names a client may pass as `model`: the loaded engines, then the aliases of the default one. */
export function listModels(config: Config): string[] {
  return [...config.ENGINES, ...DEFAULT_MODEL_ALIASES];
}
