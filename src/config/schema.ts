import { isIP } from 'node:net';
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

/** How log lines are written: JSON, readable lines, or readable only when stdout is a terminal. */
export const LOG_FORMATS = ['auto', 'json', 'pretty'] as const;

/** Engines this build knows; the registry (engines/) maps each name to its implementation. */
export const ENGINE_NAMES = ['pocketsphinx', 'whisper', 'azure', 'upstream'] as const;

/** Voice activity detectors (vad/): Silero's neural one, a level threshold, or none. */
export const VAD_KINDS = ['silero', 'energy', 'off'] as const;

/** ggml model sizes whisper.cpp publishes (`ggml-<size>.bin`). */
export const WHISPER_MODEL_SIZES = [
  'tiny', 'tiny.en', 'base', 'base.en', 'small', 'small.en', 'medium', 'medium.en', 'large-v1', 'large-v2', 'large-v3', 'large-v3-turbo',
] as const;

function optionalText() {
  return z.string().min(1).optional();
}

function optionalInt(min: number, max: number) {
  const allowed = `an integer from ${min} to ${max} (or empty)`;
  return z
    .string()
    .regex(/^\d+$/, { error: allowed })
    .optional()
    .transform((v) => (v === undefined ? undefined : Number(v)))
    .pipe(z.number().int().min(min, { error: allowed }).max(max, { error: allowed }).optional());
}

/** A comma-separated list, trimmed, without empty or repeated entries. */
function commaList() {
  return z
    .string()
    .default('')
    .transform((v) => [...new Set(v.split(',').map((s) => s.trim()).filter((s) => s !== ''))]);
}

/** A host name, an IP address, or a CIDR range (checked loosely; src/net parses it). */
function outboundEntryOk(entry: string): boolean {
  const [net = '', bits, extra] = entry.replace(/^\[|\]$/g, '').split('/');
  if (extra !== undefined) return false;
  if (bits !== undefined) return isIP(net) !== 0 && /^\d{1,3}$/.test(bits) && Number(bits) <= (isIP(net) === 4 ? 32 : 128);
  return isIP(net) !== 0 || /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?\.?$/i.test(net);
}

function httpUrl() {
  return z
    .string()
    .refine((v) => URL.canParse(v) && ['http:', 'https:'].includes(new URL(v).protocol), { error: 'an http:// or https:// URL' })
    .optional();
}

/**
 * TRUST_PROXY as Fastify's `trustProxy` takes it: false (empty), true, a hop
 * count, or a list of addresses and CIDR ranges.
 */
function trustProxy() {
  return z
    .string()
    .default('')
    .transform((v, ctx): boolean | number | string[] => {
      const t = v.trim();
      if (t === '' || t === 'false') return false;
      if (t === 'true') return true;
      if (/^\d+$/.test(t)) return Number(t);
      const list = t.split(',').map((s) => s.trim()).filter((s) => s !== '');
      const bad = list.filter((e) => !outboundEntryOk(e) || isIP(e.replace(/^\[|\]$/g, '').split('/')[0] ?? '') === 0);
      if (bad.length > 0) ctx.addIssue({ code: 'custom', message: `true, a hop count, or IP addresses/CIDR ranges (not ${bad.join(', ')})` });
      return list;
    });
}

const DEFAULT_POCKETSPHINX_MODEL_DIR = '/usr/share/pocketsphinx/model/en-us';

export const configShape = {
  HOST: text('127.0.0.1').describe('Address to listen on. `API_HOST` is accepted as an alias.'),
  PORT: int(0, 65535, 8000).describe('TCP port to listen on (0 picks a free one). `API_PORT` is accepted as an alias.'),
  LOG_LEVEL: oneOf(LOG_LEVELS, 'info').describe('pino log level.'),
  LOG_FORMAT: oneOf(LOG_FORMATS, 'auto').describe(
    'How log lines are written. json: one JSON object per line (for log collectors). pretty: readable coloured lines. auto: pretty when stdout is a terminal, else json.',
  ),
  DATA_DIR: text('./data').describe('Where hark keeps its SQLite database, job files (`jobs/`) and uploads in flight (`tmp/<host>-<pid>-<start time>/`, one folder per server process).'),
  MAX_FILE_SIZE_MB: num(0.001, 10_240, 500).describe(
    'Largest upload accepted, in MB (10^6 bytes). Larger bodies get 413 FILE_TOO_LARGE before they are read.',
  ),
  MAX_AUDIO_SECONDS: num(1, 86_400, 14_400).describe('Longest audio accepted, in seconds (after decoding). Longer gets 400 AUDIO_TOO_LONG.'),
  ENGINES: z
    .string()
    .default('pocketsphinx')
    .transform((v) => [...new Set(v.split(',').map((s) => s.trim()).filter((s) => s !== ''))])
    .pipe(z.array(z.enum(ENGINE_NAMES, { error: `a comma list of ${ENGINE_NAMES.join(', ')}` })).min(1, { error: 'at least one engine' }))
    .describe(`Engines loaded at start, comma-separated: ${ENGINE_NAMES.join(', ')}. Requests pick one with \`model\`.`),
  ENGINE: z
    .enum(ENGINE_NAMES, { error: `one of ${ENGINE_NAMES.join(', ')}` })
    .optional()
    .describe('Engine used when a request names none (and for the `whisper-1` alias). Empty: the first of ENGINES.'),
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
  MODELS_DIR: optionalText().describe('Where `hark models pull` and `POST /v1/models/{id}` put model files and WHISPER_MODEL_SIZE is looked up. Empty: DATA_DIR/models.'),
  MODELS_BASE_URL: z
    .string()
    .refine((v) => URL.canParse(v) && ['http:', 'https:'].includes(new URL(v).protocol), { error: 'an http:// or https:// URL' })
    .default('https://huggingface.co/ggerganov/whisper.cpp/resolve/main')
    .describe('Where `hark models pull SIZE` and `POST /v1/models/whisper-SIZE` download `ggml-<size>.bin` from (only when asked); point it at a mirror for closed networks.'),
  WHISPER_MODEL_SIZE: oneOf(WHISPER_MODEL_SIZES, 'base.en').describe('whisper.cpp model used when WHISPER_MODEL_PATH is empty: `MODELS_DIR/ggml-<size>.bin`.'),
  WHISPER_MODEL_PATH: optionalText().describe('A ggml model file for the whisper engine; overrides WHISPER_MODEL_SIZE.'),
  MODELS_CATALOGUE: optionalText().describe(
    'JSON file `{"<name>": {"bytes": n, "sha1": "<hex>"|null}}` adding to or replacing entries of the built-in whisper catalogue (a mirror with other files); read by the server and `hark models`.',
  ),
  MODEL_IDLE_TTL_SECONDS: int(0, 604_800, 300).describe(
    'A whisper model unused this long is unloaded from every process that holds it (its memory goes back); the next request loads it again. 0: never.',
  ),
  MODEL_MEMORY_LIMIT_MB: int(0, 1_048_576, 0).describe(
    'Most memory the whisper models held by one process (the server or one worker) may take; the least recently used idle ones are unloaded to make room, and a model that cannot fit is refused (503 MODEL_MEMORY_LIMIT). 0: no limit.',
  ),
  WHISPER_THREADS: optionalInt(1, 256).describe('CPU threads of one whisper decode. Empty: CPU count divided by the decodes that can run at once (at least 1).'),
  WHISPER_LANGUAGE: text('en').describe('Spoken language for whisper when a request names none (`auto` detects it; `.en` models know only English).'),
  WHISPER_BEST_OF: int(1, 16, 5).describe('Candidates whisper samples when it falls back to a higher temperature (greedy decoding; see docs/engines/whisper.md on beam search).'),
  AZURE_SPEECH_KEY: optionalText().describe('Azure Speech resource key. Empty: a Microsoft Entra ID token from @azure/identity (DefaultAzureCredential) with AZURE_SPEECH_ENDPOINT.'),
  AZURE_SPEECH_REGION: optionalText().describe('Azure region of the Speech resource, e.g. `westeurope` (or set AZURE_SPEECH_ENDPOINT).'),
  AZURE_SPEECH_ENDPOINT: httpUrl().describe('Speech resource endpoint, e.g. `https://<name>.cognitiveservices.azure.com` (required for Entra ID). Overrides the region.'),
  AZURE_SPEECH_LANGUAGE: text('en-US').describe('Locale for Azure Speech when a request names none.'),
  AZURE_SPEECH_PROFANITY: oneOf(['masked', 'removed', 'raw'] as const, 'masked').describe('What Azure does with profanity.'),
  AZURE_SPEECH_DIARIZATION_MAX_SPEAKERS: int(0, 36, 0).describe('Azure speaker diarization on every request, up to this many speakers (0: only for requests with diarize=true, bounded by their count or 8). Azure\'s labels are kept as speakers.'),
  AZURE_SPEECH_TIMEOUT_SECONDS: num(1, 7200, 600).describe('Time limit of one Azure request.'),
  AZURE_SPEECH_MAX_RETRIES: int(0, 20, 4).describe('Retries of an Azure request answered 429 or 5xx, or not answered (backoff, Retry-After honoured).'),
  UPSTREAM_BASE_URL: httpUrl().describe('Base URL of an OpenAI-compatible server for the upstream engine, e.g. `https://api.openai.com/v1`.'),
  UPSTREAM_API_KEY: optionalText().describe('API key sent to the upstream server (Bearer).'),
  UPSTREAM_MODEL: text('whisper-1').describe('`model` sent to the upstream server.'),
  UPSTREAM_TIMEOUT_SECONDS: num(1, 7200, 300).describe('Time limit of one upstream request.'),
  UPSTREAM_MAX_RETRIES: int(0, 20, 2).describe('Retries of an upstream request answered 429, 5xx or not at all.'),
  UPSTREAM_DIARIZE: bool(false).describe(
    'The upstream model labels speakers (e.g. `gpt-4o-transcribe-diarize`): a request with diarize sends it the whole file for `diarized_json` and keeps its speakers (files too long for one request get hark\'s diarizer).',
  ),
  UTTERANCE_MAX_SECONDS: num(5, 60, 30).describe(
    'Long audio is cut at silences into utterances no longer than this, each decoded whole (memory stays flat with length).',
  ),
  VAD: oneOf(VAD_KINDS, 'silero').describe(
    'Voice activity detection in front of every engine: `silero` (a neural VAD, runs where the engine runs), `energy` (a level threshold) or `off` (the engine hears everything). Long non-speech never reaches the engine; live utterances end on it.',
  ),
  VAD_THRESHOLD: num(0.05, 0.95, 0.5).describe('Speech probability at which speech starts (silero); it ends below this minus 0.15. Per request: `vad_threshold`, or `chunking_strategy.threshold` on /v1/audio/transcriptions.'),
  VAD_MIN_SILENCE_MS: int(100, 10_000, 1000).describe(
    'A file is cut only at non-speech at least this long; shorter pauses stay inside an utterance as they are. Per request: `vad_min_silence_ms`, or `chunking_strategy.silence_duration_ms`.',
  ),
  VAD_SPEECH_PAD_MS: int(0, 2000, 400).describe('Audio kept on each side of a speech region (the decoder wants a little lead-in). Per request: `vad_speech_pad_ms`, or `chunking_strategy.prefix_padding_ms`.'),
  VAD_MIN_SPEECH_MS: int(0, 5000, 250).describe('Speech shorter than this (a click, a cough) is taken for non-speech.'),
  MAX_STREAMS: int(0, 10_000, 4).describe('Live WebSocket streams at once (each holds an engine instance or a worker); past it the upgrade gets 503 AT_CAPACITY.'),
  STREAM_MIN_CHUNK_SIZE: int(320, 1_048_576, 3200).describe('Bytes of 16 kHz PCM gathered before a stream decodes (3200 = 100 ms); smaller frames are joined.'),
  STREAM_MAX_BUFFER_SIZE: int(3200, 104_857_600, 320_000).describe(
    'Bytes of audio a stream may hold undecoded (320000 = 10 s of PCM); a client sending faster than that is told STREAM_TOO_FAST and closed. Also the largest frame.',
  ),
  STREAM_SILENCE_SECONDS: num(0.1, 10, 0.5).describe('A pause this long ends an utterance of a live stream (its final result is sent).'),
  STREAM_IDLE_TIMEOUT_SECONDS: num(1, 3600, 30).describe('A stream that sends nothing for this long is closed with STREAM_IDLE_TIMEOUT.'),
  STREAM_MAX_DURATION_SECONDS: num(1, 604_800, 3600).describe(
    'Longest a live stream may stay open (wall time, however much audio it sends); then it gets its last results and is closed with STREAM_TOO_LONG.',
  ),
  STREAM_RESERVED_ENGINES: optionalInt(0, 256).describe(
    'Engines of each isolation mode that live streams may never take, kept for file work. Empty: 1 in a mode that has at least 2, 0 in a mode that has 1.',
  ),
  KEY_MAX_STREAMS: optionalInt(0, 10_000).describe(
    'Live streams one API key (one client address without keys) may have open at once; past it the upgrade gets 429 RATE_LIMITED. 0: no cap. Empty: 2 with AUTH_MODE=api_key, no cap with AUTH_MODE=none.',
  ),
  ENABLE_PROCESS_ISOLATED: bool(true).describe(
    'Run the supervised worker pool. false: no worker process is ever spawned and the process-isolated route answers 503 PROCESS_ISOLATION_DISABLED.',
  ),
  DEFAULT_ISOLATION: oneOf(['auto', 'in-process', 'process'] as const, 'auto').describe(
    'Mode of /transcriptions and /v1/audio/transcriptions when a request does not choose. auto: each engine its own default mode (native engines such as pocketsphinx and whisper in the worker pool when it is enabled, remote ones such as azure and upstream in-process).',
  ),
  WORKER_COUNT: int(1, 256, os.availableParallelism()).describe('Worker processes in the pool, started warm at boot. Default: CPU count. `MAX_CONCURRENT_WORKERS` is accepted as an alias.'),
  MAX_TASKS_PER_WORKER: int(1, 1_000_000, 100).describe('A worker is replaced (warm replacement first) after this many tasks.'),
  WORKER_MAX_RSS_MB: int(64, 1_048_576, 1024).describe(
    'A worker whose resident memory (RSS, from /proc) passes this many MiB after a task takes no more work and is replaced.',
  ),
  WORKER_NICE: int(0, 19, 5).describe(
    "Worker processes (and anything they start) run this many nice steps below the server, so the server's event loop keeps answering while every core decodes. 0: the server's own priority.",
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
  ROLE: oneOf(['all', 'api', 'worker'] as const, 'all').describe(
    'What this instance does. all: HTTP API and job runner. api: every HTTP route, stores jobs, claims none (sync requests still run here). worker: claims and runs jobs; HTTP only health, readiness, metrics, capacity and debug. Several instances share jobs through DATABASE_URL (PostgreSQL).',
  ),
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
  OUTBOUND_ALLOW: commaList()
    .refine((v) => v.every(outboundEntryOk), { error: 'a comma list of host names, IP addresses or CIDR ranges (e.g. 10.0.0.0/8, fd00::/8)' })
    .describe(
      'Exceptions to the outbound guard: hark calls webhook callback URLs, UPSTREAM_BASE_URL and AZURE_SPEECH_ENDPOINT only on global unicast addresses (never loopback, private, link-local, unique-local, CGNAT, multicast, reserved, or an IPv6 tunnel or translation of an internal IPv4 address) unless the host name or a CIDR range is listed here, comma-separated, e.g. `127.0.0.1/32,speaches.internal`.',
    ),
  ALLOWED_HOSTS: commaList().describe(
    'Host names (with or without port) the server answers to when AUTH_MODE=none, besides loopback names and IP addresses (a DNS-rebinding guard). Set it to the names clients use when HOST is not loopback. `*`: any host. Ignored with AUTH_MODE=api_key.',
  ),
  TRUST_PROXY: trustProxy().describe(
    'Reverse proxies whose X-Forwarded-For/-Proto/-Host are believed: `true` (any), a hop count, or addresses/CIDRs, comma-separated. Sets the client address (rate limits, upload caps) and marks the session cookie Secure behind a TLS proxy. Empty: none.',
  ),
  CORS_ORIGINS: commaList().describe('Origins allowed to call the API from a browser (CORS), comma-separated, e.g. `https://app.example.com`. Empty: no cross-origin access.'),
  REQUEST_TIMEOUT_SECONDS: int(1, 86_400, 300).describe(
    'Time limit for receiving a whole request, upload included; a client that sends slower is cut off (slow-loris). Raise it for very large uploads over slow links.',
  ),
  ENABLE_DOCS: bool(true).describe('Serve the OpenAPI document at `/docs` (UI) and `/docs/json`.'),
  AUTH_MODE: oneOf(['none', 'api_key'] as const, 'none').describe(
    'none: every route is open (a loud warning at start when HOST is not loopback), to clients that name the server by localhost, an IP address or ALLOWED_HOSTS. api_key: API routes need a key from `hark keys create`, sent as `Authorization: Bearer` or `X-API-Key`.',
  ),
  METRICS_TOKEN: z.string().min(16, { error: 'at least 16 characters' }).optional().describe('With AUTH_MODE=api_key, this Bearer token also opens /metrics (for Prometheus), besides a key with the admin scope.'),
  RATE_LIMIT_PER_MINUTE: optionalInt(0, 1_000_000).describe(
    'Requests per minute per API key (per client IP without one), with RateLimit-* headers; over it, 429 RATE_LIMITED. 0: off. Empty: 120 with AUTH_MODE=api_key, off with AUTH_MODE=none. /healthz and /readyz are never counted. Also the failed authentications one client address may have per minute before its requests get 429.',
  ),
  KEY_MAX_ACTIVE_JOBS: optionalInt(0, 1_000_000).describe(
    'Queued plus running jobs one API key may have, and never more than half of MAX_QUEUE_SIZE (one key cannot fill the queue); a submit over it gets 429 RATE_LIMITED. 0: no cap. Empty: 100 with AUTH_MODE=api_key, no cap with AUTH_MODE=none.',
  ),
  KEY_MAX_UPLOADS: optionalInt(0, 100_000).describe(
    'Uploads one API key may have in flight (being received) at once; past it, 429 RATE_LIMITED before the body is read. 0: no cap. Empty: 8 with AUTH_MODE=api_key, no cap with AUTH_MODE=none.',
  ),
  ADDRESS_MAX_UPLOADS: int(0, 100_000, 16).describe(
    'Uploads one client address may have in flight at once (see TRUST_PROXY behind a proxy); past it, 429 RATE_LIMITED before the body is read. 0: no cap.',
  ),
  KEY_MAX_AUDIO_HOURS_PER_DAY: num(0, 1_000_000, 0).describe(
    'Hours of audio one API key may have transcribed per UTC day (files, jobs and streams); past it, 429 QUOTA_EXCEEDED until 00:00 UTC. 0: no limit (usage is still counted).',
  ),
} as const;

export const configSchema = z
  .object(configShape)
  .superRefine((c, ctx) => {
  if (c.ENGINE !== undefined && !c.ENGINES.includes(c.ENGINE)) {
    ctx.addIssue({ code: 'custom', path: ['ENGINE'], message: `one of ENGINES (${c.ENGINES.join(', ')})` });
  }
  if (c.DEFAULT_ISOLATION === 'process' && !c.ENABLE_PROCESS_ISOLATED) {
    ctx.addIssue({
      code: 'custom',
      path: ['DEFAULT_ISOLATION'],
      message: 'in-process or auto while ENABLE_PROCESS_ISOLATED=false (there is no pool to send requests to)',
    });
  }
  if (c.ENGINES.includes('azure') && c.AZURE_SPEECH_REGION === undefined && c.AZURE_SPEECH_ENDPOINT === undefined) {
    ctx.addIssue({ code: 'custom', path: ['AZURE_SPEECH_REGION'], message: 'a region (or AZURE_SPEECH_ENDPOINT) when ENGINES includes azure' });
  }
  if (c.ENGINES.includes('azure') && c.AZURE_SPEECH_KEY === undefined && c.AZURE_SPEECH_ENDPOINT === undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['AZURE_SPEECH_ENDPOINT'],
      message: 'the resource endpoint when ENGINES includes azure without AZURE_SPEECH_KEY (Entra ID tokens need the custom-domain endpoint)',
    });
  }
  if (c.ENGINES.includes('upstream') && c.UPSTREAM_BASE_URL === undefined) {
    ctx.addIssue({ code: 'custom', path: ['UPSTREAM_BASE_URL'], message: 'the upstream server\'s base URL when ENGINES includes upstream' });
  }
  })
  .transform((c) => {
    // Per-key shares are on by default once there are keys to count by.
    const keyed = (value: number | undefined, withKeys: number) => value ?? (c.AUTH_MODE === 'api_key' ? withKeys : 0);
    return {
      ...c,
      ENGINE: c.ENGINE ?? c.ENGINES[0] ?? 'pocketsphinx',
      KEY_MAX_ACTIVE_JOBS: keyed(c.KEY_MAX_ACTIVE_JOBS, 100),
      KEY_MAX_STREAMS: keyed(c.KEY_MAX_STREAMS, 2),
      KEY_MAX_UPLOADS: keyed(c.KEY_MAX_UPLOADS, 8),
    };
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
  MAX_CONCURRENT_WORKERS: 'WORKER_COUNT',
};
