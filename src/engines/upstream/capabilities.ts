import type { EngineCapabilities } from '../types.js';

/** Declared apart from the engine so the registry knows it without loading the engine's dependencies. */
/** Languages are whatever the upstream accepts: `[]` declares no list, and hark checks none. */
export const UPSTREAM_CAPABILITIES: EngineCapabilities = {
  languages: [],
  wordTimestamps: true,
  streaming: false,
  native: false,
  translates: true,
  defaultIsolation: 'in-process',
};
