import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { chartPage, COLORS, lineChartSvg, renderPng } from './chart.js';
import { leakPhases, runLeakPhase } from './leak.js';
import { loadPresets } from './presets.js';
import { compareTable, writeReport, type Report } from './report.js';

/*
 * `hark demo leak`: the leak experiment (leak.ts, which `npm run bench:leak`
 * runs too) in one command. Two child servers (`node dist/main.js`, 127.0.0.1,
 * a free port, a temp DATA_DIR), each with SIMULATE_NATIVE_LEAK_MB: A
 * in-process (POST /transcriptions/sync, no pool), B process-isolated (POST
 * /transcriptions/process-isolated, a recycled pool). The same bounded load on
 * each; A stops early when the server's RSS passes the cap or the machine runs
 * short of memory. Two reports, a comparison and one picture.
 */

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

export async function demoLeak(o: DemoOptions): Promise<{ inProcess: Report; isolated: Report; table: string }> {
  const presets = await loadPresets();
  const phases = leakPhases({ leakMb: o.leakMb, concurrency: o.vus, workers: o.vus, workerMaxRssMb: o.workerMaxRssMb, maxTasksPerWorker: 100 });
  const load = { clip: o.clip, concurrency: o.vus, seconds: o.seconds, capBytes: o.capGiB * 2 ** 30, reserveBytes: o.reserveGiB * 2 ** 30 };
  const reports: Report[] = [];
  for (const phase of phases) {
    o.log(`${phase.name}: starting hark (SIMULATE_NATIVE_LEAK_MB=${o.leakMb}) ...`);
    const run = await runLeakPhase(phase, load, presets, {
      beforeLoad: () => o.log(`${phase.name}: ${o.vus} VUs on ${phase.endpoint} for ${o.seconds} s (stops early above ${o.capGiB} GiB server RSS)`),
      onSample: (s, done) => {
        if (Math.round(s.t / 1000) % 10 === 0) {
          o.log(`  ${Math.round(s.t / 1000)} s: ${done} requests, server RSS ${((s.server_rss_bytes ?? 0) / 1e6).toFixed(0)} MB, workers ${((s.workers_rss_bytes ?? 0) / 1e6).toFixed(0)} MB`);
        }
      },
    });
    const report = await writeReport(join(o.out, phase.name), run, { title: `hark demo leak: ${phase.name} (${phase.endpoint}), SIMULATE_NATIVE_LEAK_MB=${o.leakMb}` });
    o.log(`${phase.name}: ${report.summary.ok} completed, server RSS ${report.summary.start_server_rss_mb} -> ${report.summary.final_server_rss_mb} MB; ${report.summary.stop_reason}`);
    reports.push(report);
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
