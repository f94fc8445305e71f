import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { COLORS, escapeXml, lineChartSvg, renderPng, type ChartSeries } from './chart.js';
import type { RequestRecord, RunResult, Sample } from './runner.js';

/*
 * A run's report folder: report.json (every request, every sample, the
 * settings, a summary), report.html (self-contained: inline SVG charts and
 * tables, nothing loaded from anywhere) and charts.png (the same charts,
 * screenshotted with headless Chromium).
 */

export interface Summary {
  requests: number;
  ok: number;
  rejected: number;
  http_errors: number;
  timeouts: number;
  errors: number;
  dropped: number;
  duration_s: number;
  /** Completed (2xx) transcriptions per second over the run. */
  throughput_rps: number;
  audio_seconds: number;
  p50_ms: number | null;
  p95_ms: number | null;
  p99_ms: number | null;
  peak_server_rss_mb: number | null;
  final_server_rss_mb: number | null;
  start_server_rss_mb: number | null;
  peak_worker_rss_mb: number | null;
  stop_reason: string;
}

export interface Report extends RunResult {
  summary: Summary;
}

export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] ?? null;
}

const MB = 1e6;
const mb = (b: number | undefined) => (b === undefined ? null : Math.round((b / MB) * 10) / 10);

export function summarize(run: RunResult): Summary {
  const count = (o: RequestRecord['outcome']) => run.requests.filter((r) => r.outcome === o).length;
  const okMs = run.requests.filter((r) => r.outcome === 'ok').map((r) => r.ms).sort((a, b) => a - b);
  const rss = run.samples.map((s) => s.server_rss_bytes).filter((v): v is number => v !== undefined);
  const workers = run.samples.map((s) => s.worker_rss_max_bytes).filter((v): v is number => v !== undefined && v > 0);
  const duration = run.elapsed_ms / 1000;
  return {
    requests: run.requests.length,
    ok: okMs.length,
    rejected: count('rejected'),
    http_errors: count('http_error'),
    timeouts: count('timeout'),
    errors: count('error'),
    dropped: run.dropped,
    duration_s: Math.round(duration * 10) / 10,
    throughput_rps: duration > 0 ? Math.round((okMs.length / duration) * 1000) / 1000 : 0,
    audio_seconds: Math.round(run.requests.reduce((a, r) => a + (r.audio_s ?? 0), 0) * 10) / 10,
    p50_ms: percentile(okMs, 50),
    p95_ms: percentile(okMs, 95),
    p99_ms: percentile(okMs, 99),
    peak_server_rss_mb: rss.length > 0 ? mb(Math.max(...rss)) : null,
    final_server_rss_mb: mb(rss.at(-1)),
    start_server_rss_mb: mb(rss[0]),
    peak_worker_rss_mb: workers.length > 0 ? mb(Math.max(...workers)) : null,
    stop_reason: run.stop_reason,
  };
}

/** Counts per second of completion, by outcome. */
function perSecond(reqs: readonly RequestRecord[], seconds: number, pick: (r: RequestRecord) => boolean): [number, number][] {
  const n = Math.max(1, Math.ceil(seconds));
  const bins = new Array<number>(n).fill(0);
  for (const r of reqs) {
    if (!pick(r)) continue;
    const i = Math.min(n - 1, Math.floor((r.t + r.ms) / 1000));
    bins[i] = (bins[i] ?? 0) + 1;
  }
  return bins.map((v, i) => [i + 0.5, v]);
}

function cumulative(reqs: readonly RequestRecord[], seconds: number, pick: (r: RequestRecord) => boolean): [number, number][] {
  const ends = reqs.filter(pick).map((r) => (r.t + r.ms) / 1000).sort((a, b) => a - b);
  const out: [number, number][] = [[0, 0]];
  ends.forEach((t, i) => {
    out.push([t, i]);
    out.push([t, i + 1]);
  });
  out.push([Math.max(seconds, out.at(-1)?.[0] ?? 0), ends.length]);
  return out;
}

/** The four charts of a run, as SVG strings. */
export function chartsFor(report: Report, width = 1000): string[] {
  const reqs = report.requests;
  const seconds = report.elapsed_ms / 1000;
  // Every chart runs along the same time axis.
  const overTime = (title: string, subtitle: string, yLabel: string, series: ChartSeries[]) =>
    lineChartSvg({ title, subtitle, xLabel: 'time since the run started (s)', yLabel, width, xMax: Math.max(1, Math.ceil(seconds)), series });
  const throughput = overTime('Throughput', 'answers per second, by the second they ended', 'requests / s', [
    { name: 'completed (2xx)', color: COLORS.blue, points: perSecond(reqs, seconds, (r) => r.outcome === 'ok') },
    { name: 'rejected (503 AT_CAPACITY)', color: COLORS.orange, points: perSecond(reqs, seconds, (r) => r.outcome === 'rejected') },
    { name: 'errors and timeouts', color: COLORS.vermillion, points: perSecond(reqs, seconds, (r) => r.outcome !== 'ok' && r.outcome !== 'rejected') },
  ]);

  const win = Math.max(1, Math.round(seconds / 60));
  const n = Math.max(1, Math.ceil(seconds / win));
  const p: Record<50 | 95 | 99, [number, number][]> = { 50: [], 95: [], 99: [] };
  const buckets: number[][] = Array.from({ length: n }, () => []);
  for (const r of reqs) if (r.outcome === 'ok') buckets[Math.min(n - 1, Math.floor((r.t + r.ms) / 1000 / win))]?.push(r.ms);
  buckets.forEach((b, i) => {
    b.sort((x, y) => x - y);
    for (const q of [50, 95, 99] as const) p[q].push([(i + 0.5) * win, percentile(b, q) ?? NaN]);
  });
  const latency = overTime('Latency percentiles', `completed requests, ${win} s windows`, 'latency (ms)', [
    { name: 'p50', color: COLORS.blue, points: p[50] },
    { name: 'p95', color: COLORS.orange, points: p[95] },
    { name: 'p99', color: COLORS.vermillion, points: p[99] },
  ]);

  const errors = overTime('Errors and 503s', 'running totals', 'requests', [
    { name: '503 AT_CAPACITY', color: COLORS.orange, points: cumulative(reqs, seconds, (r) => r.outcome === 'rejected') },
    { name: 'other HTTP errors', color: COLORS.purple, points: cumulative(reqs, seconds, (r) => r.outcome === 'http_error') },
    { name: 'timeouts', color: COLORS.vermillion, points: cumulative(reqs, seconds, (r) => r.outcome === 'timeout') },
    { name: 'network errors', color: COLORS.black, points: cumulative(reqs, seconds, (r) => r.outcome === 'error') },
  ]);

  const pts = (pick: (s: Sample) => number | undefined): [number, number][] => report.samples.map((s) => [s.t / 1000, (pick(s) ?? NaN) / MB]);
  const memory = overTime('Memory: server vs workers', 'RSS from /metrics (server) and /debug/pool (workers), each second', 'RSS (MB)', [
    { name: 'server', color: COLORS.blue, width: 2.5, points: pts((s) => s.server_rss_bytes) },
    { name: 'workers (sum)', color: COLORS.green, points: pts((s) => s.workers_rss_bytes) },
    { name: 'largest worker', color: COLORS.green, dash: '6 4', points: pts((s) => s.worker_rss_max_bytes) },
  ]);
  return [throughput, latency, errors, memory];
}

const fmt = (v: number | null, digits = 0) => (v === null ? '-' : v.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }));

function summaryRows(s: Summary): [string, string][] {
  return [
    ['requests', fmt(s.requests)],
    ['completed (2xx)', fmt(s.ok)],
    ['rejected (503 AT_CAPACITY)', fmt(s.rejected)],
    ['other HTTP errors', fmt(s.http_errors)],
    ['timeouts', fmt(s.timeouts)],
    ['network errors', fmt(s.errors)],
    ['dropped arrivals (open model)', fmt(s.dropped)],
    ['duration (s)', fmt(s.duration_s, 1)],
    ['throughput (completed / s)', fmt(s.throughput_rps, 2)],
    ['audio transcribed (s)', fmt(s.audio_seconds, 1)],
    ['latency p50 / p95 / p99 (ms)', `${fmt(s.p50_ms)} / ${fmt(s.p95_ms)} / ${fmt(s.p99_ms)}`],
    ['server RSS start / peak / final (MB)', `${fmt(s.start_server_rss_mb)} / ${fmt(s.peak_server_rss_mb)} / ${fmt(s.final_server_rss_mb)}`],
    ['largest worker RSS (MB)', fmt(s.peak_worker_rss_mb)],
    ['stopped because', s.stop_reason],
  ];
}

/** A self-contained HTML page: no script, no external resource. */
export function reportHtml(report: Report, title = 'hark load test'): string {
  const st = report.settings;
  const table = (rows: [string, string][]) =>
    `<table>${rows.map(([k, v]) => `<tr><th scope="row">${escapeXml(k)}</th><td>${escapeXml(v)}</td></tr>`).join('')}</table>`;
  const settingsRows: [string, string][] = [
    ['started', report.started_at],
    ['server', st.baseUrl],
    ['endpoint', st.endpoint],
    ['model', st.rate === undefined ? `closed: ${st.scenario.mode}, up to ${st.scenario.maxVus} VUs` : `open: ${st.rate}/s, at most ${st.scenario.maxVus} in flight`],
    ['stages', st.scenario.stages.map((s) => `${s.duration} -> ${s.target}`).join(', ')],
    ['audio files', `${st.audioFiles.length} (${st.audioFiles.slice(0, 3).join(', ')}${st.audioFiles.length > 3 ? ', ...' : ''})`],
    ['think time (s)', String(st.thinkTimeSeconds)],
  ];
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>${escapeXml(title)}</title><style>
body { margin: 0; padding: 16px; max-width: 1040px; background: #fff; color: #222; font-family: DejaVu Sans, Helvetica, Arial, sans-serif; }
h1 { font-size: 20px; margin: 0 0 8px; } h2 { font-size: 16px; margin: 16px 0 6px; }
svg { display: block; margin: 0 0 12px; border: 1px solid #ddd; max-width: 100%; height: auto; }
table { border-collapse: collapse; font-size: 13px; margin-bottom: 8px; } th, td { text-align: left; padding: 3px 12px 3px 0; border-bottom: 1px solid #eee; }
th { font-weight: normal; color: #555; }
</style></head><body><h1>${escapeXml(title)}</h1>
<h2>Summary</h2>${table(summaryRows(report.summary))}
<h2>Settings</h2>${table(settingsRows)}
<h2>Charts</h2>${chartsFor(report).join('\n')}
<p style="font-size:12px;color:#666">Every request and sample is in report.json beside this file.</p>
</body></html>`;
}

export interface WriteOptions {
  png?: boolean;
  title?: string;
}

/** Writes report.json, report.html and (unless png is false) charts.png into `dir`. */
export async function writeReport(dir: string, run: RunResult, options: WriteOptions = {}): Promise<Report> {
  const report: Report = { ...run, summary: summarize(run) };
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'report.json'), JSON.stringify(report));
  const html = reportHtml(report, options.title);
  await writeFile(join(dir, 'report.html'), html);
  if (options.png !== false) await renderPng(html, join(dir, 'charts.png'), 1040);
  return report;
}

export async function readReport(dir: string): Promise<Report> {
  const file = dir.endsWith('.json') ? dir : join(dir, 'report.json');
  const report = JSON.parse(await readFile(file, 'utf8')) as Report;
  return { ...report, summary: report.summary ?? summarize(report) };
}

/** A side-by-side table of two runs with B/A ratios. */
export function compareTable(a: Summary, b: Summary, names: [string, string] = ['A', 'B']): string {
  const rows: [string, number | null, number | null, number][] = [
    ['p50 latency (ms)', a.p50_ms, b.p50_ms, 0],
    ['p95 latency (ms)', a.p95_ms, b.p95_ms, 0],
    ['p99 latency (ms)', a.p99_ms, b.p99_ms, 0],
    ['throughput (completed/s)', a.throughput_rps, b.throughput_rps, 2],
    ['requests', a.requests, b.requests, 0],
    ['completed', a.ok, b.ok, 0],
    ['errors (HTTP, timeout, network)', a.http_errors + a.timeouts + a.errors, b.http_errors + b.timeouts + b.errors, 0],
    ['503 AT_CAPACITY', a.rejected, b.rejected, 0],
    ['peak server RSS (MB)', a.peak_server_rss_mb, b.peak_server_rss_mb, 0],
    ['final server RSS (MB)', a.final_server_rss_mb, b.final_server_rss_mb, 0],
    ['largest worker RSS (MB)', a.peak_worker_rss_mb, b.peak_worker_rss_mb, 0],
    ['duration (s)', a.duration_s, b.duration_s, 1],
  ];
  const cells = rows.map(([k, x, y, d]) => [
    k,
    fmt(x, d),
    fmt(y, d),
    x === null || y === null ? '-' : x === 0 ? (y === 0 ? '1.00' : 'inf') : (y / x).toFixed(2),
  ]);
  const header = ['', names[0], names[1], 'B/A'];
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? '').length)));
  const line = (c: string[]) => c.map((v, i) => (i === 0 ? v.padEnd(widths[i] ?? 0) : v.padStart(widths[i] ?? 0))).join('  ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}
