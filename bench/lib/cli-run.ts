import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeTempDir, removeTempDir, spawnTracked } from './cleanup.js';
import { readProcMemory } from './proc.js';
import { cliLaunch, ROOT, type Launch } from './paths.js';

const GNU_TIME = '/usr/bin/time';

export interface CliFileResult {
  file: string;
  text: string;
  /** When its JSON reached stdout, in ms from spawn (the CLI prints each file as it finishes). */
  atMs: number;
}

export interface CliRun {
  launch: Launch;
  results: CliFileResult[];
  wallMs: number;
  exitCode: number | null;
  stderr: string;
  peakRssBytes: number | undefined;
  /** User + system CPU seconds of the CLI and its ffmpeg runs (GNU time only). */
  cpuSeconds: number | undefined;
  /** How the peak was measured. */
  rssMethod: string;
}

/**
 * Runs `hark transcribe --format json --no-progress FILES...` in a child and
 * timestamps each file's JSON as it arrives. Peak RSS comes from GNU time's
 * exact maxrss when installed, else from sampling the child's VmHWM.
 */
export async function runCliTranscribe(files: readonly string[]): Promise<CliRun> {
  const launch = cliLaunch(['transcribe', '--format', 'json', '--no-progress', ...files]);
  const scratch = makeTempDir('hark-bench-cli-');
  const timeFile = join(scratch, 'time.txt');
  const useTime = existsSync(GNU_TIME);
  const [command, args] = useTime ? [GNU_TIME, ['-v', '-o', timeFile, launch.command, ...launch.args]] : [launch.command, launch.args];

  const started = performance.now();
  const child = spawnTracked(command, args, { cwd: ROOT, env: { ...process.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const results: CliFileResult[] = [];
  let pending = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    const at = performance.now() - started;
    pending += chunk;
    // `--format json` with several files prints JSON Lines: one object per file, per line.
    for (let end = pending.indexOf('\n'); end >= 0; end = pending.indexOf('\n')) {
      const line = pending.slice(0, end).trim();
      pending = pending.slice(end + 1);
      if (line === '') continue;
      const obj = JSON.parse(line) as { file: string; text: string };
      results.push({ file: obj.file, text: obj.text, atMs: at });
    }
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));

  let hwm = 0;
  const sampler = useTime
    ? undefined
    : setInterval(() => {
        const m = child.pid === undefined ? undefined : readProcMemory(child.pid);
        if (m !== undefined) hwm = Math.max(hwm, m.hwm);
      }, 100);
  const exitCode = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    // 'close', not 'exit': it comes after stdout has delivered its last object.
    child.on('close', (code) => resolve(code));
  });
  const wallMs = performance.now() - started;
  clearInterval(sampler);

  let peakRssBytes: number | undefined = hwm > 0 ? hwm : undefined;
  let cpuSeconds: number | undefined;
  let rssMethod = 'VmHWM sampled every 100 ms';
  if (useTime) {
    const report = await readFile(timeFile, 'utf8');
    const kb = /Maximum resident set size \(kbytes\): (\d+)/.exec(report)?.[1];
    peakRssBytes = kb === undefined ? undefined : Number(kb) * 1024;
    rssMethod = 'GNU time -v maxrss';
    const seconds = (label: string) => Number(new RegExp(`${label} time \\(seconds\\): ([\\d.]+)`).exec(report)?.[1] ?? NaN);
    cpuSeconds = seconds('User') + seconds('System');
  }
  removeTempDir(scratch);
  return { launch, results, wallMs, exitCode, stderr, peakRssBytes, cpuSeconds, rssMethod };
}
