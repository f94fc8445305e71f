import { startChildServer, type ChildServer, type ChildServerOptions } from './child-server.js';
import type { PresetsModule } from './presets.js';
import { runLoad, type Endpoint, type RunResult, type RunSettings, type Sample } from './runner.js';

/*
 * The leak experiment, in one place: `hark demo leak` and `npm run bench:leak`
 * both run it. A server with SIMULATE_NATIVE_LEAK_MB (every transcription
 * mallocs that much, touches it and never frees it), once in-process and
 * once process-isolated, each on its own fresh child server, under the same
 * bounded closed-model load of one clip.
 */

/** What the two phases are run with. */
export interface LeakSettings {
  leakMb: number;
  /** Requests in flight; phase A runs IN_PROCESS_CONCURRENCY at this. */
  concurrency: number;
  /** WORKER_COUNT of phase B. */
  workers: number;
  workerMaxRssMb: number;
  maxTasksPerWorker: number;
}

/** One phase: its route and its server's settings. */
export interface LeakPhase {
  key: 'A' | 'B';
  name: 'in-process' | 'process-isolated';
  isolation: 'in-process' | 'process';
  endpoint: Extract<Endpoint, '/transcriptions/sync' | '/transcriptions/process-isolated'>;
  env: Record<string, string>;
}

/** A: the engine in the server, no pool; B: the engine in recycled worker processes. */
export function leakPhases(s: LeakSettings): [LeakPhase, LeakPhase] {
  const common = {
    SIMULATE_NATIVE_LEAK_MB: String(s.leakMb),
    MAX_QUEUE_SIZE: String(s.concurrency * 4),
    // Slots and recycle counts come from /debug/pool (served on loopback anyway).
    ENABLE_DEBUG_ENDPOINTS: 'true',
  };
  return [
    {
      key: 'A',
      name: 'in-process',
      isolation: 'in-process',
      endpoint: '/transcriptions/sync',
      env: { ...common, ENABLE_PROCESS_ISOLATED: 'false', DEFAULT_ISOLATION: 'in-process', IN_PROCESS_CONCURRENCY: String(s.concurrency) },
    },
    {
      key: 'B',
      name: 'process-isolated',
      isolation: 'process',
      endpoint: '/transcriptions/process-isolated',
      env: {
        ...common,
        ENABLE_PROCESS_ISOLATED: 'true',
        WORKER_COUNT: String(s.workers),
        WORKER_MAX_RSS_MB: String(s.workerMaxRssMb),
        MAX_TASKS_PER_WORKER: String(s.maxTasksPerWorker),
        IN_PROCESS_CONCURRENCY: '1',
      },
    },
  ];
}

/** How long and how hard one phase runs. */
export interface PhaseLoad {
  clip: string;
  concurrency: number;
  seconds: number;
  /** Stop after this many requests (default: only the time bounds). */
  maxRequests?: number;
  /** Stop sending once the server's RSS passes this (bytes). */
  capBytes?: number;
  /** Stop sending once the machine's MemAvailable falls under this (bytes). */
  reserveBytes: number;
}

/** What a caller adds around the load (the bench's warm-up, /proc sampling and settle). */
export interface PhaseHooks {
  /** Settings for the child server on top of the phase's (the bench's launch and cleanup). */
  server?: Omit<ChildServerOptions, 'env'> & { env?: Record<string, string> };
  /** Once the server is ready, before the load starts. */
  beforeLoad?: (server: ChildServer) => Promise<void> | void;
  onSample?: (sample: Sample, done: number, server: ChildServer) => void;
  /** After the last answer, before the server is stopped. */
  afterLoad?: (server: ChildServer, run: RunResult) => Promise<void> | void;
}

/** Runs one phase on its own child server; the server is stopped (its memory freed) before this returns. */
export async function runLeakPhase(phase: LeakPhase, load: PhaseLoad, presets: PresetsModule, hooks: PhaseHooks = {}): Promise<RunResult> {
  const server = await startChildServer({
    dataDirPrefix: 'hark-leak-',
    ...hooks.server,
    env: { LOG_LEVEL: 'warn', ...phase.env, ...hooks.server?.env },
  });
  try {
    await hooks.beforeLoad?.(server);
    const scenario = presets.scenarioFor('load', { MAX_VUS: String(load.concurrency), RAMP_UP: '0s', STEADY: `${load.seconds}s`, RAMP_DOWN: '0s' });
    const settings: RunSettings = {
      baseUrl: server.url,
      endpoint: phase.endpoint,
      scenario,
      durationSeconds: presets.totalSeconds(scenario.stages),
      audioFiles: [load.clip],
      thinkTimeSeconds: 0,
      requestTimeoutSeconds: 120,
      jobPollSeconds: 0.5,
      gracefulStopSeconds: 15,
      sampleIntervalMs: 1000,
      ...(load.maxRequests !== undefined ? { maxRequests: load.maxRequests } : {}),
      ...(load.capBytes !== undefined ? { stopAboveServerRssBytes: load.capBytes } : {}),
      stopBelowMemAvailableBytes: load.reserveBytes,
    };
    const run = await runLoad(settings, presets, { onSample: (s, done) => hooks.onSample?.(s, done, server) });
    await hooks.afterLoad?.(server, run);
    return run;
  } finally {
    await server.stop();
  }
}
