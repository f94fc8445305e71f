import type { ScratchDir } from '../os/index.js';
import type { UsageMeter } from '../auth/usage.js';
import type { KeyLookup } from './auth.js';
import type { ModelRegistry } from '../models/index.js';
import type { Config } from '../config/index.js';
import type { Isolation } from '../engines/index.js';
import type { JobService } from '../jobs/index.js';
import type { Metrics } from '../metrics/index.js';
import type { MemoryHistory } from '../metrics/memory-history.js';
import type { WorkerPool } from '../pool/index.js';
import type { TranscriptionService } from '../transcription/index.js';

/** What `/readyz` reports; main.ts moves it along as the server starts and stops. */
export interface Readiness {
  state: 'starting' | 'ready' | 'failed' | 'stopping';
  isolationModes: Isolation[];
  error?: string;
}

/** Everything the HTTP layer needs, handed down from main.ts (no singletons). */
export interface AppDeps {
  config: Config;
  service: TranscriptionService;
  temp: ScratchDir;
  readiness: Readiness;
  /** The worker pool, for read-only views (/debug/pool, /readyz); undefined when ENABLE_PROCESS_ISOLATED=false. */
  pool: WorkerPool | undefined;
  /** API keys (the store's key store); needed when AUTH_MODE=api_key. */
  keys?: KeyLookup | undefined;
  /** Audio hours per key and day (KEY_MAX_AUDIO_HOURS_PER_DAY); counted for every key, limited when set. */
  usage?: UsageMeter | undefined;
  /** Async jobs (durable, in the job store). */
  jobs: JobService | undefined;
  /** Prometheus metrics; /metrics is served when present. */
  metrics: Metrics | undefined;
  /** Server and worker memory over the last minutes, for /api/v1/system/memory (empty when absent). */
  memory?: MemoryHistory | undefined;
  /** Every model the server knows, with pulls and deletes (/v1/models); absent in tests that build a bare app. */
  models?: ModelRegistry | undefined;
  /** Where the built web page is (default: dist/ui of this checkout). */
  uiDir?: string | undefined;
}
