import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chartPage, COLORS, lineChartSvg, renderPng } from './chart.js';
import { loadPresets } from './presets.js';
import { compareTable, writeReport, type Report } from './report.js';
import { runLoad, type Endpoint, type RunSettings } from './runner.js';

/*
 * `hark demo leak`: the leak demonstration in one command. Two child servers
 * (`node dist/main.js`, 127.0.0.1, a free port, a temp DATA_DIR), each with
 * SIMULATE_NATIVE_LEAK_MB: A in-process (POST /transcriptions/sync, no pool),
 * B process-isolated (POST /transcriptions/process-isolated, a recycled pool).
 * The same bounded load on each; A stops early when the server's RSS passes
 * the cap or the machine runs short of memory. Two reports, a comparison and
 * one picture.
 */

export const MAIN_JS = fileURLToPath(new URL('../../dist/main.js', import.meta.url));

export interface DemoOptions {
  seconds: number;
  vus: number;
  leakMb: number;
  capGiB: number;
  reserveGiB: number;
  clip: string;
  out: string;
  png?: string;
  workerMaxRssMb: number;
  log: (line: string) => void;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no free port'))));
    });
  });
}

interface Child {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

async function startHark(env: Record<string, string>): Promise<Child> {
  if (!existsSync(MAIN_JS)) throw new Error(`${MAIN_JS} is missing: build first (npm run build:ts)`);
  const dataDir = await mkdtemp(join(tmpdir(), 'hark-demo-'));
  const port = await freePort();
  const child = spawn(process.execPath, [MAIN_JS], {
    env: { PATH: process.env['PATH'] ?? '', HOST: '127.0.0.1', PORT: String(port), DATA_DIR: dataDir, LOG_LEVEL: 'warn', ENV_FILE: '/nonexistent', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true, // its own process group: workers and ffmpeg go with it
  });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
      await exited;
    }
    await rm(dataDir, { recursive: true, force: true });
  };
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`hark exited at start: ${stderr}`);
    }
    try {
      if ((await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1000) })).status === 200) break;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`hark was not ready within 60 s: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, child, stop };
}

export async function demoLeak(o: DemoOptions): Promise<{ inProcess: Report; isolated: Report; table: string }> {
  const presets = await loadPresets();
  const phases: { name: string; endpoint: Endpoint; env: Record<string, string> }[] = [
    {
      name: 'in-process',
      endpoint: '/transcriptions/sync',
      env: { ENABLE_PROCESS_ISOLATED: 'false', IN_PROCESS_CONCURRENCY: String(o.vus) },
    },
    {
      name: 'process-isolated',
      endpoint: '/transcriptions/process-isolated',
      env: { ENABLE_PROCESS_ISOLATED: 'true', WORKER_COUNT: String(o.vus), WORKER_MAX_RSS_MB: String(o.workerMaxRssMb), MAX_TASKS_PER_WORKER: '100' },
    },
  ];
  const reports: Report[] = [];
  for (const phase of phases) {
    o.log(`${phase.name}: starting hark (SIMULATE_NATIVE_LEAK_MB=${o.leakMb}) ...`);
    const hark = await startHark({ SIMULATE_NATIVE_LEAK_MB: String(o.leakMb), MAX_QUEUE_SIZE: String(o.vus * 4), ...phase.env });
    try {
      const scenario = presets.scenarioFor('load', { MAX_VUS: String(o.vus), RAMP_UP: '0s', STEADY: `${o.seconds}s`, RAMP_DOWN: '0s' });
      const settings: RunSettings = {
        baseUrl: hark.url,
        endpoint: phase.endpoint,
        scenario,
        durationSeconds: presets.totalSeconds(scenario.stages),
        audioFiles: [o.clip],
        thinkTimeSeconds: 0,
        requestTimeoutSeconds: 120,
        jobPollSeconds: 0.5,
        gracefulStopSeconds: 15,
        sampleIntervalMs: 1000,
        stopAboveServerRssBytes: o.capGiB * 2 ** 30,
        stopBelowMemAvailableBytes: o.reserveGiB * 2 ** 30,
      };
      o.log(`${phase.name}: ${o.vus} VUs on ${phase.endpoint} for ${o.seconds} s (stops early above ${o.capGiB} GiB server RSS)`);
      const run = await runLoad(settings, presets, {
        onSample: (s, done) => {
          if (Math.round(s.t / 1000) % 10 === 0) {
            o.log(`  ${Math.round(s.t / 1000)} s: ${done} requests, server RSS ${((s.server_rss_bytes ?? 0) / 1e6).toFixed(0)} MB, workers ${((s.workers_rss_bytes ?? 0) / 1e6).toFixed(0)} MB`);
          }
        },
      });
      const report = await writeReport(join(o.out, phase.name), run, { title: `hark demo leak: ${phase.name} (${phase.endpoint}), SIMULATE_NATIVE_LEAK_MB=${o.leakMb}` });
      o.log(`${phase.name}: ${report.summary.ok} completed, server RSS ${report.summary.start_server_rss_mb} -> ${report.summary.final_server_rss_mb} MB; ${report.summary.stop_reason}`);
      reports.push(report);
    } finally {
      await hark.stop();
    }
  }
  const [inProcess, isolated] = reports as [Report, Report];
  const table = compareTable(inProcess.summary, isolated.summary, ['in-process', 'isolated']);
  await writeFile(join(o.out, 'compare.txt'), `A = in-process (/transcriptions/sync), B = process-isolated (/transcriptions/process-isolated)\n\n${table}\n`);
  await writeFile(join(o.out, 'demo.html'), demoPage(inProcess, isolated, o));
  await renderPng(demoPage(inProcess, isolated, o), o.png ?? join(o.out, 'demo-leak.png'), 1000);
  return { inProcess, isolated, table };
}

function demoPage(a: Report, b: Report, o: DemoOptions): string {
  const mem = (r: Report, pick: (s: Report['samples'][number]) => number | undefined) =>
    r.samples.map((s) => [s.t / 1000, (pick(s) ?? NaN) / 1e6] as [number, number]);
  const memory = lineChartSvg({
    title: `Server RSS under the same load, SIMULATE_NATIVE_LEAK_MB=${o.leakMb}`,
    subtitle: `${o.vus} VUs, ${o.seconds} s per phase, one clip; two fresh servers (hark demo leak)`,
    xLabel: 'time since the phase started (s)',
    yLabel: 'RSS (MB)',
    series: [
      { name: 'in-process: server', color: COLORS.vermillion, width: 2.5, points: mem(a, (s) => s.server_rss_bytes) },
      { name: 'isolated: server', color: COLORS.blue, width: 2.5, points: mem(b, (s) => s.server_rss_bytes) },
      { name: 'isolated: largest worker', color: COLORS.green, dash: '6 4', points: mem(b, (s) => s.worker_rss_max_bytes) },
    ],
    hLines: [{ value: (o.workerMaxRssMb * 2 ** 20) / 1e6, label: `WORKER_MAX_RSS_MB=${o.workerMaxRssMb}`, color: COLORS.green }],
  });
  const bins = (r: Report) => {
    const n = Math.max(1, Math.ceil(r.elapsed_ms / 5000));
    const c = new Array<number>(n).fill(0);
    for (const q of r.requests) if (q.outcome === 'ok') c[Math.min(n - 1, Math.floor((q.t + q.ms) / 5000))]! += 1;
    // The last window may be shorter than 5 s.
    return c.map((v, i) => {
      const w = Math.max(0.5, Math.min(5, r.elapsed_ms / 1000 - i * 5));
      return [i * 5 + w / 2, v / w] as [number, number];
    });
  };
  const tput = lineChartSvg({
    title: 'Throughput',
    subtitle: 'completed requests per second, 5 s windows',
    xLabel: 'time since the phase started (s)',
    yLabel: 'requests / s',
    height: 300,
    series: [
      { name: 'in-process', color: COLORS.vermillion, points: bins(a) },
      { name: 'isolated', color: COLORS.blue, points: bins(b) },
    ],
  });
  const notes = [
    `in-process: ${a.summary.ok} requests, server RSS ${a.summary.start_server_rss_mb} -> ${a.summary.final_server_rss_mb} MB (peak ${a.summary.peak_server_rss_mb}); ${a.summary.stop_reason}`,
    `isolated: ${b.summary.ok} requests, server RSS ${b.summary.start_server_rss_mb} -> ${b.summary.final_server_rss_mb} MB (peak ${b.summary.peak_server_rss_mb}), largest worker ${b.summary.peak_worker_rss_mb} MB; ${b.summary.stop_reason}`,
  ];
  return chartPage({ title: 'hark demo leak: in-process vs process-isolated', charts: [memory, tput], notes, width: 1000 });
}
