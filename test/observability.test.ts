import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { childPids, spawnServer, waitFor, type ChildServer } from './support/child-server.js';
import { wavData, writeSilence } from './support/audio.js';
import { clip } from './support/corpus.js';
import { streamPcm } from './support/live-stream.js';
import { poolView, postAudio } from './support/http.js';
import { submitJob, waitFinished } from './support/jobs.js';
import { PROMETHEUS_DIR, scrape, startPrometheus, type Exposition } from './support/prometheus.js';

/*
 * The Prometheus rules, the Grafana dashboard and the metrics they read, checked
 * against a running hark (child process, both pool settings) and a real
 * Prometheus: a renamed metric or a broken query fails here, not on a dashboard.
 */

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DASHBOARD = join(ROOT, 'deploy/grafana/dashboards/hark.json');
const RUNBOOK = join(ROOT, 'docs/runbook.md');
const short = clip('1089-134686-0001').path; // 3.3 s of speech
/** whisper.cpp's test model, so the model metrics have a model to report. */
const WHISPER = { ENGINES: 'pocketsphinx,whisper', WHISPER_MODEL_PATH: join(ROOT, '../shared/models/for-tests-ggml-tiny.en.bin') };
/** A second of silence: whisper's model loads for it, and its untrained weights never decode speech for seconds. */
const work = mkdtempSync(join(tmpdir(), 'hark-obs-'));
const silence = join(work, 'silence.wav');
writeSilence(silence, 1);
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

function alertRules(): Rule[] {
  const doc = parse(readFileSync(join(PROMETHEUS_DIR, 'alerts.yml'), 'utf8')) as { groups: { rules: Rule[] }[] };
  return doc.groups.flatMap((g) => g.rules);
}

interface Panel {
  type: string;
  title: string;
  datasource?: { uid?: string };
  targets?: { expr: string; datasource?: { uid?: string } }[];
  panels?: Panel[];
}
interface Dashboard {
  schemaVersion: number;
  __inputs?: unknown;
  panels: Panel[];
  templating: { list: { name: string; type: string; query: string | { query: string } }[] };
}

const dashboard = (): Dashboard => JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;
const allPanels = (d: Dashboard): Panel[] => d.panels.flatMap((p) => [p, ...(p.panels ?? [])]);

/** Every PromQL expression of the dashboard: panel targets and query variables. */
function dashboardExprs(): string[] {
  const d = dashboard();
  const fromPanels = allPanels(d).flatMap((p) => (p.targets ?? []).map((t) => t.expr));
  const fromVars = d.templating.list.filter((v) => v.type === 'query').map((v) => (typeof v.query === 'string' ? v.query : v.query.query));
  return [...fromPanels, ...fromVars];
}

/** Metric names an expression reads: hark's own and the prom-client defaults the dashboard uses. */
function metricNames(exprs: string[]): Set<string> {
  return new Set(exprs.flatMap((e) => [...e.matchAll(/\b(?:hark|nodejs|process)_[a-z0-9_]+/g)].map((m) => m[0])));
}

/** The names used nowhere in /metrics (with at least one sample): histogram suffixes resolved against `# TYPE`. */
function missingFrom(exposed: Exposition, names: Set<string>): string[] {
  const sampled = new Set(exposed.samples.map((s) => s.name));
  return [...names].filter((name) => {
    const base = name.replace(/_(bucket|sum|count)$/, '');
    const family = exposed.types.get(name) !== undefined ? name : exposed.types.get(base) === 'histogram' ? base : undefined;
    return family === undefined || !sampled.has(name);
  });
}

/** GitHub's anchor for a heading. */
const anchor = (heading: string) => heading.trim().toLowerCase().replace(/[^\w\- ]/g, '').replace(/ /g, '-');

/** A few requests of every kind: transcriptions (both modes when on), a job, errors, unknown routes. */
async function exercise(url: string, pool: boolean): Promise<void> {
  const headers = { 'x-request-id': 'obs-req-7f3a9c2e-1b4d-4e8f-9a6b-2c5d8e1f4a7b' };
  const posts = [postAudio(`${url}/transcriptions/sync`, short, {}, { headers })];
  if (pool) posts.push(postAudio(`${url}/transcriptions/process-isolated`, short, {}, { headers }), postAudio(`${url}/transcriptions/process-isolated`, short));
  else posts.push(postAudio(`${url}/transcriptions/process-isolated`, short)); // 503 PROCESS_ISOLATION_DISABLED
  const job = await submitJob(url, short, {}, { 'x-request-id': 'obs-job-1234' });
  for (const r of await Promise.all(posts)) expect(r.status).toBe(pool ? 200 : r.url.endsWith('sync') ? 200 : 503);
  expect((await waitFinished(url, job.job_id)).status).toBe('completed');
  expect((await fetch(`${url}/api/v1/jobs/${job.job_id}`, { headers: { 'x-request-id': '4242' } })).status).toBe(200);
  expect((await fetch(`${url}/api/v1/jobs/3f0e9a4c-5b1d-4c2e-8f7a-6d9b0c1e2f3a`)).status).toBe(404);
  expect((await fetch(`${url}/no/such/route/${job.job_id}`)).status).toBe(404);
  expect((await fetch(`${url}/transcriptions`, { method: 'POST', body: new FormData() })).status).toBe(400);
  expect((await fetch(`${url}/api/v1/capacity`)).status).toBe(200);
  // A model loaded on first use, and a live stream to its end.
  expect((await postAudio(`${url}/transcriptions/sync`, silence, { engine: 'whisper' })).status).toBe(200);
  expect((await streamPcm(url, wavData(short))).messages.map((m) => m.type)).toContain('final');
}

describe('deploy files', () => {
  it('pass promtool: check rules, check config, and the alert unit tests (each alert fires on a failure, not on healthy series)', async () => {
    const opts = { cwd: PROMETHEUS_DIR, timeout: 20_000 };
    await run('promtool', ['check', 'rules', 'alerts.yml'], opts);
    await run('promtool', ['check', 'config', 'prometheus.yml'], opts);
    const { stdout } = await run('promtool', ['test', 'rules', 'alerts.test.yml'], opts);
    expect(stdout).toContain('SUCCESS');
    const tested = readFileSync(join(PROMETHEUS_DIR, 'alerts.test.yml'), 'utf8');
    for (const name of ['HarkWorkerOverMemoryCap', 'HarkServerMemoryGrowing', 'HarkWorkerCrashLoop', 'HarkAtCapacity']) expect(tested).toContain(`alertname: ${name}`);
  });

  it('give every alert a severity, summary, description and a runbook section', () => {
    const runbook = readFileSync(RUNBOOK, 'utf8');
    const anchors = new Set([...runbook.matchAll(/^#{1,4} (.+)$/gm)].map((m) => anchor(m[1]!)));
    const rules = alertRules();
    expect(rules.length).toBeGreaterThanOrEqual(8);
    for (const r of rules) {
      expect(['critical', 'warning'], r.alert).toContain(r.labels?.['severity']);
      expect(r.annotations?.['summary'], r.alert).toBeTruthy();
      expect(r.annotations?.['description'], r.alert).toBeTruthy();
      const m = /^docs\/runbook\.md#(.+)$/.exec(r.annotations?.['runbook_url'] ?? '');
      expect(m?.[1], r.alert).toBe(r.alert.toLowerCase());
      expect(anchors.has(m![1]!), `docs/runbook.md has no section for ${r.alert}`).toBe(true);
    }
  });

  it('make an importable dashboard: no __inputs, a datasource variable, every panel on ${datasource}', () => {
    const d = dashboard();
    expect(d.__inputs).toBeUndefined();
    expect(d.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(d.templating.list.find((v) => v.name === 'datasource')).toMatchObject({ type: 'datasource', query: 'prometheus' });
    const queried = allPanels(d).filter((p) => p.type !== 'row');
    expect(queried.length).toBeGreaterThanOrEqual(15);
    for (const p of queried) {
      expect(p.datasource?.uid, p.title).toBe('${datasource}');
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets ?? []) expect(t.datasource?.uid, p.title).toBe('${datasource}');
    }
  });
});

/*
 * Both pool settings run the same checks; what differs on purpose is `pool` in this table: the
 * requests `exercise` expects to succeed, the checks that need live workers (per-worker RSS, a
 * real Prometheus scraping two workers), and the zeros check that needs the pool off.
 */
const MODES = [
  { name: 'with the worker pool on (WORKER_COUNT=2)', env: { WORKER_COUNT: '2' }, pool: true },
  { name: 'with the worker pool off (ENABLE_PROCESS_ISOLATED=false)', env: { ENABLE_PROCESS_ISOLATED: 'false' }, pool: false },
] as const;

describe.each(MODES)('$name', ({ env, pool }) => {
  let server: ChildServer;
  beforeAll(async () => {
    server = await spawnServer({ ...WHISPER, ...env });
    await exercise(server.url, pool);
  });
  afterAll(async () => server?.stop());

  it('exports every metric the dashboard and the alerts query', async () => {
    const used = metricNames([...dashboardExprs(), ...alertRules().map((r) => r.expr)]);
    expect(used.size).toBeGreaterThan(25);
    expect(missingFrom(await scrape(server.url), used)).toEqual([]);
  });

  it('is documented: docs/observability.md lists every hark metric with its type and HELP text', async () => {
    const m = await scrape(server.url);
    const doc = readFileSync(join(ROOT, 'docs/observability.md'), 'utf8');
    const rows = [...m.types].filter(([name]) => name.startsWith('hark_')).map(([name, type]) => ({ name, type, help: m.help.get(name)!.replace(/\|/g, '\\|') }));
    expect(rows.length).toBeGreaterThan(30);
    const undocumented = rows.filter((r) => !doc.includes(`| \`${r.name}\` | ${r.type} |`) || !doc.includes(r.help));
    expect(undocumented, 'add or update these rows in docs/observability.md').toEqual([]);
  });

  it.runIf(pool)('reports each worker\'s RSS as /proc/<pid>/status VmRSS (within 10%)', async () => {
    await waitFor(async () => (await poolView(server.url)).workers.every((w) => w.state === 'idle'));
    const m = await scrape(server.url);
    const view = await poolView(server.url);
    expect(view.workers).toHaveLength(2);
    for (const w of view.workers) {
      const status = readFileSync(`/proc/${w.pid}/status`, 'utf8');
      const vmRss = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)![1]) * 1024;
      const exported = m.samples.find((s) => s.name === 'hark_worker_resident_memory_bytes' && s.labels['slot'] === String(w.slot))?.value;
      expect(exported, `slot ${w.slot}`).toBeGreaterThan(50e6);
      expect(Math.abs(exported! - vmRss) / vmRss, `slot ${w.slot}: ${exported} vs VmRSS ${vmRss}`).toBeLessThan(0.1);
    }
  });

  it('keeps label values bounded: no request id, job id, uuid or pid in any label', async () => {
    const m = await scrape(server.url);
    const view = await poolView(server.url);
    const pids = new Set([server.pid, ...view.workers.map((w) => w.pid)].map(String));
    const uuid = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;
    const bad: string[] = [];
    for (const s of m.samples) {
      for (const [label, value] of Object.entries(s.labels)) {
        const numeric = /^\d+$/.test(value);
        // le and HTTP status are numbers by nature; nodejs_version_info has major/minor/patch.
        const allowedNumber = ['le', 'status', 'major', 'minor', 'patch'].includes(label) || (label === 'slot' && Number(value) < 2);
        if (uuid.test(value) || value.includes('obs-') || (numeric && !allowedNumber) || (label !== 'le' && label !== 'status' && pids.has(value))) {
          bad.push(`${s.name}{${label}="${value}"}`);
        }
      }
    }
    expect(bad).toEqual([]);
    const routes = new Set(m.samples.filter((s) => s.name === 'hark_http_requests_total').map((s) => s.labels['route']));
    expect(routes).toContain('/api/v1/jobs/:id');
    expect(routes).toContain('unmatched');
  });

  it.runIf(pool)('is scraped by a real Prometheus: one worker RSS series per slot, and every dashboard query runs', async () => {
    const prom = await startPrometheus(server.url.replace('http://', ''), { scrapeInterval: '1s' });
    try {
      let series: Awaited<ReturnType<typeof prom.query>> = [];
      await waitFor(
        async () => {
          series = await prom.query('hark_worker_resident_memory_bytes');
          return series.length === 2;
        },
        20_000,
        250,
      ).catch((err: unknown) => {
        throw new Error(`${String(err)}; last answer ${JSON.stringify(series)}; prometheus log: ${prom.logs.slice(-5).join('\n')}`);
      });
      expect(series.map((s) => s.metric['slot']).sort()).toEqual(['0', '1']);
      for (const s of series) {
        expect(s.metric).toMatchObject({ job: 'hark', instance: server.url.replace('http://', '') });
        expect(Number(s.value![1])).toBeGreaterThan(0);
      }
      // Grafana's variables, as a refresh of the dashboard would fill them in.
      const vars = (e: string) => e.replace(/\$__rate_interval/g, '5s').replace(/\$job/g, 'hark').replace(/\$instance/g, '.*');
      for (const expr of dashboardExprs().filter((e) => !e.startsWith('label_values('))) await prom.query(vars(expr));
      for (const r of alertRules()) await prom.query(r.expr);
      expect((await prom.query('up{job="hark"}'))[0]?.value?.[1]).toBe('1');
      // It loaded the alert rules from the config, and none is firing on a healthy server.
      const rules = (await (await fetch(`${prom.url}/api/v1/rules`)).json()) as { data: { groups: { rules: { name: string; health: string; state: string }[] }[] } };
      const loaded = rules.data.groups.flatMap((g) => g.rules);
      expect(loaded.map((r) => r.name).sort()).toEqual(alertRules().map((r) => r.alert).sort());
      expect(loaded.filter((r) => r.health === 'err' || r.state === 'firing')).toEqual([]);
    } finally {
      await prom.stop();
    }
  });

  it.runIf(!pool)('reports the worker metrics as zeros, and a scrape spawns no process', async () => {
    const m = await scrape(server.url);
    const values = (name: string) => m.samples.filter((s) => s.name === name);
    expect(values('hark_worker_resident_memory_bytes')).toEqual([{ name: 'hark_worker_resident_memory_bytes', labels: { slot: '0' }, value: 0 }]);
    expect(values('hark_workers').map((s) => s.labels['state']).sort()).toEqual(['busy', 'idle', 'retiring', 'starting']);
    expect(values('hark_workers').every((s) => s.value === 0)).toBe(true);
    expect(values('hark_pool_size')[0]?.value).toBe(0);
    expect(values('hark_pool_enabled')[0]?.value).toBe(0);
    // A disabled mode is not reported: 0 places there would read as "at capacity".
    expect(values('hark_capacity_available').map((s) => s.labels['isolation'])).toEqual(['in-process']);

    expect(childPids(server.pid)).toEqual([]);
    const seen: number[] = [];
    let scraping = true;
    const scrapes = Promise.all(Array.from({ length: 20 }, () => scrape(server.url))).finally(() => (scraping = false));
    while (scraping) {
      seen.push(...childPids(server.pid));
      await new Promise((r) => setImmediate(r));
    }
    await scrapes;
    expect(seen).toEqual([]);
  });
});
