import type { EngineCapabilities } from '../types.js';
import { AZURE_LOCALES } from './locale.js';

/** Declared apart from the engine so the registry knows it without loading the engine's dependencies. */
export const AZURE_CAPABILITIES: EngineCapabilities = {
  languages: AZURE_LOCALES,
  wordTimestamps: true,
  streaming: false,
  native: false,
  translates: false,
  // Only HTTP: nothing here can crash or leak the way native code can.
  defaultIsolation: 'in-process',
};
