import type { EngineEntry } from '../types.js';
import { UPSTREAM_CAPABILITIES, UpstreamEngine, upstreamOptions } from './engine.js';

export { UpstreamEngine, UPSTREAM_CAPABILITIES, upstreamOptions, type UpstreamEngineOptions } from './engine.js';

/** Any OpenAI-compatible transcription server, called with the openai client. */
export const upstreamEntry: EngineEntry = {
  capabilities: UPSTREAM_CAPABILITIES,
  create: (config) => new UpstreamEngine(upstreamOptions(config)),
};
