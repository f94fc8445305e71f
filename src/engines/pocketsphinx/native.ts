import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** One utterance decoded by PocketSphinx; frames are 1/frameRate s. */
export interface NativeUtterance {
  text: string;
  score: number;
  prob: number;
  words: { word: string; startFrame: number; endFrame: number; prob: number }[];
}

export interface StartUttOptions {
  /**
   * Seeds live CMN with the mean cepstrum of these samples (a stream's first
   * second) before the utterance opens. Without it, the utterance goes on from
   * the live CMN the previous one left.
   */
  cmnAudio?: Int16Array;
}

/**
 * One PocketSphinx decoder. It runs one operation at a time (a second call
 * while `busy` throws), each on the libuv thread pool; between `startUtt` and
 * `endUtt` it belongs to that utterance and `decode` throws.
 */
export interface NativeDecoder {
  readonly busy: boolean;
  readonly inUtterance: boolean;
  readonly frameRate: number;
  /** Decodes one whole utterance (batch CMN). */
  decode(pcm: Int16Array): Promise<NativeUtterance>;
  /** Opens an utterance for incremental decoding (live CMN). */
  startUtt(options?: StartUttOptions): Promise<void>;
  /** Searches the next samples of the open utterance; `partial` is the best hypothesis so far. */
  processChunk(pcm: Int16Array): Promise<{ partial: string }>;
  /** Closes the open utterance: its final hypothesis and words, frames from its start. */
  endUtt(): Promise<NativeUtterance>;
  free(): void;
}

export interface PocketsphinxAddon {
  loadDecoder(args: string[]): Promise<NativeDecoder>;
  leakNativeMemory(bytes: number): number;
  /** prctl(PR_SET_PDEATHSIG): the kernel signals this process when its parent dies. */
  setParentDeathSignal(signal: number): void;
  /** malloc_trim(0): the heap's free memory back to the kernel (after a model is unloaded); true when some was. */
  releaseFreeMemory(): boolean;
}

// Same relative path from src/ (tests) and dist/ (built service).
const ADDON_PATH = fileURLToPath(new URL('../../../native/pocketsphinx/build/Release/hark_pocketsphinx.node', import.meta.url));

let addon: PocketsphinxAddon | undefined;

/** Loads the N-API addon built by `npm run build:native` against Debian's libpocketsphinx. */
export function loadAddon(): PocketsphinxAddon {
  addon ??= createRequire(import.meta.url)(ADDON_PATH) as PocketsphinxAddon;
  return addon;
}

/** Gives the heap's free memory back to the kernel after a model is unloaded (see the addon's ReleaseFreeMemory); a no-op without the addon. */
export function releaseFreeMemory(): void {
  try {
    loadAddon().releaseFreeMemory();
  } catch {
    // No addon (not built here): the memory stays in the heap until reused.
  }
}
