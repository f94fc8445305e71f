import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
// @ts-expect-error espree (eslint's parser) ships no type declarations
import * as espree from 'espree';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPresets, type PresetsModule } from '../src/loadtest/presets.js';
import { writeReport } from '../src/loadtest/report.js';
import { runLoad, type RunSettings } from '../src/loadtest/runner.js';
import { readK6Env, settingsFrom } from '../src/loadtest/settings.js';
import { spawnServer, type ChildServer } from './support/child-server.js';
import { clip } from './support/corpus.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const K6_DIR = join(ROOT, 'loadtest', 'k6');
const k6Files = readdirSync(K6_DIR).filter((f) => f.endsWith('.js'));
const SHORT = clip('1089-134686-0001').path; // 3.3 s

let presets: PresetsModule;
let tmp: string;
beforeAll(async () => {
  presets = await loadPresets();
  tmp = await mkdtemp(join(tmpdir(), 'hark-loadtest-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** Settings for a short smoke run against `baseUrl`. */
function smoke(baseUrl: string, env: Record<string, string>, extra: Partial<RunSettings> = {}): RunSettings {
  return { ...settingsFrom({ BASE_URL: baseUrl, TEST_MODE: 'smoke', ENDPOINT: '/transcriptions/sync', ...env }, presets, { audioFiles: [SHORT], gracefulStopSeconds: 10 }), ...extra };
}

/** Sum of hark_http_requests_total over statuses for one route and method. */
async function serverCount(url: string, route: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('hark_http_requests_total{') && line.includes(`route="${route}"`) && line.includes('method="POST"')) sum += Number(line.split(' ').pop());
  }
  return sum;
}

describe('the k6 kit', () => {
  it('has k6 scripts that parse as JavaScript modules and use the k6 API', () => {
    expect(k6Files).toEqual(expect.arrayContaining(['presets.js', 'transcribe.js']));
    for (const f of k6Files) {
      const src = readFileSync(join(K6_DIR, f), 'utf8');
      expect(() => (espree as { parse(code: string, options: object): unknown }).parse(src, { ecmaVersion: 'latest', sourceType: 'module' }), f).not.toThrow();
    }
    const script = readFileSync(join(K6_DIR, 'transcribe.js'), 'utf8');
    expect(script).toContain("import http from 'k6/http'");
    expect(script).toMatch(/import \{[^}]*Counter[^}]*Trend[^}]*\} from 'k6\/metrics'/);
    expect(script).toMatch(/http\.file\(/);
    expect(script).toMatch(/open\(p, 'b'\)/);
    expect(script).toMatch(/thresholds:/);
    expect(script).toMatch(/from '\.\/presets\.js'/);
  });

  it('runs its init code and one iteration per ENDPOINT with stubbed k6 modules', async () => {
    const dir = await mkdtemp(join(tmp, 'k6-'));
    const list = join(dir, 'list.txt');
    await writeFile(list, `# clips\n${SHORT}\n`);
    await writeFile(
      join(dir, 'stubs.js'),
      `export const calls = [];
      const answer = (status, body) => ({ status, json: () => body });
      let polls = 0;
      const http = {
        file: (data, name) => ({ data, name }),
        post: (url, body, params) => { calls.push(['POST', url, Object.keys(body), params.timeout]);
          return url.endsWith('/api/v1/jobs') ? answer(202, { job_id: 'j1' }) : answer(200, { duration_seconds: 3.3, processing_ms: 500 }); },
        get: (url) => { calls.push(['GET', url]); return url.includes('/result') ? answer(200, { duration_seconds: 3.3 }) : answer(200, { status: ++polls > 1 ? 'completed' : 'running' }); },
        setResponseCallback: () => {},
        expectedStatuses: () => ({}),
      };
      export default http;
      export const check = (r, checks) => Object.values(checks).every((f) => f(r));
      export const sleep = () => {};
      export class Trend { constructor(name) { this.name = name; } add(v) { calls.push([this.name, v]); } }
      export class Counter { constructor(name) { this.name = name; } add(v) { calls.push([this.name, v]); } }
      `,
    );
    const src = readFileSync(join(K6_DIR, 'transcribe.js'), 'utf8')
      .replace("from 'k6/http'", "from './stubs.js'")
      .replace("from 'k6'", "from './stubs.js'")
      .replace("from 'k6/metrics'", "from './stubs.js'")
      .replace("from './presets.js'", `from ${JSON.stringify(new URL('presets.js', `file://${K6_DIR}/`).href)}`);
    const g = globalThis as Record<string, unknown>;
    for (const endpoint of ['/transcriptions/sync', '/v1/audio/transcriptions', 'jobs']) {
      const file = join(dir, `script-${endpoint.replace(/\W/g, '_')}.js`);
      await writeFile(file, src);
      g['__ENV'] = { BASE_URL: 'http://h:1', ENDPOINT: endpoint, TEST_MODE: 'load', MAX_VUS: '3', AUDIO_LIST: list, RAMP_DOWN: '0s' };
      g['open'] = (p: string, mode?: string) => (mode === 'b' ? readFileSync(p) : readFileSync(p, 'utf8'));
      const mod = (await import(file)) as { options: { scenarios: Record<string, { stages: unknown }> }; default: () => void };
      const stubs = (await import(join(dir, 'stubs.js'))) as { calls: unknown[][] };
      expect(mod.options.scenarios['load']?.stages).toEqual([
        { duration: '60s', target: 3 },
        { duration: '300s', target: 3 },
      ]);
      stubs.calls.length = 0;
      mod.default();
      const posts = stubs.calls.filter((c) => c[0] === 'POST');
      expect(posts).toHaveLength(1);
      expect(posts[0]![1]).toBe(endpoint === 'jobs' ? 'http://h:1/api/v1/jobs' : `http://h:1${endpoint}`);
      expect(posts[0]![2]).toEqual(endpoint === '/v1/audio/transcriptions' ? ['file', 'model'] : ['file']);
      expect(stubs.calls.some((c) => c[0] === 'audio_seconds' && c[1] === 3.3)).toBe(true);
      expect(stubs.calls.some((c) => c[0] === 'transcription_time')).toBe(true);
    }
    delete g['__ENV'];
    delete g['open'];
  });

  it('reads every variable of .env.k6.example, and documents every __ENV variable it reads', () => {
    const documented = new Set(
      readFileSync(join(ROOT, '.env.k6.example'), 'utf8')
        .split('\n')
        .map((l) => /^([A-Z][A-Z0-9_]*)=/.exec(l)?.[1])
        .filter((v): v is string => v !== undefined),
    );
    const read = new Set<string>();
    for (const f of k6Files) for (const m of readFileSync(join(K6_DIR, f), 'utf8').matchAll(/__ENV\.([A-Z][A-Z0-9_]*)/g)) read.add(m[1]!);
    expect([...read].sort()).toEqual([...documented].sort());
    for (const v of ['BASE_URL', 'ENDPOINT', 'TEST_MODE', 'MAX_VUS', 'RAMP_UP', 'STEADY', 'RAMP_DOWN', 'AUDIO_LIST', 'THINK_TIME']) expect(documented).toContain(v);
  });

  it('reads .env.k6 with the environment winning, as the runner\'s settings', async () => {
    const file = join(tmp, '.env.k6');
    await writeFile(file, `BASE_URL=http://example.test:9/\nENDPOINT=jobs\nTEST_MODE=load\nMAX_VUS=7\nSTEADY=\nTHINK_TIME=0.5\nAUDIO_LIST=${join(tmp, 'list.txt')}\n`);
    await writeFile(join(tmp, 'list.txt'), `${SHORT}\nrelative.wav\n`);
    const env = readK6Env(file, { MAX_VUS: '3', RAMP_UP: '10s' });
    const s = settingsFrom(env, presets);
    expect(s).toMatchObject({ baseUrl: 'http://example.test:9', endpoint: 'jobs', thinkTimeSeconds: 0.5, durationSeconds: 10 + 300 + 60 });
    expect(s.scenario.maxVus).toBe(3);
    expect(s.audioFiles).toEqual([SHORT, join(tmp, 'relative.wav')]);
  });

  it('gives each TEST_MODE the stages it documents', () => {
    expect(presets.TEST_MODES).toEqual(['smoke', 'load', 'stress', 'soak']);
    expect(presets.scenarioFor('smoke', {})).toEqual({ mode: 'smoke', maxVus: 1, startVUs: 1, stages: [{ duration: '30s', target: 1 }] });
    expect(presets.scenarioFor('load', {}).stages).toEqual([
      { duration: '60s', target: 10 },
      { duration: '300s', target: 10 },
      { duration: '60s', target: 0 },
    ]);
    const stress = presets.scenarioFor('stress', {});
    expect(stress.stages.map((s) => s.target)).toEqual([10, 10, 20, 20, 30, 30, 40, 40, 0]);
    expect(presets.totalSeconds(stress.stages)).toBe(660);
    const soak = presets.scenarioFor('soak', {});
    expect(soak.stages).toEqual([
      { duration: '120s', target: 5 },
      { duration: '3600s', target: 5 },
      { duration: '120s', target: 0 },
    ]);
    // Overrides, and the ramp as k6 draws it.
    const custom = presets.scenarioFor('load', { MAX_VUS: '4', RAMP_UP: '10s', STEADY: '1m', RAMP_DOWN: '0s' });
    expect(custom.stages).toEqual([
      { duration: '10s', target: 4 },
      { duration: '60s', target: 4 },
    ]);
    expect([0, 5, 10, 40, 71].map((t) => presets.targetAt(custom, t))).toEqual([0, 2, 4, 4, 4]);
    expect(() => presets.scenarioFor('spike', {})).toThrow(/TEST_MODE/);
    expect(presets.parseDuration('1m30s')).toBe(90);
  });
});

describe('hark loadtest run against a real hark', () => {
  let plain: ChildServer;
  let full: ChildServer;
  beforeAll(async () => {
    [plain, full] = await Promise.all([
      spawnServer({ ENABLE_PROCESS_ISOLATED: 'false', LOG_LEVEL: 'warn' }),
      spawnServer({ ENABLE_PROCESS_ISOLATED: 'false', LOG_LEVEL: 'warn', MAX_QUEUE_SIZE: '0', IN_PROCESS_CONCURRENCY: '1' }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([plain?.stop(), full?.stop()]);
  });

  it('reports as many requests as the server counted, with samples, and writes a report folder', async () => {
    const run = await runLoad(smoke(plain.url, { STEADY: '4s' }), presets);
    expect(run.requests.length).toBeGreaterThan(0);
    expect(run.requests.every((r) => r.outcome === 'ok' && r.status === 200 && (r.audio_s ?? 0) > 3)).toBe(true);
    expect(await serverCount(plain.url, '/transcriptions/sync')).toBe(run.requests.length);
    expect(run.samples.length).toBeGreaterThanOrEqual(3);
    expect(run.samples.every((s) => (s.server_rss_bytes ?? 0) > 50e6)).toBe(true);
    expect(run.samples.some((s) => typeof s.capacity === 'object')).toBe(true);
    const dir = join(tmp, 'smoke');
    const report = await writeReport(dir, run);
    expect(report.summary.ok).toBe(run.requests.length);
    const json = JSON.parse(await readFile(join(dir, 'report.json'), 'utf8')) as typeof report;
    expect(json.requests[0]).toMatchObject({ status: 200, outcome: 'ok' });
    expect(typeof json.requests[0]!.t).toBe('number');
    expect(json.settings.endpoint).toBe('/transcriptions/sync');
    expect(existsSync(join(dir, 'charts.png'))).toBe(true);
  });

  it('runs ENDPOINT=jobs to each job\'s end, and the open model at a fixed rate', async () => {
    const jobs = await runLoad(smoke(plain.url, { ENDPOINT: 'jobs', STEADY: '3s', JOB_POLL_INTERVAL: '0.2' }), presets);
    expect(jobs.requests.length).toBeGreaterThan(0);
    expect(jobs.requests.every((r) => r.outcome === 'ok' && r.status === 200)).toBe(true);
    expect(await serverCount(plain.url, '/api/v1/jobs')).toBe(jobs.requests.length);

    const before = await serverCount(plain.url, '/v1/audio/transcriptions');
    const open = await runLoad(smoke(plain.url, { ENDPOINT: '/v1/audio/transcriptions', STEADY: '3s', MAX_VUS: '4' }, { rate: 2 }), presets);
    expect(open.requests.length + open.dropped).toBeGreaterThanOrEqual(5);
    expect(open.requests.length + open.dropped).toBeLessThanOrEqual(6);
    expect(open.requests.every((r) => r.outcome === 'ok')).toBe(true);
    expect((await serverCount(plain.url, '/v1/audio/transcriptions')) - before).toBe(open.requests.length);
  });

  it('counts 503 AT_CAPACITY as rejected, not as errors', async () => {
    const run = await runLoad(smoke(full.url, { MAX_VUS: '4', STEADY: '4s' }), presets);
    const by = (o: string) => run.requests.filter((r) => r.outcome === o).length;
    expect(by('ok')).toBeGreaterThan(0);
    expect(by('rejected')).toBeGreaterThan(0);
    expect(run.requests.filter((r) => r.outcome === 'rejected').every((r) => r.status === 503 && r.code === 'AT_CAPACITY')).toBe(true);
    expect(by('error') + by('http_error') + by('timeout')).toBe(0);
    expect(await serverCount(full.url, '/transcriptions/sync')).toBe(run.requests.length);
  });

  it('renders an HTML report that opens offline in Chromium with its SVG charts', async () => {
    const report = JSON.parse(await readFile(join(tmp, 'smoke', 'report.json'), 'utf8'));
    expect(report).toBeTruthy();
    const html = await readFile(join(tmp, 'smoke', 'report.html'), 'utf8');
    const browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    try {
      const page = await browser.newPage();
      const requests: string[] = [];
      page.on('request', (r) => requests.push(r.url()));
      await page.setContent(html, { waitUntil: 'load' });
      expect(requests.filter((u) => !u.startsWith('data:') && !u.startsWith('about:'))).toEqual([]);
      const charts = await page.locator('svg:has(path)').count();
      expect(charts).toBe(4);
      const box = await page.locator('svg').first().boundingBox();
      expect(box?.width ?? 0).toBeGreaterThan(300);
      expect(await page.locator('table').first().innerText()).toContain('completed (2xx)');
    } finally {
      await browser.close();
    }
  });
});

describe('the runner and a server that hangs', () => {
  let hang: Server;
  let url: string;
  beforeAll(async () => {
    hang = createServer(() => {
      // accepts, reads nothing, answers nothing
    });
    await new Promise<void>((r) => hang.listen(0, '127.0.0.1', r));
    const addr = hang.address();
    url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  });
  afterAll(async () => {
    hang.closeAllConnections();
    await new Promise((r) => hang.close(r));
  });

  it('stops at its time bound and reports the requests as timed out', async () => {
    const started = performance.now();
    const run = await runLoad(smoke(url, { MAX_VUS: '3', STEADY: '2s' }, { gracefulStopSeconds: 1 }), presets);
    const elapsed = (performance.now() - started) / 1000;
    expect(elapsed).toBeGreaterThanOrEqual(2.9);
    expect(elapsed).toBeLessThan(5);
    expect(run.requests).toHaveLength(3);
    expect(run.requests.every((r) => r.outcome === 'timeout' && r.code === 'TIMEOUT' && r.status === 0)).toBe(true);
    expect(run.stop_reason).toMatch(/aborted/);
  });
});
