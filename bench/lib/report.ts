import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join, relative } from 'node:path';
import { RESULTS_DIR, ROOT } from './paths.js';

export type Align = 'left' | 'right';

export interface Column {
  header: string;
  align?: Align;
}

/** A plain-text table, columns sized to fit (right-aligned unless told). */
export function table(columns: readonly Column[], rows: readonly (readonly string[])[]): string {
  const widths = columns.map((c, i) => Math.max(c.header.length, ...rows.map((r) => (r[i] ?? '').length)));
  const cell = (text: string, i: number) => ((columns[i]?.align ?? 'right') === 'left' ? text.padEnd(widths[i] ?? 0) : text.padStart(widths[i] ?? 0));
  const line = (cells: readonly string[]) => cells.map((c, i) => cell(c, i)).join('  ').trimEnd();
  return [line(columns.map((c) => c.header)), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export function fixed(n: number, digits: number): string {
  return Number.isFinite(n) ? n.toFixed(digits) : '-';
}

export function pct(ratio: number, digits = 1): string {
  return Number.isFinite(ratio) ? `${(ratio * 100).toFixed(digits)}%` : '-';
}

/** "meets" / "MISSES" for a figure against a target (printed, never asserted). */
export function verdict(ok: boolean): string {
  return ok ? 'meets' : 'MISSES';
}

export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length === 0 ? NaN : s.length % 2 === 1 ? (s[mid] ?? NaN) : ((s[mid - 1] ?? NaN) + (s[mid] ?? NaN)) / 2;
}

export function heading(title: string): void {
  console.log(`\n== ${title} ${'='.repeat(Math.max(0, 76 - title.length))}`);
}

function git(args: string[]): string | undefined {
  try {
    return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined; // not a git checkout: the figures simply carry no commit
  }
}

/** 1, 5 and 15 minute load averages: more than the core count means the figures include waiting for a core. */
export function loadAverage(): string {
  return os.loadavg().map((l) => l.toFixed(2)).join(' / ');
}

/** What the figures were measured on; printed first and stored with the results. */
export function machine(): Record<string, string | number | boolean | undefined> {
  const dirty = git(['status', '--porcelain', '--', 'src', 'native']);
  return {
    date: new Date().toISOString(),
    commit: git(['rev-parse', '--short', 'HEAD']),
    src_dirty: dirty === undefined ? undefined : dirty.length > 0,
    node: process.version,
    cpu: os.cpus()[0]?.model,
    cores: os.availableParallelism(),
    memory_gb: Math.round(os.totalmem() / 1e9),
    platform: `${os.platform()} ${os.release()}`,
    load_avg: loadAverage(),
  };
}

export function printMachine(info: Record<string, string | number | boolean | undefined>): void {
  console.log(Object.entries(info).map(([k, v]) => `${k}: ${String(v)}`).join(' | '));
}

/** Writes bench/results/<name>.json and says where. */
export function writeResults(name: string, data: unknown): void {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const path = join(RESULTS_DIR, `${name}.json`);
  writeFileSync(path, `${JSON.stringify(data, null, 2)}\n`);
  console.log(`\nresults written to ${relative(process.cwd(), path) || path}`);
}
