import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Config } from '../config/index.js';
import { ERROR_CODES } from '../errors.js';
import { JOB_STATUSES, type Job, type Jobs } from '../jobs/index.js';
import { UNLOAD_REASONS } from '../models/index.js';
import { diskSpace } from '../os/index.js';
import type { WorkerPool, WorkerState } from '../pool/index.js';
import type { StreamObserver, TranscriptionObserver, TranscriptionService } from '../transcription/index.js';

const WORKER_STATES: readonly WorkerState[] = ['starting', 'idle', 'busy', 'retiring'];
const RECYCLE_REASONS = ['tasks', 'rss', 'timeout', 'crash', 'cancel'] as const;

export interface MetricsSources {
  config: Config;
  service: TranscriptionService;
  pool: WorkerPool | undefined;
  jobs: Jobs;
}

/**
 * Counters that mirror a monotonic total kept elsewhere (the pool's, the
 * runner's): at scrape time the counter is moved up by what changed.
 */
function mirror(counter: Counter<string>, labels: Record<string, string>, last: Map<string, number>, value: number): void {
  const key = `${(counter as unknown as { name: string }).name}${JSON.stringify(labels)}`;
  const prev = last.get(key) ?? 0;
  if (value > prev) counter.inc(labels, value - prev);
  else if (!last.has(key)) counter.inc(labels, 0);
  last.set(key, value);
}

/**
 * hark's Prometheus metrics. Everything is read from snapshots at scrape time
 * or observed after the fact: nothing in a request's path waits on a metric.
 * Labels are bounded: routes are patterns, workers are slots, errors are codes.
 */
export class Metrics implements TranscriptionObserver {
  readonly registry = new Registry();
  private readonly mirrored = new Map<string, number>();

  readonly httpRequests = new Counter({
    name: 'hark_http_requests_total',
    help: 'HTTP requests by route pattern, method and status code.',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [this.registry],
  });
  readonly httpDuration = new Histogram({
    name: 'hark_http_request_duration_seconds',
    help: 'HTTP request duration (uploads included) by route pattern and method.',
    labelNames: ['route', 'method'] as const,
    buckets: [0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
    registers: [this.registry],
  });
  readonly errors = new Counter({
    name: 'hark_errors_total',
    help: 'Error answers by hark error code.',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });
  readonly transcriptions = new Counter({
    name: 'hark_transcriptions_total',
    help: 'Transcriptions (sync and jobs) by isolation mode, engine and outcome (ok or an error code).',
    labelNames: ['isolation', 'engine', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly transcriptionDuration = new Histogram({
    name: 'hark_transcription_duration_seconds',
    help: 'Time from upload received to transcript ready (decode, queue and recognition).',
    labelNames: ['isolation', 'engine'] as const,
    buckets: [0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120, 300, 600, 1800],
    registers: [this.registry],
  });
  readonly audioSeconds = new Counter({
    name: 'hark_audio_seconds_total',
    help: 'Seconds of audio transcribed successfully.',
    labelNames: ['isolation', 'engine'] as const,
    registers: [this.registry],
  });
  readonly realTimeFactor = new Histogram({
    name: 'hark_transcription_realtime_factor',
    help: 'Processing time divided by audio duration (lower is faster; 1 = real time).',
    labelNames: ['isolation', 'engine'] as const,
    buckets: [0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 2, 5],
    registers: [this.registry],
  });
  readonly spawnDuration = new Histogram({
    name: 'hark_worker_spawn_duration_seconds',
    help: 'Time from spawning a worker process to its engine being loaded (warm).',
    buckets: [0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 2, 5, 10],
    registers: [this.registry],
  });

  readonly streamsTotal = new Counter({
    name: 'hark_streams_total',
    help: 'Live streams ended, by engine, isolation mode and outcome (ok or the error code).',
    labelNames: ['engine', 'isolation', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly streamAudioSeconds = new Counter({
    name: 'hark_stream_audio_seconds_total',
    help: 'Seconds of audio received by live streams.',
    labelNames: ['engine', 'isolation'] as const,
    registers: [this.registry],
  });
  readonly streamResultLatency = new Histogram({
    name: 'hark_stream_result_latency_seconds',
    help: 'Time from a chunk of live audio reaching the engine to the partial or final result it produced.',
    labelNames: ['kind'] as const,
    buckets: [0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2],
    registers: [this.registry],
  });

  readonly modelLoads = new Counter({
    name: 'hark_model_loads_total',
    help: 'Models loaded into a process (the server in-process, or a worker): a first request for a model, or one after an unload.',
    labelNames: ['model', 'isolation'] as const,
    registers: [this.registry],
  });
  readonly modelUnloads = new Counter({
    name: 'hark_model_unloads_total',
    help: 'Models unloaded from a process, by reason: idle (MODEL_IDLE_TTL_SECONDS), memory (room made under MODEL_MEMORY_LIMIT_MB), deleted, shutdown.',
    labelNames: ['model', 'isolation', 'reason'] as const,
    registers: [this.registry],
  });
  readonly modelLoadDuration = new Histogram({
    name: 'hark_model_load_duration_seconds',
    help: 'Time to load a model into a process (what the request that loads it waits on top of decoding).',
    labelNames: ['model', 'isolation'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
    registers: [this.registry],
  });

  /** What live streams report (see LiveStream). */
  readonly streams: StreamObserver = {
    streamStarted: () => undefined,
    streamEnded: (e) => {
      this.streamsTotal.inc({ engine: e.engine, isolation: e.isolation, outcome: e.outcome });
      this.streamAudioSeconds.inc({ engine: e.engine, isolation: e.isolation }, e.audioSeconds);
    },
    resultSent: (e) => this.streamResultLatency.observe({ kind: e.kind }, e.latencySeconds),
  };

  constructor(private readonly s: MetricsSources) {
    collectDefaultMetrics({ register: this.registry });
    // Every code starts at 0, so the first error of a kind shows in rate()/increase()
    // (a series born at 1 has no earlier sample to count the step from).
    for (const code of ERROR_CODES) this.errors.inc({ code }, 0);
    s.service.observe(this);
    s.pool?.observe({ workerReady: (ms) => this.spawnDuration.observe(ms / 1000) });
    this.registerServerMemory();
    this.registerDataDir();
    this.registerPool();
    this.registerCapacity();
    this.registerJobs();
    new Gauge({
      name: 'hark_model_resident_bytes',
      help: 'Memory each loaded model takes in each process: `process` is `server` (in-process) or the worker\'s slot.',
      labelNames: ['model', 'isolation', 'process'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const m of s.service.models()) this.inc({ model: m.id, isolation: m.isolation, process: m.slot === undefined ? 'server' : `worker-${m.slot}` }, m.bytes);
      },
    });
    new Gauge({
      name: 'hark_streams_active',
      help: 'Live WebSocket streams open now (MAX_STREAMS at most).',
      registers: [this.registry],
      collect() {
        this.set(s.service.streams().active);
      },
    });
  }

  modelEvent(e: Parameters<NonNullable<TranscriptionObserver['modelEvent']>>[0]): void {
    if (e.type === 'loaded') {
      this.modelLoads.inc({ model: e.id, isolation: e.isolation });
      this.modelLoadDuration.observe({ model: e.id, isolation: e.isolation }, e.loadMs / 1000);
      // Every reason starts at 0 with the model, so its first unload shows in rate()/increase().
      for (const reason of UNLOAD_REASONS) this.modelUnloads.inc({ model: e.id, isolation: e.isolation, reason }, 0);
    } else if (e.type === 'unloaded') {
      this.modelUnloads.inc({ model: e.id, isolation: e.isolation, reason: e.reason });
    }
  }

  transcriptionFinished(e: Parameters<TranscriptionObserver['transcriptionFinished']>[0]): void {
    const labels = { isolation: e.isolation, engine: e.engine };
    this.transcriptions.inc({ ...labels, outcome: e.outcome });
    if (e.outcome !== 'ok') return;
    this.transcriptionDuration.observe(labels, e.seconds);
    if (e.audioSeconds !== undefined && e.audioSeconds > 0) {
      this.audioSeconds.inc(labels, e.audioSeconds);
      this.realTimeFactor.observe(labels, e.seconds / e.audioSeconds);
    }
  }

  private registerServerMemory(): void {
    new Gauge({
      name: 'hark_server_memory_bytes',
      help: 'Memory of the server process: rss (what the kernel charges, native included), heap_used, heap_total, external.',
      labelNames: ['type'] as const,
      registers: [this.registry],
      collect() {
        const m = process.memoryUsage();
        this.set({ type: 'rss' }, m.rss);
        this.set({ type: 'heap_used' }, m.heapUsed);
        this.set({ type: 'heap_total' }, m.heapTotal);
        this.set({ type: 'external' }, m.external);
      },
    });
  }

  /** When DATA_DIR's file system fills, uploads and jobs are refused with 507 INSUFFICIENT_STORAGE. */
  private registerDataDir(): void {
    const dir = this.s.config.DATA_DIR;
    new Gauge({
      name: 'hark_data_dir_bytes',
      help: "Space of the file system holding DATA_DIR (uploads in flight, decoded audio, jobs' files, the SQLite store): available (to hark's user) and size.",
      labelNames: ['type'] as const,
      registers: [this.registry],
      async collect() {
        try {
          const space = await diskSpace(dir);
          this.set({ type: 'available' }, space.available);
          this.set({ type: 'size' }, space.size);
        } catch {
          // DATA_DIR gone (unmounted): no sample, rather than a failed scrape.
          this.reset();
        }
      },
    });
  }

  private registerPool(): void {
    const { pool, config } = this.s;
    new Gauge({
      name: 'hark_pool_enabled',
      help: '1 when the process-isolated worker pool is on (ENABLE_PROCESS_ISOLATED).',
      registers: [this.registry],
      collect() {
        this.set(pool === undefined ? 0 : 1);
      },
    });
    new Gauge({
      name: 'hark_pool_size',
      help: 'Worker slots (WORKER_COUNT; 0 when the pool is off).',
      registers: [this.registry],
      collect() {
        this.set(pool?.size ?? 0);
      },
    });
    new Gauge({
      name: 'hark_worker_resident_memory_bytes',
      help: 'Resident memory (RSS, from /proc) of the worker in each slot; 0 when the slot (or the pool) has none.',
      labelNames: ['slot'] as const,
      registers: [this.registry],
      async collect() {
        // Read /proc first, then reset and set with no await in between: two scrapes at
        // once must not see each other's half-filled gauge.
        await pool?.refreshRss();
        this.reset();
        if (pool === undefined) {
          this.set({ slot: '0' }, 0); // present, so dashboards keep working with the pool off
          return;
        }
        const snap = pool.snapshot();
        for (let slot = 0; slot < snap.size; slot++) {
          // During a recycle a slot briefly has two workers: report the one serving it.
          const w = snap.workers.find((x) => x.slot === slot && x.state !== 'starting') ?? snap.workers.find((x) => x.slot === slot);
          this.set({ slot: String(slot) }, w?.rssBytes ?? 0);
        }
      },
    });
    new Gauge({
      name: 'hark_worker_max_resident_memory_bytes',
      help: 'WORKER_MAX_RSS_MB in bytes: a worker past it is recycled.',
      registers: [this.registry],
      collect() {
        this.set(config.WORKER_MAX_RSS_MB * 1024 * 1024);
      },
    });
    new Gauge({
      name: 'hark_workers',
      help: 'Worker processes by state.',
      labelNames: ['state'] as const,
      registers: [this.registry],
      collect() {
        const workers = pool?.snapshot().workers ?? [];
        for (const state of WORKER_STATES) this.set({ state }, workers.filter((w) => w.state === state).length);
      },
    });
    new Gauge({
      name: 'hark_pool_degraded',
      help: '1 when some worker slot keeps failing to start (respawning with backoff).',
      registers: [this.registry],
      collect() {
        this.set(pool?.snapshot().degraded ? 1 : 0);
      },
    });

    const totals = () => pool?.snapshot().totals;
    const last = this.mirrored;
    new Counter({
      name: 'hark_worker_spawns_total',
      help: 'Worker processes spawned (boot, replacements, respawns).',
      registers: [this.registry],
      collect() {
        mirror(this, {}, last, totals()?.spawned ?? 0);
      },
    });
    new Counter({
      name: 'hark_worker_recycles_total',
      help: 'Workers replaced, by reason: tasks (MAX_TASKS_PER_WORKER), rss (WORKER_MAX_RSS_MB), timeout, crash, cancel.',
      labelNames: ['reason'] as const,
      registers: [this.registry],
      collect() {
        for (const reason of RECYCLE_REASONS) mirror(this, { reason }, last, totals()?.recycled[reason] ?? 0);
      },
    });
    new Counter({
      name: 'hark_worker_crashes_total',
      help: 'Workers that died unexpectedly (signal or exit code), mid-task or idle.',
      registers: [this.registry],
      collect() {
        mirror(this, {}, last, totals()?.crashed ?? 0);
      },
    });
    new Counter({
      name: 'hark_task_timeouts_total',
      help: 'Tasks killed at TASK_TIMEOUT_SECONDS (their worker process group SIGKILLed).',
      registers: [this.registry],
      collect() {
        mirror(this, {}, last, totals()?.timedOut ?? 0);
      },
    });
    new Counter({
      name: 'hark_worker_startup_failures_total',
      help: 'Workers that failed to load their engine.',
      registers: [this.registry],
      collect() {
        mirror(this, {}, last, totals()?.startupFailures ?? 0);
      },
    });
  }

  private registerCapacity(): void {
    const { service } = this.s;
    // Only the modes this server serves: a disabled mode reported as 0 places
    // available would read as "at capacity" on dashboards and in alerts.
    const modes = service.isolationModes();
    const gauge = (name: string, help: string, pick: (c: ReturnType<TranscriptionService['capacity']>) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['isolation'] as const,
        registers: [this.registry],
        collect() {
          for (const isolation of modes) this.set({ isolation }, pick(service.capacity(isolation)));
        },
      });
    gauge('hark_queue_length', 'Requests and jobs admitted but not yet running (uploading, decoding or waiting for a slot).', (c) => c.queued);
    gauge('hark_active_tasks', 'Transcriptions running now.', (c) => c.active);
    gauge('hark_capacity_max_active', 'Transcriptions that can run at once (IN_PROCESS_CONCURRENCY or WORKER_COUNT).', (c) => c.concurrency);
    gauge('hark_capacity_max_queue', 'MAX_QUEUE_SIZE: waiting places before 503 AT_CAPACITY.', (c) => c.maxQueue);
    gauge('hark_capacity_available', 'Free places (running + waiting) before 503 AT_CAPACITY.', (c) => c.available);
  }

  private registerJobs(): void {
    const { jobs, config } = this.s;
    const last = this.mirrored;
    // One read of the running jobs per scrape, shared by the gauges below.
    let cached: { at: number; jobs: Promise<Job[]> } | undefined;
    const running = () => {
      const now = Date.now();
      if (cached === undefined || now - cached.at > 250) cached = { at: now, jobs: jobs.store.runs.runningJobs() };
      return cached.jobs;
    };
    new Gauge({
      name: 'hark_jobs',
      help: 'Jobs in the store by status.',
      labelNames: ['status'] as const,
      registers: [this.registry],
      async collect() {
        const counts = await jobs.store.jobs.countByStatus();
        for (const status of JOB_STATUSES) this.set({ status }, counts[status]);
      },
    });
    const staleMs = 3 * config.HEARTBEAT_SECONDS * 1000;
    new Gauge({
      name: 'hark_jobs_running_with_pid',
      help: 'Running jobs with a recorded process id.',
      registers: [this.registry],
      async collect() {
        this.set((await running()).filter((j) => j.processId !== null).length);
      },
    });
    new Gauge({
      name: 'hark_jobs_oldest_heartbeat_age_seconds',
      help: 'Age of the oldest heartbeat among running jobs (0 when none runs).',
      registers: [this.registry],
      async collect() {
        const now = Date.now();
        const ages = (await running()).map((j) => (now - (j.lastHeartbeat ?? j.startedAt ?? now)) / 1000);
        this.set(ages.length === 0 ? 0 : Math.max(...ages));
      },
    });
    new Gauge({
      name: 'hark_jobs_stuck',
      help: 'Running jobs whose heartbeat is older than 3 heartbeats (the orphan scan will recover them).',
      registers: [this.registry],
      async collect() {
        const now = Date.now();
        this.set((await running()).filter((j) => now - (j.lastHeartbeat ?? 0) > staleMs).length);
      },
    });
    new Counter({
      name: 'hark_jobs_orphans_recovered_total',
      help: 'Orphaned jobs put back in the queue or failed (ORPHANED) by the recovery scan.',
      registers: [this.registry],
      collect() {
        mirror(this, {}, last, jobs.recovery.totals.recovered);
      },
    });
    new Counter({
      name: 'hark_jobs_orphan_processes_killed_total',
      help: 'Processes of orphaned jobs killed by the recovery scan (same pid and start time).',
      registers: [this.registry],
      collect() {
        mirror(this, {}, last, jobs.recovery.totals.killed);
      },
    });
    new Counter({
      name: 'hark_jobs_finished_total',
      help: 'Job runs on this server by how they ended: completed, failed, cancelled, requeued (another attempt).',
      labelNames: ['outcome'] as const,
      registers: [this.registry],
      collect() {
        for (const [outcome, n] of Object.entries(jobs.runner.totals)) mirror(this, { outcome }, last, n);
      },
    });
    new Counter({
      name: 'hark_webhook_deliveries_total',
      help: 'Webhook delivery attempts by outcome: delivered, retried (failed, will retry), failed (gave up).',
      labelNames: ['outcome'] as const,
      registers: [this.registry],
      collect() {
        for (const [outcome, n] of Object.entries(jobs.webhooks.totals)) mirror(this, { outcome }, last, n);
      },
    });
  }
}
