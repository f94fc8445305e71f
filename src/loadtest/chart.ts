import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';

/*
 * A small line-chart helper (shared with bench/, which re-exports it): each chart is an inline SVG
 * (axes with units, grid, legend, reference lines), several of them go on one
 * HTML page, and the page is screenshotted to PNG with headless Chromium.
 * No chart library: the SVG is a few hundred bytes of paths and text.
 */

/** One line. A point whose y is NaN breaks the line (a gap, e.g. no process then). */
export interface ChartSeries {
  name: string;
  points: readonly (readonly [number, number])[];
  color: string;
  width?: number;
  /** SVG stroke-dasharray, e.g. "6 4". */
  dash?: string;
  /** false: drawn but not listed in the legend (e.g. a second line of the same kind). */
  legend?: boolean;
}

/** A horizontal (y = value) or vertical (x = value) reference line with a label. */
export interface RefLine {
  value: number;
  label: string;
  color?: string;
}

export interface LineChartSpec {
  title: string;
  subtitle?: string;
  /** Axis titles, units included, e.g. "time since phase start (s)". */
  xLabel: string;
  yLabel: string;
  series: readonly ChartSeries[];
  /** Pixel size of the whole SVG (defaults 1000 x 380). */
  width?: number;
  height?: number;
  /** Axis ranges; by default from the data (y from 0). */
  xMin?: number;
  xMax?: number;
  yMin?: number;
  yMax?: number;
  hLines?: readonly RefLine[];
  vLines?: readonly RefLine[];
  formatX?: (v: number) => string;
  formatY?: (v: number) => string;
}

/** Colours that stay apart on white and for the common colour-vision deficiencies (Okabe-Ito). */
export const COLORS = {
  blue: '#0072b2',
  orange: '#e69f00',
  green: '#009e73',
  vermillion: '#d55e00',
  purple: '#cc79a7',
  sky: '#56b4e9',
  yellow: '#c9b400',
  grey: '#777777',
  black: '#222222',
} as const;

const FONT = 'DejaVu Sans, Helvetica, Arial, sans-serif';
/** A white outline behind a label, so it stays legible over grid and lines. */
const HALO = ' stroke="#ffffff" stroke-width="4" stroke-linejoin="round" paint-order="stroke"';

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A round tick step (1, 2, 2.5 or 5 times a power of ten) giving about `ticks` intervals over `range`. */
export function niceStep(range: number, ticks = 5): number {
  if (!(range > 0)) return 1;
  const raw = range / ticks;
  const mag = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw * 0.999) ?? 10 * mag;
}

function defaultFormat(step: number): (v: number) => string {
  const digits = step >= 1 ? 0 : Math.min(6, Math.ceil(-Math.log10(step)));
  return (v) => v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** Rough width of a label in px (no font metrics in Node). */
function textWidth(s: string, size: number): number {
  return s.length * size * 0.58;
}

/** An SVG line chart: title, legend, plot with grid and reference lines, labelled axes. */
export function lineChartSvg(spec: LineChartSpec): string {
  const width = spec.width ?? 1000;
  const height = spec.height ?? 380;
  const finite = (pick: 0 | 1) => spec.series.flatMap((s) => s.points.map((p) => p[pick]).filter((v) => Number.isFinite(v)));
  const xs = finite(0);
  const ys = [...finite(1), ...(spec.hLines ?? []).map((l) => l.value)];
  const xMin0 = spec.xMin ?? Math.min(0, ...xs);
  const xMax0 = spec.xMax ?? Math.max(xMin0 + 1, ...xs);
  const yMin0 = spec.yMin ?? Math.min(0, ...ys);
  const yMax0 = spec.yMax ?? Math.max(yMin0 + 1, ...ys) * 1.05;
  const xStep = niceStep(xMax0 - xMin0, 10);
  const yStep = niceStep(yMax0 - yMin0, 6);
  const xMin = spec.xMin ?? Math.floor(xMin0 / xStep) * xStep;
  const xMax = spec.xMax ?? Math.ceil(xMax0 / xStep) * xStep;
  const yMin = spec.yMin ?? Math.floor(yMin0 / yStep) * yStep;
  const yMax = spec.yMax ?? Math.ceil(yMax0 / yStep) * yStep;
  const fx = spec.formatX ?? defaultFormat(xStep);
  const fy = spec.formatY ?? defaultFormat(yStep);

  // Legend entries flow in rows under the title.
  const legend = spec.series.filter((s, i) => s.legend !== false && spec.series.findIndex((t) => t.name === s.name) === i);
  const left = 24 + 22 + Math.max(...[yMin, yMax].map((v) => textWidth(fy(v), 12)), 30);
  const right = 24;
  const rows: ChartSeries[][] = [[]];
  let rowWidth = 0;
  for (const s of legend) {
    const w = 34 + textWidth(s.name, 13) + 24;
    if (rowWidth + w > width - left - right && rows.at(-1)!.length > 0) {
      rows.push([]);
      rowWidth = 0;
    }
    rows.at(-1)!.push(s);
    rowWidth += w;
  }
  const titleH = spec.subtitle === undefined ? 34 : 54;
  const top = titleH + rows.length * 22 + 14;
  const bottom = 56;
  const w = width - left - right;
  const h = height - top - bottom;
  const X = (v: number) => left + ((v - xMin) / (xMax - xMin)) * w;
  const Y = (v: number) => top + h - ((v - yMin) / (yMax - yMin)) * h;

  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${FONT}">`);
  out.push(`<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`);
  out.push(`<text x="${left}" y="24" font-size="17" font-weight="bold" fill="#111">${escapeXml(spec.title)}</text>`);
  if (spec.subtitle !== undefined) out.push(`<text x="${left}" y="44" font-size="13" fill="#555">${escapeXml(spec.subtitle)}</text>`);
  rows.forEach((row, r) => {
    let lx = left;
    const ly = titleH + 12 + r * 22;
    for (const s of row) {
      out.push(
        `<line x1="${lx}" x2="${lx + 26}" y1="${ly - 4}" y2="${ly - 4}" stroke="${s.color}" stroke-width="${Math.max(3, s.width ?? 2)}"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`,
      );
      out.push(`<text x="${lx + 34}" y="${ly}" font-size="13" fill="#222">${escapeXml(s.name)}</text>`);
      lx += 34 + textWidth(s.name, 13) + 24;
    }
  });

  // Grid, ticks and tick labels.
  out.push(`<g font-size="12" fill="#444">`);
  for (let v = yMin; v <= yMax + yStep * 1e-6; v += yStep) {
    out.push(`<line x1="${left}" x2="${left + w}" y1="${Y(v).toFixed(1)}" y2="${Y(v).toFixed(1)}" stroke="#e3e3e3"/>`);
    out.push(`<text x="${left - 8}" y="${(Y(v) + 4).toFixed(1)}" text-anchor="end">${escapeXml(fy(v))}</text>`);
  }
  for (let v = xMin; v <= xMax + xStep * 1e-6; v += xStep) {
    out.push(`<line x1="${X(v).toFixed(1)}" x2="${X(v).toFixed(1)}" y1="${top}" y2="${top + h}" stroke="#f0f0f0"/>`);
    out.push(`<line x1="${X(v).toFixed(1)}" x2="${X(v).toFixed(1)}" y1="${top + h}" y2="${top + h + 5}" stroke="#888"/>`);
    out.push(`<text x="${X(v).toFixed(1)}" y="${top + h + 19}" text-anchor="middle">${escapeXml(fx(v))}</text>`);
  }
  out.push(`</g>`);
  out.push(`<rect x="${left}" y="${top}" width="${w}" height="${h}" fill="none" stroke="#888"/>`);
  out.push(`<text x="${left + w / 2}" y="${height - 12}" font-size="13" text-anchor="middle" fill="#222">${escapeXml(spec.xLabel)}</text>`);
  out.push(
    `<text transform="translate(18 ${top + h / 2}) rotate(-90)" font-size="13" text-anchor="middle" fill="#222">${escapeXml(spec.yLabel)}</text>`,
  );

  // Clip the data to the plot area.
  const clip = `clip-${Math.random().toString(36).slice(2, 10)}`;
  out.push(`<clipPath id="${clip}"><rect x="${left}" y="${top}" width="${w}" height="${h}"/></clipPath>`);
  out.push(`<g clip-path="url(#${clip})">`);
  for (const l of spec.hLines ?? []) {
    const c = l.color ?? COLORS.vermillion;
    out.push(`<line x1="${left}" x2="${left + w}" y1="${Y(l.value).toFixed(1)}" y2="${Y(l.value).toFixed(1)}" stroke="${c}" stroke-width="1.5" stroke-dasharray="8 5"/>`);
  }
  for (const l of spec.vLines ?? []) {
    const c = l.color ?? COLORS.grey;
    out.push(`<line x1="${X(l.value).toFixed(1)}" x2="${X(l.value).toFixed(1)}" y1="${top}" y2="${top + h}" stroke="${c}" stroke-width="1.5" stroke-dasharray="3 4"/>`);
  }
  for (const s of spec.series) {
    let d = '';
    let pen = false;
    for (const [x, y] of s.points) {
      if (!Number.isFinite(x) || !Number.isFinite(y)) {
        pen = false;
        continue;
      }
      d += `${pen ? 'L' : 'M'}${X(x).toFixed(1)},${Y(y).toFixed(1)} `;
      pen = true;
    }
    if (d === '') continue;
    out.push(
      `<path d="${d.trim()}" fill="none" stroke="${s.color}" stroke-width="${s.width ?? 2}" stroke-linejoin="round" stroke-linecap="round"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`,
    );
  }
  // Reference labels on top of the data, so no line crosses them.
  for (const l of spec.hLines ?? []) {
    out.push(`<text x="${left + w - 6}" y="${(Y(l.value) - 6).toFixed(1)}" font-size="12" text-anchor="end" fill="${l.color ?? COLORS.vermillion}"${HALO}>${escapeXml(l.label)}</text>`);
  }
  for (const l of spec.vLines ?? []) {
    out.push(`<text x="${(X(l.value) + 5).toFixed(1)}" y="${top + 15}" font-size="12" fill="${l.color ?? COLORS.grey}"${HALO}>${escapeXml(l.label)}</text>`);
  }
  out.push(`</g></svg>`);
  return out.join('\n');
}

/** An HTML page: a heading, the charts one under the other, and notes under them. */
export function chartPage(options: { title: string; charts: readonly string[]; notes?: readonly string[]; width: number }): string {
  const notes = (options.notes ?? []).map((n) => `<li>${escapeXml(n)}</li>`).join('');
  return `<!doctype html><html><head><meta charset="utf-8"><title>${escapeXml(options.title)}</title><style>
  body { margin: 0; padding: 16px; width: ${options.width}px; background: #fff; color: #222; font-family: ${FONT}; }
  h1 { font-size: 20px; margin: 0 0 8px; } svg { display: block; margin: 0 0 12px; border: 1px solid #ddd; }
  ul { margin: 4px 0 0; padding-left: 20px; font-size: 13px; color: #444; } li { margin: 2px 0; }
</style></head><body><h1>${escapeXml(options.title)}</h1>${options.charts.join('\n')}${notes === '' ? '' : `<ul>${notes}</ul>`}</body></html>`;
}

export const CHROMIUM = '/usr/bin/chromium';

/**
 * Screenshots an HTML page (the whole page) to PNG with headless Chromium
 * (Debian's, through playwright-core; no browser download). The browser is
 * closed however the screenshot ends. playwright-core is a development
 * dependency, loaded only here, so the CLI works in a production install; the
 * PNG is then skipped with this error, and the HTML report stands.
 */
export async function renderPng(html: string, outPath: string, width: number): Promise<void> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`);
  const { chromium } = await import('playwright-core').catch(() => {
    throw new Error('PNG rendering needs the playwright-core package (npm install): the HTML report was written');
  });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: width + 32, height: 600 }, deviceScaleFactor: 1 });
    await page.setContent(html, { waitUntil: 'load' });
    await mkdir(dirname(outPath), { recursive: true });
    await page.screenshot({ path: outPath, fullPage: true });
  } finally {
    await browser.close();
  }
}
