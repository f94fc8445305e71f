import { useEffect, useRef, useState } from 'preact/hooks';
import type { MemoryHistoryView } from '../api.js';
import { bytes } from '../format.js';

interface Series {
  key: string;
  label: string;
  /** CSS class that sets its colour (in both themes). */
  className: string;
  points: { t: number; v: number | null }[];
  latest: number | null;
  pid?: number | undefined;
}

const HEIGHT = 220;
const PAD = { top: 12, right: 12, bottom: 26, left: 56 };
/** Decimal, like every size on the page. */
const MB = 1e6;

/** 1, 2, 5 x 10^n: the smallest such step that cuts `max` into at most `ticks` parts. */
function niceStep(max: number, ticks: number): number {
  const raw = max / ticks;
  const mag = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * mag >= raw) return m * mag;
  return 10 * mag;
}

function toSeries(history: MemoryHistoryView): Series[] {
  const samples = history.samples;
  const last = samples[samples.length - 1];
  const server: Series = {
    key: 'server',
    label: 'Server',
    className: 'series-server',
    points: samples.map((s) => ({ t: s.t, v: s.server_rss_bytes })),
    latest: last?.server_rss_bytes ?? null,
  };
  const slots = [...new Set(samples.flatMap((s) => s.workers.map((w) => w.slot)))].sort((a, b) => a - b);
  const workers = slots.map((slot, i): Series => {
    // A slot may briefly hold two workers (a warm replacement): the larger is drawn.
    const at = (s: MemoryHistoryView['samples'][number]) => {
      const ws = s.workers.filter((w) => w.slot === slot && w.rss_bytes !== null);
      return ws.length === 0 ? null : Math.max(...ws.map((w) => w.rss_bytes ?? 0));
    };
    const lastWorker = last?.workers.find((w) => w.slot === slot);
    return {
      key: `slot-${slot}`,
      label: `Worker slot ${slot}`,
      className: `series-${i % 6}`,
      points: samples.map((s) => ({ t: s.t, v: at(s) })),
      latest: last === undefined ? null : at(last),
      pid: lastWorker?.pid,
    };
  });
  return [server, ...workers];
}

/** Consecutive points with values, as SVG path commands (a gap where a slot had no worker). */
function pathOf(points: Series['points'], x: (t: number) => number, y: (v: number) => number): string {
  let d = '';
  let pen = false;
  for (const p of points) {
    if (p.v === null) {
      pen = false;
      continue;
    }
    d += `${pen ? 'L' : 'M'}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`;
    pen = true;
  }
  return d;
}

/**
 * Server and per-worker resident memory over the last minutes, drawn as inline SVG
 * in real pixels (the width follows the container), from /api/v1/system/memory.
 */
export function MemoryChart({ history }: { history: MemoryHistoryView }) {
  const box = useRef<HTMLDivElement>(null);
  const [width, setWidth] = useState(640);
  useEffect(() => {
    const el = box.current;
    if (el === null) return;
    const ro = new ResizeObserver(([entry]) => entry !== undefined && setWidth(Math.max(240, Math.floor(entry.contentRect.width))));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  const series = toSeries(history);
  const samples = history.samples;
  const first = samples[0];
  const last = samples[samples.length - 1];
  if (first === undefined || last === undefined) {
    return (
      <div class="chart" ref={box}>
        <p class="muted">No samples yet.</p>
      </div>
    );
  }
  // The x axis spans the samples kept (at least a minute), so a young server's line fills the chart.
  const windowMs = Math.min(Math.max(60_000, last.t - first.t), history.capacity * history.interval_seconds * 1000 || Infinity);
  const t1 = last.t;
  const t0 = t1 - windowMs;
  const max = Math.max(MB, ...series.flatMap((s) => s.points.map((p) => p.v ?? 0)));
  const step = niceStep(max / MB, 4) * MB;
  const top = Math.ceil(max / step) * step;
  const plotW = width - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const x = (t: number) => PAD.left + ((t - t0) / windowMs) * plotW;
  const y = (v: number) => PAD.top + plotH - (v / top) * plotH;
  const yTicks = Array.from({ length: Math.round(top / step) + 1 }, (_, i) => i * step);
  // Time ticks: the smallest round step that gives at most as many labels as fit.
  const maxTicks = Math.max(2, Math.floor(plotW / 90));
  const tickMs = [10, 15, 30, 60, 120, 300, 600].map((s) => s * 1000).find((ms) => windowMs / ms <= maxTicks) ?? 600_000;
  const xTicks = Array.from({ length: Math.floor(windowMs / tickMs) + 1 }, (_, i) => i * tickMs);
  const spanText = last.t - first.t < 90_000 ? `${Math.round((last.t - first.t) / 1000)} seconds` : `${Math.round((last.t - first.t) / 60_000)} minutes`;
  const summary = series.map((s) => `${s.label}${s.pid === undefined ? '' : ` (pid ${s.pid})`}: ${s.latest === null ? 'no value' : bytes(s.latest)}`).join('; ');

  return (
    <div class="chart" ref={box}>
      <svg width={width} height={HEIGHT} role="img" aria-labelledby="mem-title mem-desc" class="chart-svg">
        <title id="mem-title">Resident memory over the last {spanText}</title>
        <desc id="mem-desc">Latest: {summary}.</desc>
        {yTicks.map((v) => (
          <g key={v}>
            <line class="grid" x1={PAD.left} x2={width - PAD.right} y1={y(v)} y2={y(v)} />
            <text class="axis" x={PAD.left - 8} y={y(v)} text-anchor="end" dominant-baseline="middle">
              {Math.round(v / MB)} MB
            </text>
          </g>
        ))}
        {xTicks.map((ago) => (
          <text key={ago} class="axis" x={x(t1 - ago)} y={HEIGHT - 6} text-anchor={ago === 0 ? 'end' : 'middle'}>
            {ago === 0 ? 'now' : ago < 60_000 ? `−${ago / 1000} s` : `−${ago / 60_000} min`}
          </text>
        ))}
        {series.map((s) => (
          <path key={s.key} class={`line ${s.className}`} d={pathOf(s.points, x, y)} />
        ))}
      </svg>
      <ul class="legend" aria-label="Latest values">
        {series.map((s) => (
          <li key={s.key}>
            <span class={`swatch ${s.className}`} aria-hidden="true" />
            <span class="legend-label">{s.label}</span>
            {s.pid !== undefined && <span class="muted"> pid {s.pid}</span>}
            <span class="legend-value">{s.latest === null ? '–' : bytes(s.latest)}</span>
          </li>
        ))}
      </ul>
    </div>
  );
}
