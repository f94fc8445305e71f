import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** One utterance decoded by PocketSphinx; frames are 1/frameRate s. */
export interface NativeUtterance {
  text: string;
  score: number;
  prob: number;
  words: { word: string; startFrame: number; endFrame: number; prob: number }[];
}

export interface NativeDecoder {
  readonly busy: boolean;
  readonly frameRate: number;
  /** Decodes one whole utterance on the libuv thread pool. */
  decode(pcm: Int16Array): Promise<NativeUtterance>;
  free(): void;
}

export interface PocketsphinxAddon {
  loadDecoder(args: string[]): Promise<NativeDecoder>;
  leakNativeMemory(bytes: number): number;
  /** prctl(PR_SET_PDEATHSIG): the kernel signals this process when its parent dies. */
  setParentDeathSignal(signal: number): void;
}

// Same relative path from src/ (tests) and dist/ (built service).
const ADDON_PATH = fileURLToPath(new URL('../../../native/pocketsphinx/build/Release/hark_pocketsphinx.node', import.meta.url));

let addon: PocketsphinxAddon | undefined;

/** Loads the N-API addon built by `npm run build:native` against Debian's libpocketsphinx. */
export function loadAddon(): PocketsphinxAddon {
  addon ??= createRequire(import.meta.url)(ADDON_PATH) as PocketsphinxAddon;
  return addon;
}
