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
  IN_PROCESS_CONCURRENCY: int(1, 64, 1).describe(
    'Decodes that run at once inside the server, one engine instance each (PocketSphinx: ~95 MB per instance).',
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
  ENABLE_PROCESS_ISOLATED: bool(true).describe(
    'Run the supervised worker pool. false: no worker process is ever spawned and the process-isolated route answers 503 PROCESS_ISOLATION_DISABLED.',
  ),
  DEFAULT_ISOLATION: oneOf(['auto', 'in-process', 'process'] as const, 'auto').describe(
    'Mode of /transcriptions and /v1/audio/transcriptions when a request does not choose. auto: process when the pool is enabled, else in-process.',
  ),
  WORKER_COUNT: int(1, 256, os.availableParallelism()).describe('Worker processes in the pool, started warm at boot. Default: CPU count.'),
  MAX_TASKS_PER_WORKER: int(1, 1_000_000, 100).describe('A worker is replaced (warm replacement first) after this many tasks.'),
  WORKER_MAX_RSS_MB: int(64, 1_048_576, 1024).describe(
    'A worker whose resident memory (RSS, from /proc) passes this many MiB after a task takes no more work and is replaced.',
  ),
  TASK_TIMEOUT_SECONDS: z
    .string()
    .regex(/^\d+(\.\d+)?$/, { error: 'a number of seconds (or empty for automatic)' })
    .optional()
    .transform((v) => (v === undefined ? undefined : Number(v)))
    .describe("A task running longer gets its worker's process tree killed and answers 504. Empty: max(120, 2.5 x audio duration)."),
  WORKER_RESPAWN_BACKOFF_MAX_SECONDS: num(0.1, 3600, 30).describe('Longest wait before respawning a worker that keeps crashing (backoff doubles up to this).'),
  SHUTDOWN_GRACE_SECONDS: num(0, 3600, 30).describe('On SIGTERM/SIGINT, running tasks get this long to finish before their workers are killed.'),
  SIMULATE_NATIVE_LEAK_MB: num(0, 10_240, 0).describe(
    'Demonstration only: the engine allocates this much native memory per task and never frees it (shows in RSS, not the JS heap).',
  ),
  ENABLE_DEBUG_ENDPOINTS: z
    .enum(BOOL_VALUES, { error: `one of ${BOOL_VALUES.join(', ')}` })
    .optional()
    .transform((v) => (v === undefined ? undefined : v === 'true' || v === '1' || v === 'yes'))
    .describe('Serve /debug/pool. Empty: on when HOST is a loopback address, off otherwise.'),
  DATABASE_URL: z
    .string()
    .regex(/^(postgres(ql)?:\/\/.+|sqlite:.+)$/, { error: 'postgres://user:pass@host:5432/db, or sqlite:/path/to/file.db' })
    .optional()
    .describe('Job store. Empty: SQLite at DATA_DIR/hark.db. postgres://... shares jobs between several hark instances.'),
  HEARTBEAT_SECONDS: num(0.1, 3600, 5).describe('How often the server records a heartbeat for its running jobs (and itself).'),
  ORPHAN_SCAN_SECONDS: num(1, 86_400, 600).describe(
    'How often (and at start) running jobs with a heartbeat older than 3 heartbeats, or a dead owner, are recovered.',
  ),
  MAX_ATTEMPTS: int(1, 100, 3).describe('Runs a job gets (worker crashes, lost servers); after the last it fails with ORPHANED or the crash.'),
  PRIORITY_AGING_SECONDS: num(1, 86_400, 300).describe('A queued job moves up one priority level for each such period it waits, so low never starves.'),
  JOB_CLEANUP_MAX_AGE_HOURS: num(0.001, 87_600, 168).describe('Finished jobs, their audio and logs are deleted this long after they finish.'),
  KEEP_JOB_AUDIO: bool(false).describe("Keep a finished job's uploaded audio (until cleanup); false deletes it as soon as the job ends."),
  WEBHOOK_SECRET: z.string().optional().describe('HMAC-SHA256 key for signing job webhooks (X-Hark-Signature). Empty: webhooks are sent unsigned.'),
  WEBHOOK_MAX_ATTEMPTS: int(1, 50, 5).describe('Deliveries tried per webhook (backoff 1 s, 2 s, 4 s...; Retry-After honoured).'),
  WEBHOOK_TIMEOUT_SECONDS: num(0.1, 300, 10).describe('Time limit of one webhook delivery.'),
  ENABLE_DOCS: bool(true).describe('Serve the OpenAPI document at `/docs` (UI) and `/docs/json`.'),
} as const;

export const configSchema = z.object(configShape).superRefine((c, ctx) => {
  if (c.DEFAULT_ISOLATION === 'process' && !c.ENABLE_PROCESS_ISOLATED) {
    ctx.addIssue({
      code: 'custom',
      path: ['DEFAULT_ISOLATION'],
      message: 'in-process or auto while ENABLE_PROCESS_ISOLATED=false (there is no pool to send requests to)',
    });
  }
});

/** The parsed, frozen configuration every module receives from `main.ts`. */
export type Config = Readonly<z.output<typeof configSchema>>;

/** The raw environment form (all strings), e.g. for tests that build a Config. */
export type ConfigInput = Partial<Record<keyof typeof configShape, string>>;

/** Settings whose default depends on the machine (left empty in `.env.example`). */
export const MACHINE_DEFAULTS: ReadonlySet<keyof typeof configShape> = new Set(['WORKER_COUNT', 'TASK_TIMEOUT_SECONDS', 'ENABLE_DEBUG_ENDPOINTS']);

/** Old names from the seed services, still accepted. */
export const CONFIG_ALIASES: Readonly<Record<string, keyof typeof configShape>> = {
  API_HOST: 'HOST',
  API_PORT: 'PORT',
};
