import type { Engine, EngineStream, StreamCallbacks, StreamOptions, TranscribeHooks, TranscribeOptions, Transcript } from './types.js';
import type { PcmAudio } from '../audio/index.js';
import { loadAddon } from './pocketsphinx/index.js';

/**
 * SIMULATE_NATIVE_LEAK_MB: wraps an engine so every task leaks that much
 * native memory (malloc'd, touched, never freed), as the seeds' cloud SDK did.
 * It shows in the process's RSS and not in the JS heap, and only ending the
 * process gives it back.
 */
export class LeakingEngine implements Engine {
  constructor(
    private readonly inner: Engine,
    private readonly leakBytes: number,
  ) {}

  get name(): string {
    return this.inner.name;
  }

  get capabilities() {
    return this.inner.capabilities;
  }

  load() {
    return this.inner.load();
  }

  async transcribe(audio: PcmAudio, options: TranscribeOptions, hooks?: TranscribeHooks): Promise<Transcript> {
    const t = await this.inner.transcribe(audio, options, hooks);
    loadAddon().leakNativeMemory(this.leakBytes);
    return t;
  }

  /** Present only when the inner engine streams, so callers still pick the buffered path for the others. */
  get openStream(): ((options: StreamOptions, callbacks: StreamCallbacks) => EngineStream) | undefined {
    const open = this.inner.openStream?.bind(this.inner);
    return open;
  }

  unload() {
    return this.inner.unload();
  }
}
