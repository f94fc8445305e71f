import { spawn, type ChildProcess } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { waitFor } from './child-server.js';
import { freePort } from './net.js';

export const PROMETHEUS_BIN = '/usr/bin/prometheus';
export const PROMETHEUS_DIR = fileURLToPath(new URL('../../deploy/prometheus/', import.meta.url));

/** One sample of the Prometheus text format. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A parsed /metrics answer: family types (from `# TYPE`) and every sample line. */
export interface Exposition {
  types: Map<string, string>;
  help: Map<string, string>;
  samples: Sample[];
}

/** Parses the Prometheus text exposition format (what prom-client writes). */
export function parseExposition(text: string): Exposition {
  const types = new Map<string, string>();
  const help = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('# TYPE ')) {
      const [name, type] = line.slice(7).split(' ');
      if (name !== undefined && type !== undefined) types.set(name, type);
    } else if (line.startsWith('# HELP ')) {
      const rest = line.slice(7);
      const space = rest.indexOf(' ');
      help.set(rest.slice(0, space), rest.slice(space + 1).replace(/\\n/g, '\n').replace(/\\\\/g, '\\'));
    } else if (line !== '' && !line.startsWith('#')) {
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
      if (m === null) throw new Error(`unparsable metrics line: ${line}`);
      const labels: Record<string, string> = {};
      for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!.replace(/\\(.)/g, '$1');
      samples.push({ name: m[1]!, labels, value: Number(m[3]) });
    }
  }
  return { types, help, samples };
}

export async function scrape(baseUrl: string): Promise<Exposition> {
  const res = await fetch(`${baseUrl}/metrics`);
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
  return parseExposition(await res.text());
}


/** An instant or range vector from the HTTP API. */
export interface PromSeries {
  metric: Record<string, string>;
  value?: [number, string];
  values?: [number, string][];
}

export interface RunningPrometheus {
  url: string;
  child: ChildProcess;
  /** Its log (stderr), for failure messages. */
  logs: string[];
  /** GET /api/v1/query; throws on an error answer (a query that does not parse). */
  query(expr: string): Promise<PromSeries[]>;
  /** GET /api/v1/query_range between two epoch seconds. */
  queryRange(expr: string, start: number, end: number, stepSeconds: number): Promise<PromSeries[]>;
  stop(): Promise<void>;
}

/**
 * A real Prometheus running deploy/prometheus/prometheus.yml (and its alert rules),
 * with the hark job's target rewritten to `target` and a short scrape interval;
 * on 127.0.0.1, a free port and a temp TSDB that `stop()` removes.
 */
export async function startPrometheus(target: string, opts: { scrapeInterval?: string } = {}): Promise<RunningPrometheus> {
  const dir = await mkdtemp(join(tmpdir(), 'hark-prom-'));
  const config = parse(await readFile(join(PROMETHEUS_DIR, 'prometheus.yml'), 'utf8')) as {
    global: Record<string, string>;
    scrape_configs: { job_name: string; scrape_timeout?: string; static_configs: { targets: string[] }[] }[];
  };
  const interval = opts.scrapeInterval ?? '1s';
  config.global['scrape_interval'] = interval;
  config.global['evaluation_interval'] = interval;
  const job = config.scrape_configs.find((c) => c.job_name === 'hark');
  if (job === undefined) throw new Error('prometheus.yml has no job "hark"');
  job.static_configs = [{ targets: [target] }];
  job.scrape_timeout = interval;
  await writeFile(join(dir, 'prometheus.yml'), stringify(config));
  await copyFile(join(PROMETHEUS_DIR, 'alerts.yml'), join(dir, 'alerts.yml'));

  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(
    PROMETHEUS_BIN,
    [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const logs: string[] = [];
  child.stderr!.on('data', (d: Buffer) => logs.push(...d.toString().split('\n').filter(Boolean)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(killer);
    }
    await rm(dir, { recursive: true, force: true });
  };

  const api = async (path: string, params: Record<string, string>): Promise<PromSeries[]> => {
    const res = await fetch(`${url}${path}?${new URLSearchParams(params)}`);
    const body = (await res.json()) as { status: string; error?: string; data?: { result: PromSeries[] } };
    if (body.status !== 'success') throw new Error(`${params['query']}: ${body.error ?? res.status}`);
    return body.data!.result;
  };
  try {
    await Promise.race([
      waitFor(async () => (await fetch(`${url}/-/ready`)).ok, 20_000, 100),
      exited.then(() => {
        throw new Error(`prometheus exited: ${logs.join('\n')}`);
      }),
    ]);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    url,
    child,
    logs,
    query: (expr) => api('/api/v1/query', { query: expr }),
    queryRange: (expr, start, end, step) => api('/api/v1/query_range', { query: expr, start: String(start), end: String(end), step: String(step) }),
    stop,
  };
}
