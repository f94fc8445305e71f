import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPresets } from '../src/loadtest/presets.js';
import { summarize } from '../src/loadtest/report.js';
import { runLoad } from '../src/loadtest/runner.js';

/*
 * npm run bench:runner [-- --seconds 5 --vus 64]
 * The built-in load runner's own ceiling: `hark loadtest run`'s engine
 * (src/loadtest/runner.ts, one Node thread, so one core) against a trivial
 * node:http route in a child process (pinned to another core with taskset when
 * there is one), posting a 1 KB multipart file in a closed loop. Target:
 * >= 5,000 req/s, so the runner is never what limits a test of hark.
 */

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const seconds = arg('seconds', 5);
const vus = arg('vus', 64);

const SERVER = `
const http = require('node:http');
const srv = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    const body = req.url === '/transcriptions/sync' ? '{"text":"","duration_seconds":0.1}' : '{"error":{"code":"NOT_FOUND"}}';
    res.writeHead(req.url === '/transcriptions/sync' ? 200 : 404, { 'content-type': 'application/json', 'content-length': body.length });
    res.end(body);
  });
});
srv.keepAliveTimeout = 60000;
srv.listen(0, '127.0.0.1', () => process.stdout.write(String(srv.address().port) + '\\n'));
`;

const dir = await mkdtemp(join(tmpdir(), 'hark-bench-runner-'));
const clip = join(dir, 'clip.wav');
await writeFile(clip, Buffer.alloc(1024, 1));
const hasTaskset = spawnSync('taskset', ['--version']).status === 0;
const cmd = hasTaskset ? ['taskset', ['-c', '1', process.execPath, '-e', SERVER]] as const : [process.execPath, ['-e', SERVER]] as const;
const server = spawn(cmd[0], [...cmd[1]], { stdio: ['ignore', 'pipe', 'inherit'] });
try {
  const port = await new Promise<number>((resolve, reject) => {
    server.stdout.once('data', (c: Buffer) => resolve(Number(c.toString().trim())));
    server.once('exit', () => reject(new Error('the trivial server exited')));
  });
  const presets = await loadPresets();
  const scenario = presets.scenarioFor('load', { MAX_VUS: String(vus), RAMP_UP: '0s', STEADY: `${seconds}s`, RAMP_DOWN: '0s' });
  const cpu0 = process.cpuUsage();
  const run = await runLoad(
    {
      baseUrl: `http://127.0.0.1:${port}`,
      endpoint: '/transcriptions/sync',
      scenario,
      durationSeconds: seconds,
      audioFiles: [clip],
      thinkTimeSeconds: 0,
      requestTimeoutSeconds: 30,
      jobPollSeconds: 0.5,
      gracefulStopSeconds: 5,
      sampleIntervalMs: 1000,
    },
    presets,
  );
  const cpu = process.cpuUsage(cpu0);
  const s = summarize(run);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  const rps = s.ok / (run.elapsed_ms / 1000);
  console.log(`runner: ${vus} VUs, ${seconds} s, a 1 KB multipart POST to a trivial node:http route${hasTaskset ? ' (server pinned to core 1)' : ''}`);
  console.log(`  ${s.ok.toLocaleString('en-US')} completed, ${s.requests - s.ok} not; ${rps.toFixed(0)} req/s (target >= 5,000)`);
  console.log(`  runner CPU ${cpuSeconds.toFixed(2)} s over ${(run.elapsed_ms / 1000).toFixed(2)} s wall (${((cpuSeconds / (run.elapsed_ms / 1000)) * 100).toFixed(0)} % of one core), p50 ${s.p50_ms} ms, p99 ${s.p99_ms} ms`);
  console.log(`  ${rps >= 5000 ? 'OK' : 'BELOW TARGET'}`);
} finally {
  server.kill('SIGKILL');
  await rm(dir, { recursive: true, force: true });
}
