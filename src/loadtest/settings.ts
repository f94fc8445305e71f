import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseDotenv } from 'dotenv';
import type { PresetsModule } from './presets.js';
import { ENDPOINTS, type Endpoint, type RunSettings } from './runner.js';

/** The variables of .env.k6 (documented in .env.k6.example), as both k6 and the runner read them. */
export type K6Env = Record<string, string | undefined>;

/** .env.k6 (or `file`) under the environment: the environment wins, empty values count as unset. */
export function readK6Env(file: string | undefined, env: NodeJS.ProcessEnv = process.env): K6Env {
  const path = file ?? '.env.k6';
  const fromFile = existsSync(path) ? parseDotenv(readFileSync(path)) : {};
  if (file !== undefined && !existsSync(path)) throw new Error(`${path}: no such file`);
  const out: K6Env = {};
  for (const [k, v] of Object.entries(fromFile)) if (v !== '') out[k] = v;
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v !== '') out[k] = v;
  return out;
}

/** Audio paths of an AUDIO_LIST file: one per line, '#' comments; relative paths are relative to the list. */
export function readAudioList(file: string): string[] {
  if (!existsSync(file)) throw new Error(`AUDIO_LIST ${file}: no such file (node loadtest/make-audio-list.mjs <dir> > ${file})`);
  return readFileSync(file, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((p) => (isAbsolute(p) ? p : resolve(dirname(file), p)));
}

export interface Overrides {
  audioFiles?: string[];
  rate?: number;
  gracefulStopSeconds?: number;
  stopAboveServerRssBytes?: number;
  stopBelowMemAvailableBytes?: number;
  sampleIntervalMs?: number;
}

export function settingsFrom(env: K6Env, presets: PresetsModule, o: Overrides = {}): RunSettings {
  const endpoint = env['ENDPOINT'] ?? '/transcriptions/sync';
  if (!(ENDPOINTS as readonly string[]).includes(endpoint)) throw new Error(`ENDPOINT must be one of ${ENDPOINTS.join(', ')}, not "${endpoint}"`);
  const scenario = presets.scenarioFor(env['TEST_MODE'] ?? 'smoke', {
    MAX_VUS: env['MAX_VUS'],
    RAMP_UP: env['RAMP_UP'],
    STEADY: env['STEADY'],
    RAMP_DOWN: env['RAMP_DOWN'],
  });
  const num = (name: string, dflt: number) => {
    const v = env[name] === undefined ? dflt : Number(env[name]);
    if (!Number.isFinite(v) || v < 0) throw new Error(`${name} must be a number >= 0, not "${env[name]}"`);
    return v;
  };
  const settings: RunSettings = {
    baseUrl: (env['BASE_URL'] ?? 'http://127.0.0.1:8000').replace(/\/+$/, ''),
    endpoint: endpoint as Endpoint,
    scenario,
    durationSeconds: presets.totalSeconds(scenario.stages),
    audioFiles: o.audioFiles ?? readAudioList(env['AUDIO_LIST'] ?? 'audio-list.txt'),
    thinkTimeSeconds: num('THINK_TIME', 0),
    requestTimeoutSeconds: presets.parseDuration(env['REQUEST_TIMEOUT'] ?? '300s'),
    jobPollSeconds: num('JOB_POLL_INTERVAL', 0.5),
    gracefulStopSeconds: o.gracefulStopSeconds ?? 30,
    sampleIntervalMs: o.sampleIntervalMs ?? 1000,
  };
  if (o.rate !== undefined) settings.rate = o.rate;
  if (o.stopAboveServerRssBytes !== undefined) settings.stopAboveServerRssBytes = o.stopAboveServerRssBytes;
  if (o.stopBelowMemAvailableBytes !== undefined) settings.stopBelowMemAvailableBytes = o.stopBelowMemAvailableBytes;
  return settings;
}

/** "20/s", "20" or "1200/m" -> arrivals per second. */
export function parseRate(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(?:\/\s*(s|m|min))?\s*$/.exec(text);
  if (!m) throw new Error(`--rate must look like 20/s or 600/m, not "${text}"`);
  const n = Number(m[1]);
  const r = m[2] === 'm' || m[2] === 'min' ? n / 60 : n;
  if (!(r > 0)) throw new Error('--rate must be above 0');
  return r;
}
