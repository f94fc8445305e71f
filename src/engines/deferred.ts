import type { Config } from '../config/index.js';
import { AppError } from '../errors.js';
import type { Engine, EngineCapabilities, EngineContext, EngineEntry, EngineInfo, TranscribeHooks, TranscribeOptions, Transcript } from './types.js';
import type { PcmAudio } from '../audio/index.js';

/**
 * An engine whose code (and its dependencies: an HTTP client, an identity
 * library) is imported only when it is loaded, so a server that does not use it
 * does not carry it (the idle-RSS budget). Only for engines without `openStream`.
 */
export function deferredEntry(name: string, capabilities: EngineCapabilities, load: () => Promise<EngineEntry>): EngineEntry {
  return { capabilities, create: (config, context) => new DeferredEngine(name, capabilities, config, context, load) };
}

class DeferredEngine implements Engine {
  private inner: Engine | undefined;

  constructor(
    readonly name: string,
    readonly capabilities: EngineCapabilities,
    private readonly config: Config,
    private readonly context: EngineContext | undefined,
    private readonly entry: () => Promise<EngineEntry>,
  ) {}

  async load(): Promise<EngineInfo> {
    this.inner ??= (await this.entry()).create(this.config, this.context);
    return this.inner.load();
  }

  transcribe(audio: PcmAudio, options: TranscribeOptions, hooks?: TranscribeHooks): Promise<Transcript> {
    if (this.inner === undefined) return Promise.reject(new AppError('ENGINE_NOT_READY', `the ${this.name} engine is not loaded`));
    return this.inner.transcribe(audio, options, hooks);
  }

  async unload(): Promise<void> {
    await this.inner?.unload();
  }
}
