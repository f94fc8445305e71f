import { EnergyDetector } from './energy.js';
import { SileroDetector, sileroSession } from './silero.js';
import type { VadKind, VoiceDetector } from './types.js';

/**
 * A new detector with its own state, for one audio at a time. The Silero model
 * is loaded once per process, on the first call, and shared by every detector.
 */
export async function loadDetector(kind: Exclude<VadKind, 'off'>): Promise<VoiceDetector> {
  if (kind === 'energy') return new EnergyDetector();
  return new SileroDetector(await sileroSession());
}

/** Loads what `loadDetector(kind)` needs without making a detector: warms a worker before its first task. */
export async function preloadVad(kind: VadKind): Promise<void> {
  if (kind === 'silero') await sileroSession();
}
