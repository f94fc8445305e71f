/**
 * The picture in docs/isolation.md (docs/img/panels.png): what the dashboard's memory panels
 * show when an engine leaks native memory.
 *   - a child hark (`node dist/main.js`) with SIMULATE_NATIVE_LEAK_MB=20, two
 *     workers capped at WORKER_MAX_RSS_MB, under load on both endpoints at once
 *     (/transcriptions/sync in the server, /transcriptions/process-isolated in
 *     the workers) for --seconds (default 75);
 *   - a real Prometheus (deploy/prometheus/prometheus.yml, 1 s scrapes) reading it;
 *   - the series read back with query_range, the dashboard's own queries, drawn
 *     as two panels (SVG) and screenshotted with headless Chromium.
 * Prints what it saw; asserts nothing.
 *
 *   npm run build && npm run bench:panels [-- --seconds 75 --out docs/img/panels.png]
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { spawnServer, waitFor, type ChildServer } from '../test/support/child-server.js';
import { startPrometheus, type PromSeries, type RunningPrometheus } from '../test/support/prometheus.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLIP = resolve(ROOT, '../shared/corpus/dev/wav/1089-134686-0001.wav'); // 3.3 s of speech
const CHROMIUM = '/usr/bin/chromium';
const LEAK_MB = 20;
const CAP_MB = 320;

const { values: flags } = parseArgs({
  options: {
    seconds: { type: 'string', default: '75' },
    out: { type: 'string', default: 'docs/img/panels.png' },
  },
});
const LOAD_SECONDS = Math.min(120, Math.max(20, Number(flags.seconds)));
const OUT = resolve(ROOT, flags.out!);

// ---- drawing (an SVG per panel, in Grafana's dark colours) ----

interface Line {
  name: string;
  color: string;
  points: [number, number][];
  width?: number;
  dash?: string;
}

interface PanelSpec {
  /** Vertical markers (Grafana annotations): [time, text]. */
  marks?: [number, string][];
  title: string;
  subtitle: string;
  lines: Line[];
  height: number;
  format: (v: number) => string;
}

const mb = (v: number) => (v >= 1024 ** 3 ? `${(v / 1024 ** 3).toFixed(1)} GiB` : `${Math.round(v / 1024 ** 2)} MiB`);
const count = (v: number) => String(Math.round(v));

function niceStep(range: number, ticks: number): number {
  const raw = range / ticks;
  const mag = 10 ** Math.floor(Math.log10(raw));
  return ([1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag);
}

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function panelSvg(p: PanelSpec, t0: number, t1: number, width: number, binary: boolean): string {
  const left = 90;
  const right = 20;
  const top = 56;
  const legendH = 28 * Math.ceil(p.lines.length / 3);
  const bottom = 34 + legendH;
  const w = width - left - right;
  const h = p.height - top - bottom;
  const ys = p.lines.flatMap((l) => l.points.map(([, v]) => v));
  const maxY = Math.max(1, ...ys) * 1.08;
  const step = binary ? niceStep(maxY / 1024 ** 2, 5) * 1024 ** 2 : niceStep(maxY, 5);
  const top_ = Math.ceil(maxY / step) * step;
  const x = (t: number) => left + ((t - t0) / (t1 - t0)) * w;
  const y = (v: number) => top + h - (v / top_) * h;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${p.height}" viewBox="0 0 ${width} ${p.height}">`);
  out.push(`<rect x="0.5" y="0.5" width="${width - 1}" height="${p.height - 1}" rx="4" fill="#181b1f" stroke="#2c3235"/>`);
  out.push(`<text x="16" y="26" fill="#d8d9da" font-size="17" font-weight="600">${escapeXml(p.title)}</text>`);
  out.push(`<text x="16" y="45" fill="#8e8e8e" font-size="13">${escapeXml(p.subtitle)}</text>`);
  for (let v = 0; v <= top_ + 1e-9; v += step) {
    out.push(`<line x1="${left}" x2="${left + w}" y1="${y(v)}" y2="${y(v)}" stroke="#2c3235"/>`);
    out.push(`<text x="${left - 8}" y="${y(v) + 4}" fill="#9fa7b3" font-size="12" text-anchor="end">${escapeXml(p.format(v))}</text>`);
  }
  const span = t1 - t0;
  const tStep = span > 100 ? 20 : 10;
  for (let s = 0; s <= span + 1e-9; s += tStep) {
    out.push(`<line x1="${x(t0 + s)}" x2="${x(t0 + s)}" y1="${top}" y2="${top + h}" stroke="#22252b"/>`);
    out.push(`<text x="${x(t0 + s)}" y="${top + h + 18}" fill="#9fa7b3" font-size="12" text-anchor="middle">${s}s</text>`);
  }
  for (const [t, text] of p.marks ?? []) {
    out.push(`<line x1="${x(t)}" x2="${x(t)}" y1="${top}" y2="${top + h}" stroke="#5794f2" stroke-dasharray="3 4" stroke-width="1.5"/>`);
    out.push(`<text x="${x(t) + 5}" y="${top + 14}" fill="#5794f2" font-size="12">${escapeXml(text)}</text>`);
  }
  for (const l of p.lines) {
    if (l.points.length === 0) continue;
    const d = l.points.map(([t, v], i) => `${i === 0 ? 'M' : 'L'}${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
    out.push(`<path d="${d}" fill="none" stroke="${l.color}" stroke-width="${l.width ?? 2}" ${l.dash ? `stroke-dasharray="${l.dash}"` : ''} stroke-linejoin="round"/>`);
  }
  p.lines.forEach((l, i) => {
    const lx = left + (i % 3) * (w / 3);
    const ly = top + h + 40 + Math.floor(i / 3) * 24;
    const last = l.points.at(-1)?.[1];
    const max = Math.max(...l.points.map(([, v]) => v));
    out.push(`<line x1="${lx}" x2="${lx + 22}" y1="${ly - 4}" y2="${ly - 4}" stroke="${l.color}" stroke-width="3" ${l.dash ? `stroke-dasharray="6 4"` : ''}/>`);
    const stats = last === undefined ? '' : `  last ${p.format(last)}, max ${p.format(max)}`;
    out.push(`<text x="${lx + 30}" y="${ly}" fill="#ccccdc" font-size="13">${escapeXml(l.name)}<tspan fill="#8e8e8e">${escapeXml(stats)}</tspan></text>`);
  });
  out.push('</svg>');
  return out.join('\n');
}

const points = (s: PromSeries | undefined): [number, number][] => (s?.values ?? []).map(([t, v]) => [t, Number(v)]);

// ---- load ----

async function post(url: string): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  const form = new FormData();
  form.append('file', new Blob([await readFile(CLIP)], { type: 'audio/wav' }), 'clip.wav');
  const res = await fetch(url, { method: 'POST', body: form });
  await res.arrayBuffer();
  return res.status;
}

async function loadLoop(url: string, until: number, statuses: Map<number, number>): Promise<void> {
  while (Date.now() < until) {
    const status = await post(url).catch(() => 0);
    statuses.set(status, (statuses.get(status) ?? 0) + 1);
  }
}

// ---- main ----

if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`);
let server: ChildServer | undefined;
let prom: RunningPrometheus | undefined;
const cleanup = async () => {
  await prom?.stop();
  await server?.stop();
};
process.once('SIGINT', () => void cleanup().finally(() => process.exit(130)));

try {
  server = await spawnServer({
    SIMULATE_NATIVE_LEAK_MB: String(LEAK_MB),
    WORKER_COUNT: '2',
    WORKER_MAX_RSS_MB: String(CAP_MB),
    MAX_TASKS_PER_WORKER: '1000',
    IN_PROCESS_CONCURRENCY: '1',
    LOG_LEVEL: 'warn',
  });
  const target = server.url.replace('http://', '');
  prom = await startPrometheus(target, { scrapeInterval: '1s' });
  await waitFor(async () => (await prom!.query('up{job="hark"}'))[0]?.value?.[1] === '1', 20_000, 200);
  const start = Date.now() / 1000;
  await sleep(4000); // a few samples of the idle server first
  console.log(`hark at ${server.url} (SIMULATE_NATIVE_LEAK_MB=${LEAK_MB}, WORKER_MAX_RSS_MB=${CAP_MB}), Prometheus at ${prom.url}; ${LOAD_SECONDS} s of load`);

  const loadStart = Date.now() / 1000;
  const until = Date.now() + LOAD_SECONDS * 1000;
  const statuses = { sync: new Map<number, number>(), pool: new Map<number, number>() };
  await Promise.all([
    loadLoop(`${server.url}/transcriptions/sync`, until, statuses.sync),
    // Two clients, so both worker slots get work.
    loadLoop(`${server.url}/transcriptions/process-isolated`, until, statuses.pool),
    loadLoop(`${server.url}/transcriptions/process-isolated`, until, statuses.pool),
  ]);
  const loadEnd = Date.now() / 1000;
  await sleep(4000); // the idle server again, and the last scrapes
  const end = Date.now() / 1000;
  console.log(`answers: in-process ${JSON.stringify(Object.fromEntries(statuses.sync))}, process-isolated ${JSON.stringify(Object.fromEntries(statuses.pool))}`);

  const range = (q: string) => prom!.queryRange(q, start, end, 1);
  const server_ = await range('hark_server_memory_bytes{job="hark", type="rss"}');
  const workers = await range('hark_worker_resident_memory_bytes{job="hark"}');
  const cap = await range('hark_worker_max_resident_memory_bytes{job="hark"}');
  const done = await range('sum by (isolation) (hark_transcriptions_total{job="hark", outcome="ok"})');
  const recycles = await range('sum by (reason) (hark_worker_recycles_total{job="hark", reason=~"rss|crash"})');
  const slot = (n: string) => workers.find((s) => s.metric['slot'] === n);

  const memory: PanelSpec = {
    title: 'Server RSS vs worker RSS',
    subtitle: `SIMULATE_NATIVE_LEAK_MB=${LEAK_MB}: every transcription leaks ${LEAK_MB} MB · load on /transcriptions/sync and /transcriptions/process-isolated · WORKER_MAX_RSS_MB=${CAP_MB}`,
    height: 470,
    format: mb,
    marks: [[loadStart, 'load on'], [loadEnd, 'load off']],
    lines: [
      { name: 'server rss (in-process engine)', color: '#b877d9', points: points(server_[0]), width: 3 },
      { name: 'worker slot 0', color: '#73bf69', points: points(slot('0')) },
      { name: 'worker slot 1', color: '#fade2a', points: points(slot('1')) },
      { name: 'worker cap (WORKER_MAX_RSS_MB)', color: '#f2495c', points: points(cap[0]), dash: '10 8' },
    ],
  };
  const work: PanelSpec = {
    title: 'Transcriptions and worker recycles (cumulative)',
    subtitle: 'hark_transcriptions_total{outcome="ok"} by isolation, hark_worker_recycles_total by reason',
    height: 300,
    format: count,
    marks: [[loadStart, 'load on'], [loadEnd, 'load off']],
    lines: [
      { name: 'ok in-process', color: '#5794f2', points: points(done.find((s) => s.metric['isolation'] === 'in-process')) },
      { name: 'ok process-isolated', color: '#ff9830', points: points(done.find((s) => s.metric['isolation'] === 'process')) },
      { name: 'recycled: rss', color: '#f2495c', points: points(recycles.find((s) => s.metric['reason'] === 'rss')) },
      { name: 'recycled: crash', color: '#8e8e8e', points: points(recycles.find((s) => s.metric['reason'] === 'crash')), dash: '4 4' },
    ],
  };
  const width = 1200;
  const html = `<!doctype html><html><head><meta charset="utf-8"><style>
    body { margin: 0; padding: 16px; background: #111217; font-family: Inter, "Helvetica Neue", Arial, sans-serif; }
    .panel { margin-bottom: 12px; } svg { display: block; }
  </style></head><body>
  <div class="panel">${panelSvg(memory, start, end, width, true)}</div>
  <div class="panel">${panelSvg(work, start, end, width, false)}</div>
  </body></html>`;

  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: width + 32, height: 800 }, deviceScaleFactor: 1 });
    await page.setContent(html);
    await mkdir(dirname(OUT), { recursive: true });
    await page.screenshot({ path: OUT, fullPage: true });
  } finally {
    await browser.close();
  }

  const first = (s: PromSeries | undefined) => Number(s?.values?.[0]?.[1] ?? NaN);
  const last = (s: PromSeries | undefined) => Number(s?.values?.at(-1)?.[1] ?? NaN);
  const peak = (s: PromSeries | undefined) => Math.max(...points(s).map(([, v]) => v));
  console.log(`server rss ${mb(first(server_[0]))} -> ${mb(last(server_[0]))}`);
  console.log(`worker rss peak: slot 0 ${mb(peak(slot('0')))}, slot 1 ${mb(peak(slot('1')))}; now ${mb(last(slot('0')))}, ${mb(last(slot('1')))}`);
  console.log(`recycled for rss: ${last(recycles.find((s) => s.metric['reason'] === 'rss'))}; transcriptions ok: ${done.map((s) => `${s.metric['isolation']} ${last(s)}`).join(', ')}`);
  console.log(`wrote ${OUT}`);
} finally {
  await cleanup();
}
