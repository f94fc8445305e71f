import type { Config } from '../config/index.js';
import { AppError, toSerializedError } from '../errors.js';
import { AZURE_CAPABILITIES } from './azure/capabilities.js';
import { deferredEntry } from './deferred.js';
import { LeakingEngine } from './leak.js';
import { pocketsphinxEntry } from './pocketsphinx/index.js';
import type { Engine, EngineCapabilities, EngineContext, EngineEntry, EngineInfo, EngineName, EngineStatus } from './types.js';
import { UPSTREAM_CAPABILITIES } from './upstream/capabilities.js';
import { whisperEntry } from './whisper/index.js';
import { preloadVad } from '../vad/index.js';
import { fileBytes, installedWhisperNames, ModelCache, loadCatalogueSync, whisperModelFile, whisperModelId, whisperModelName } from '../models/index.js';

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

/** A fresh instance of `name`; `context` is what the engines of one process share (a cache of their own when absent). */
export function createEngine(name: EngineName, config: Config, context: EngineContext = { models: new ModelCache({ limitBytes: 0, idleTtlMs: 0 }) }): Engine {
  const engine = ENGINES[name].create(config, context);
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
  context: EngineContext = { models: new ModelCache({ limitBytes: 0, idleTtlMs: 0 }) },
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
        const engine = createEngine(name, config, context);
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

/** An engine, and the model of it a request picked (a whisper model name; absent: the engine's default). */
export interface ModelRef {
  engine: EngineName;
  model?: string | undefined;
}

/**
 * Resolves a `model` (OpenAI routes) or `engine` (hark's) to an engine and a model: an engine
 * name, an alias of the default engine (`whisper-1`), or `whisper-<name>` for MODELS_DIR's
 * `ggml-<name>.bin`. Fails with MODEL_NOT_FOUND listing valid ids, MODEL_NOT_DOWNLOADED for a
 * catalogue model not downloaded yet, MODEL_MEMORY_LIMIT for one larger than a process may hold.
 */
export function resolveModelRef(model: string | undefined, config: Config): ModelRef {
  if (model === undefined || model === '' || (DEFAULT_MODEL_ALIASES as readonly string[]).includes(model)) {
    return { engine: config.ENGINE };
  }
  if ((config.ENGINES as readonly string[]).includes(model)) return { engine: model as EngineName };
  const name = whisperModelName(model);
  if (name !== undefined && config.ENGINES.includes('whisper')) {
    const file = whisperModelFile(config, name);
    const bytes = fileBytes(file.path);
    if (bytes !== null) {
      const limit = config.MODEL_MEMORY_LIMIT_MB * 1e6;
      if (limit > 0 && bytes > limit) {
        throw new AppError('MODEL_MEMORY_LIMIT', `model ${model} (${Math.round(bytes / 1e6)} MB) is larger than MODEL_MEMORY_LIMIT_MB (${config.MODEL_MEMORY_LIMIT_MB}) allows one process`, {
          details: { model, needed_bytes: bytes, limit_bytes: limit },
        });
      }
      return { engine: 'whisper', model: name };
    }
    if (loadCatalogueSync(config.MODELS_CATALOGUE).has(name)) {
      throw new AppError('MODEL_NOT_DOWNLOADED', `model ${model} is in the catalogue but not downloaded to this server; an admin pulls it with POST /v1/models/${model} (or \`hark models pull ${name}\`)`, {
        details: { model },
      });
    }
  }
  const valid = listModels(config);
  throw new AppError('MODEL_NOT_FOUND', `unknown model "${model}"; this server offers: ${valid.join(', ')}`, {
    details: { valid_models: valid },
  });
}

/** Resolves an OpenAI-style `model` to its engine (see resolveModelRef). */
export function resolveModel(model: string | undefined, config: Config): EngineName {
  return resolveModelRef(model, config).engine;
}

/** Names a client may pass as `model`: the loaded engines, the whisper models in MODELS_DIR, then the aliases of the default one. */
export function listModels(config: Config): string[] {
  const whisper = config.ENGINES.includes('whisper') ? installedWhisperNames(config).map(whisperModelId) : [];
  return [...config.ENGINES, ...whisper, ...DEFAULT_MODEL_ALIASES];
}
