import { readFileSync } from 'node:fs';
import { Agent, request, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { basename } from 'node:path';
import type { PresetsModule, Scenario } from './presets.js';

/*
 * hark's built-in load runner: the k6 script's scenarios (loadtest/k6/) in
 * Node, so a load test needs nothing but hark. Closed model: VUs loop
 * (request, THINK_TIME) following the preset's stages. Open model: a fixed
 * arrival rate, at most maxVus in flight (arrivals beyond are dropped, as
 * k6's dropped_iterations). Every request has its own AbortController; the
 * run has a hard deadline (end of the stages + graceful stop) at which
 * whatever is still in flight is aborted and recorded as timed out, so the
 * runner ends on time even when the server hangs.
 */

export const ENDPOINTS = ['/transcriptions', '/transcriptions/sync', '/transcriptions/process-isolated', '/v1/audio/transcriptions', 'jobs'] as const;
export type Endpoint = (typeof ENDPOINTS)[number];

export interface RunSettings {
  baseUrl: string;
  endpoint: Endpoint;
  scenario: Scenario;
  /** Total length of the stages, seconds. */
  durationSeconds: number;
  audioFiles: string[];
  thinkTimeSeconds: number;
  requestTimeoutSeconds: number;
  jobPollSeconds: number;
  /** Open model: arrivals per second (maxVus = most in flight). Absent: closed model. */
  rate?: number;
  /** After the stages end, in-flight requests get this long before they are aborted. */
  gracefulStopSeconds: number;
  sampleIntervalMs: number;
  /** Stop early once the server's RSS passes this (bytes). */
  stopAboveServerRssBytes?: number;
  /** Stop early once the machine's MemAvailable falls under this (bytes; local servers). */
  stopBelowMemAvailableBytes?: number;
  /** Closed model: send at most this many requests in all (the stages still bound the time). */
  maxRequests?: number;
}

export type Outcome = 'ok' | 'rejected' | 'http_error' | 'timeout' | 'error';

export interface RequestRecord {
  /** Start, ms since the run started. */
  t: number;
  /** Duration, ms (for jobs: submit to the end of the job). */
  ms: number;
  /** HTTP status; 0 when no answer came. */
  status: number;
  outcome: Outcome;
  /** The answer's error.code (AT_CAPACITY, ...), or TIMEOUT / a network error code. */
  code?: string;
  /** Seconds of audio transcribed (from the answer's duration_seconds). */
  audio_s?: number;
  vu: number;
}

export interface Sample {
  /** ms since the run started. */
  t: number;
  target_vus: number;
  in_flight: number;
  capacity?: unknown;
  pool?: { size: number; busy_workers: number; waiting_tasks: number; workers: { slot: number; pid: number; state: string; rss_bytes: number | null; tasks_done: number }[] };
  server_rss_bytes?: number;
  workers_rss_bytes?: number;
  worker_rss_max_bytes?: number;
  mem_available_bytes?: number;
}

export interface RunResult {
  settings: RunSettings;
  started_at: string;
  /** Wall time of the whole run, ms. */
  elapsed_ms: number;
  stop_reason: string;
  dropped: number;
  requests: RequestRecord[];
  samples: Sample[];
}

interface Body {
  buf: Buffer;
  contentType: string;
}

const BOUNDARY = '----hark-loadtest-7d1f0a3c9b';

function multipart(file: string, fields: Record<string, string>): Body {
  let head = '';
  for (const [k, v] of Object.entries(fields)) head += `--${BOUNDARY}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`;
  head += `--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="${basename(file).replace(/"/g, '')}"\r\nContent-Type: application/octet-stream\r\n\r\n`;
  return {
    buf: Buffer.concat([Buffer.from(head), readFileSync(file), Buffer.from(`\r\n--${BOUNDARY}--\r\n`)]),
    contentType: `multipart/form-data; boundary=${BOUNDARY}`,
  };
}

interface Answer {
  status: number;
  body: string;
}

class Timeout extends Error {}

/** One HTTP exchange, aborted by `signal`. */
function exchange(url: URL, method: string, body: Body | undefined, agent: Agent, signal: AbortSignal): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const doRequest = url.protocol === 'https:' ? httpsRequest : request;
    const headers: Record<string, string | number> = {};
    if (body) {
      headers['content-type'] = body.contentType;
      headers['content-length'] = body.buf.length;
    }
    const req = doRequest(url, { method, headers, agent, signal });
    req.on('error', reject);
    req.on('response', (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('aborted', () => reject(new Error('response aborted')));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.end(body?.buf);
  });
}

function parseJson(text: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function errorCode(body: Record<string, unknown> | undefined): string | undefined {
  const e = body?.['error'];
  if (typeof e === 'object' && e !== null && typeof (e as { code?: unknown }).code === 'string') return (e as { code: string }).code;
  return undefined;
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

async function getJson(url: string, signal: AbortSignal): Promise<unknown> {
  const res = await fetch(url, { signal });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  return res.json();
}

async function getText(url: string, signal: AbortSignal): Promise<string> {
  const res = await fetch(url, { signal });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  return res.text();
}

/** hark_server_memory_bytes{type="rss"} from Prometheus text. */
export function serverRssFromMetrics(text: string): number | undefined {
  const m = /^hark_server_memory_bytes\{type="rss"\} (\S+)$/m.exec(text);
  return m ? Number(m[1]) : undefined;
}

function memAvailable(): number | undefined {
  try {
    const m = /^MemAvailable:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

export interface RunHooks {
  /** Called with each sample (progress lines). */
  onSample?: (s: Sample, done: number) => void;
}

/** Runs one load test; resolves when every request has ended (by the hard deadline at the latest). */
export async function runLoad(settings: RunSettings, presets: PresetsModule, hooks: RunHooks = {}): Promise<RunResult> {
  if (settings.audioFiles.length === 0 && settings.endpoint !== 'jobs') throw new Error('no audio files to send');
  const base = settings.baseUrl.replace(/\/+$/, '');
  const fields: Record<string, string> = settings.endpoint === '/v1/audio/transcriptions' ? { model: 'whisper-1' } : {};
  const bodies = settings.audioFiles.map((f) => multipart(f, fields));
  const postUrl = new URL(settings.endpoint === 'jobs' ? `${base}/api/v1/jobs` : `${base}${settings.endpoint}`);
  const maxVus = settings.scenario.maxVus;
  const agentOptions = { keepAlive: true, maxSockets: Math.max(maxVus, 1) * 2, maxFreeSockets: Math.max(maxVus, 1) * 2 };
  const agent = postUrl.protocol === 'https:' ? new HttpsAgent(agentOptions) : new Agent(agentOptions);

  const requests: RequestRecord[] = [];
  const samples: Sample[] = [];
  const inFlight = new Set<AbortController>();
  const stopIssuing = new AbortController(); // ends think times and VU loops
  const started = performance.now();
  const startedAt = new Date().toISOString();
  const now = () => performance.now() - started;
  let stagesEnd = settings.durationSeconds * 1000;
  let hardDeadline = stagesEnd + settings.gracefulStopSeconds * 1000;
  let stopReason = 'the stages ended';
  let dropped = 0;
  let fileIndex = 0;
  let issued = 0;

  /** One iteration: a transcription (or a job to its end); always resolves with a record. */
  async function iteration(vu: number): Promise<void> {
    const body = bodies[fileIndex++ % bodies.length];
    issued++;
    const controller = new AbortController();
    inFlight.add(controller);
    const timer = setTimeout(() => controller.abort(new Timeout('request timeout')), settings.requestTimeoutSeconds * 1000);
    const t = now();
    const rec: RequestRecord = { t: Math.round(t * 10) / 10, ms: 0, status: 0, outcome: 'error', vu };
    try {
      let answer = await exchange(postUrl, 'POST', body, agent, controller.signal);
      let json = parseJson(answer.body);
      if (settings.endpoint === 'jobs' && answer.status === 202) {
        const id = String(json?.['job_id'] ?? '');
        for (;;) {
          await abortableSleep(settings.jobPollSeconds * 1000, controller.signal);
          if (controller.signal.aborted) throw controller.signal.reason instanceof Error ? controller.signal.reason : new Timeout('aborted');
          answer = await exchange(new URL(`${base}/api/v1/jobs/${encodeURIComponent(id)}`), 'GET', undefined, agent, controller.signal);
          json = parseJson(answer.body);
          const status = json?.['status'];
          if (answer.status !== 200 || status === 'completed' || status === 'failed' || status === 'cancelled') break;
        }
        if (answer.status === 200 && json?.['status'] !== 'completed') {
          rec.code = `JOB_${String(json?.['status']).toUpperCase()}`;
          answer = { status: 500, body: answer.body };
        }
      }
      rec.status = answer.status;
      const code = errorCode(json);
      if (code) rec.code = code;
      if (answer.status >= 200 && answer.status < 300) {
        rec.outcome = 'ok';
        if (typeof json?.['duration_seconds'] === 'number') rec.audio_s = json['duration_seconds'];
      } else if (answer.status === 503 && code === 'AT_CAPACITY') rec.outcome = 'rejected';
      else rec.outcome = 'http_error';
    } catch (err) {
      const reason: unknown = controller.signal.reason;
      if (controller.signal.aborted && reason instanceof Timeout) {
        rec.outcome = 'timeout';
        rec.code = 'TIMEOUT';
      } else {
        rec.outcome = 'error';
        rec.code = (err as NodeJS.ErrnoException).code ?? (err as Error).message ?? 'ERROR';
      }
    } finally {
      clearTimeout(timer);
      inFlight.delete(controller);
    }
    rec.ms = Math.round((now() - t) * 10) / 10;
    requests.push(rec);
  }

  function stop(reason: string) {
    if (stopIssuing.signal.aborted) return;
    stopReason = reason;
    const t = now();
    stagesEnd = Math.min(stagesEnd, t);
    hardDeadline = Math.min(hardDeadline, t + settings.gracefulStopSeconds * 1000);
    stopIssuing.abort();
  }

  // The sampler: capacity, pool, server RSS, once a second.
  const sampleTimeout = Math.max(200, Math.min(2000, settings.sampleIntervalMs * 2));
  let sampling = true;
  const samplerStop = new AbortController(); // cuts the sampler's requests short at the end
  let currentTarget = settings.scenario.startVUs;
  async function sampleOnce(): Promise<void> {
    const s: Sample = { t: Math.round(now()), target_vus: settings.rate === undefined ? currentTarget : maxVus, in_flight: inFlight.size };
    const signal = AbortSignal.any([AbortSignal.timeout(sampleTimeout), samplerStop.signal]);
    const [capacity, pool, metrics] = await Promise.allSettled([
      getJson(`${base}/api/v1/capacity`, signal),
      getJson(`${base}/debug/pool`, signal),
      getText(`${base}/metrics`, signal),
    ]);
    if (capacity.status === 'fulfilled') s.capacity = capacity.value;
    if (pool.status === 'fulfilled') {
      const p = pool.value as NonNullable<Sample['pool']>;
      const workers = (p.workers ?? []).map((w) => ({ slot: w.slot, pid: w.pid, state: w.state, rss_bytes: w.rss_bytes, tasks_done: w.tasks_done }));
      s.pool = { size: p.size, busy_workers: p.busy_workers, waiting_tasks: p.waiting_tasks, workers };
      const live = workers.filter((w) => w.state !== 'dead' && typeof w.rss_bytes === 'number').map((w) => w.rss_bytes as number);
      s.workers_rss_bytes = live.reduce((a, b) => a + b, 0);
      s.worker_rss_max_bytes = live.length > 0 ? Math.max(...live) : 0;
    }
    if (metrics.status === 'fulfilled') {
      const rss = serverRssFromMetrics(metrics.value);
      if (rss !== undefined) s.server_rss_bytes = rss;
    }
    const avail = memAvailable();
    if (avail !== undefined) s.mem_available_bytes = avail;
    samples.push(s);
    hooks.onSample?.(s, requests.length);
    if (settings.stopAboveServerRssBytes !== undefined && (s.server_rss_bytes ?? 0) > settings.stopAboveServerRssBytes) {
      stop(`server RSS ${((s.server_rss_bytes ?? 0) / 2 ** 30).toFixed(2)} GiB passed the cap of ${(settings.stopAboveServerRssBytes / 2 ** 30).toFixed(2)} GiB`);
    }
    if (settings.stopBelowMemAvailableBytes !== undefined && avail !== undefined && avail < settings.stopBelowMemAvailableBytes) {
      stop(`the machine's MemAvailable fell to ${(avail / 2 ** 30).toFixed(2)} GiB`);
    }
  }
  const sampler = (async () => {
    while (sampling) {
      const next = performance.now() + settings.sampleIntervalMs;
      await sampleOnce().catch(() => undefined);
      const wait = next - performance.now();
      if (wait > 0 && sampling) await new Promise((r) => setTimeout(r, wait));
    }
  })();

  const loops: Promise<void>[] = [];
  if (settings.rate === undefined) {
    // Closed model: VU i runs while i < the stage's target.
    const running = new Set<number>();
    const vuLoop = async (vu: number) => {
      running.add(vu);
      try {
        while (!stopIssuing.signal.aborted && now() < stagesEnd && vu < currentTarget) {
          if (settings.maxRequests !== undefined && issued >= settings.maxRequests) {
            stop(`all ${settings.maxRequests} requests sent`);
            break;
          }
          await iteration(vu);
          if (settings.thinkTimeSeconds > 0) await abortableSleep(settings.thinkTimeSeconds * 1000, stopIssuing.signal);
        }
      } finally {
        running.delete(vu);
      }
    };
    const schedule = () => {
      currentTarget = presets.targetAt(settings.scenario, now() / 1000);
      for (let vu = 0; vu < currentTarget; vu++) if (!running.has(vu)) loops.push(vuLoop(vu));
    };
    schedule();
    while (!stopIssuing.signal.aborted && now() < stagesEnd) {
      await abortableSleep(Math.min(100, Math.max(1, stagesEnd - now())), stopIssuing.signal);
      schedule();
    }
  } else {
    // Open model: arrivals at `rate` per second, at most maxVus in flight.
    const rate = settings.rate;
    let arrivals = 0;
    let slot = 0;
    while (!stopIssuing.signal.aborted && now() < stagesEnd) {
      const due = Math.floor((now() / 1000) * rate);
      while (arrivals < due) {
        arrivals++;
        if (inFlight.size >= maxVus) {
          dropped++;
          continue;
        }
        loops.push(iteration(slot++ % maxVus));
      }
      await abortableSleep(Math.min(5, Math.max(1, stagesEnd - now())), stopIssuing.signal);
    }
  }
  if (!stopIssuing.signal.aborted) stopIssuing.abort();

  // Graceful stop, then abort whatever is left.
  const all = Promise.all(loops);
  const remaining = hardDeadline - now();
  if (remaining > 0 && inFlight.size > 0) {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([all, new Promise((r) => (timer = setTimeout(r, remaining)))]);
    clearTimeout(timer);
  }
  if (inFlight.size > 0) {
    if (stopReason === 'the stages ended') stopReason = `the stages ended; ${inFlight.size} request(s) still in flight after the graceful stop were aborted`;
    for (const c of inFlight) c.abort(new Timeout('run deadline'));
  }
  await all;
  sampling = false;
  samplerStop.abort();
  await sampler;
  agent.destroy();
  requests.sort((a, b) => a.t - b.t);
  return { settings, started_at: startedAt, elapsed_ms: Math.round(now()), stop_reason: stopReason, dropped, requests, samples };
}
