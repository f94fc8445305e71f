import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/*
 * The TEST_MODE presets live in one plain JS module, loadtest/k6/presets.js,
 * which k6 imports too. From src/loadtest (tsx) and from dist/loadtest (the
 * build) it is two folders up, in the package root.
 */

export interface Stage {
  duration: string;
  target: number;
}

export interface Scenario {
  mode: string;
  maxVus: number;
  startVUs: number;
  stages: Stage[];
}

export interface PresetsModule {
  PRESETS: Record<string, { maxVus: number; rampUp: string; steady: string; rampDown: string; steps: number }>;
  TEST_MODES: string[];
  parseDuration(text: string): number;
  formatDuration(seconds: number): string;
  scenarioFor(mode: string | undefined, env: Record<string, string | undefined>): Scenario;
  totalSeconds(stages: readonly Stage[]): number;
  targetAt(scenario: Scenario, t: number): number;
}

export const PRESETS_PATH = fileURLToPath(new URL('../../loadtest/k6/presets.js', import.meta.url));

let cached: PresetsModule | undefined;

export async function loadPresets(): Promise<PresetsModule> {
  if (cached) return cached;
  if (!existsSync(PRESETS_PATH)) throw new Error(`${PRESETS_PATH} is missing (the load-test presets ship with hark's source)`);
  cached = (await import(new URL('../../loadtest/k6/presets.js', import.meta.url).href)) as PresetsModule;
  return cached;
}
