import os from 'node:os';
import { z } from 'zod';

/**
 * Every setting hark reads, in one schema. Each entry documents itself: its
 * description and default are what `.env.example` and the README's table show
 * (a test keeps them in step). No other module reads `process.env`.
 */

const BOOL_VALUES = ['true', 'false', '1', '0', 'yes', 'no'] as const;

/** Booleans accept only true/false/1/0/yes/no (never `z.coerce.boolean()`, which reads "false" as true). */
function bool(def: boolean) {
  return z
    .enum(BOOL_VALUES, { error: `one of ${BOOL_VALUES.join(', ')}` })
    .default(def ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1' || v === 'yes');
}

function int(min: number, max: number, def: number) {
  const allowed = `an integer from ${min} to ${max}`;
  return z
    .string()
    .regex(/^-?\d+$/, { error: allowed })
    .default(String(def))
    .transform(Number)
    .pipe(z.number().int().min(min, { error: allowed }).max(max, { error: allowed }));
}

function num(min: number, max: number, def: number) {
  const allowed = `a number from ${min} to ${max}`;
  return z
    .string()
    .regex(/^-?\d+(\.\d+)?$/, { error: allowed })
    .default(String(def))
    .transform(Number)
    .pipe(z.number().min(min, { error: allowed }).max(max, { error: allowed }));
}

function oneOf<const T extends readonly [string, ...string[]]>(values: T, def: T[number]) {
  return z.enum(values, { error: `one of ${values.join(', ')}` }).default(def);
}

function text(def: string) {
  return z.string().min(1, { error: 'a non-empty string' }).default(def);
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Engines this build knows; the registry (engines/) maps each name to its implementation. */
export const ENGINE_NAMES = ['pocketsphinx'] as const;

const DEFAULT_POCKETSPHINX_MODEL_DIR = '/usr/share/pocketsphinx/model/en-us';

export const configShape = {
  HOST: text('127.0.0.1').describe('Address to listen on. `API_HOST` is accepted as an alias.'),
  PORT: int(0, 65535, 8000).describe('TCP port to listen on (0 picks a free one). `API_PORT` is accepted as an alias.'),
  LOG_LEVEL: oneOf(LOG_LEVELS, 'info').describe('pino log level.'),
  DATA_DIR: text('./data').describe('Where hark keeps uploads in flight (`tmp/`) and, later, its database and job files.'),
  MAX_FILE_SIZE_MB: num(0.001, 10_240, 500).describe(
    'Largest upload accepted, in MB (10^6 bytes). Larger bodies get 413 FILE_TOO_LARGE before they are read.',
  ),
  MAX_AUDIO_SECONDS: num(1, 86_400, 14_400).describe('Longest audio accepted, in seconds (after decoding). Longer gets 400 AUDIO_TOO_LONG.'),
  ENGINE: oneOf(ENGINE_NAMES, 'pocketsphinx').describe('Speech engine used when a request names none.'),
  IN_PROCESS_CONCURRENCY: int(1, 64, Math.max(1, Math.min(os.availableParallelism(), 4))).describe(
    'Decodes that run at once inside the server (one engine instance each). Default: CPU count, at most 4.',
  ),
  MAX_QUEUE_SIZE: int(0, 100_000, 32).describe(
    'Requests that may wait for a free engine; past that hark answers 503 AT_CAPACITY with Retry-After at once.',
  ),
  POCKETSPHINX_MODEL_DIR: text(DEFAULT_POCKETSPHINX_MODEL_DIR).describe(
    'PocketSphinx model folder holding `en-us/` (acoustic model), `en-us.lm.bin` and `cmudict-en-us.dict` (Debian: pocketsphinx-en-us).',
  ),
  POCKETSPHINX_ARGS: z
    .string()
    .regex(/^\s*(-\w+\s+\S+\s*)*$/, { error: 'pairs of "-name value", e.g. "-lw 6 -beam 1e-60"' })
    .default('')
    .describe('Extra PocketSphinx decoder arguments, e.g. `-lw 6 -beam 1e-60`; they override hark\'s tuned defaults.'),
  UTTERANCE_MAX_SECONDS: num(5, 60, 30).describe(
    'Long audio is cut at silences into utterances no longer than this, each decoded whole (memory stays flat with length).',
  ),
  ENABLE_DOCS: bool(true).describe('Serve the OpenAPI document at `/docs` (UI) and `/docs/json`.'),
} as const;

export const configSchema = z.object(configShape);

/** The parsed, frozen configuration every module receives from `main.ts`. */
export type Config = Readonly<z.output<typeof configSchema>>;

/** The raw environment form (all strings), e.g. for tests that build a Config. */
export type ConfigInput = Partial<Record<keyof typeof configShape, string>>;

/** Settings whose default depends on the machine (left empty in `.env.example`). */
export const MACHINE_DEFAULTS: ReadonlySet<keyof typeof configShape> = new Set(['IN_PROCESS_CONCURRENCY']);

/** Old names from the seed services, still accepted. */
export const CONFIG_ALIASES: Readonly<Record<string, keyof typeof configShape>> = {
  API_HOST: 'HOST',
  API_PORT: 'PORT',
};
