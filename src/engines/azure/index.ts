import type { EngineEntry } from '../types.js';
import { AZURE_CAPABILITIES, AzureSpeechEngine } from './engine.js';

/** Azure AI Speech over REST: fast transcription, short-audio fallback. */
export const azureEntry: EngineEntry = {
  capabilities: AZURE_CAPABILITIES,
  create: (config) => new AzureSpeechEngine(config),
};

export { AzureSpeechEngine, AZURE_CAPABILITIES, type AzureEngineOptions } from './engine.js';
export { azureLocale, AZURE_LOCALES } from './locale.js';
export { azureEndpoints, FAST_API_VERSION } from './protocol.js';
export { retryAfterMs } from './client.js';
export { COGNITIVE_SERVICES_SCOPE } from './auth.js';
