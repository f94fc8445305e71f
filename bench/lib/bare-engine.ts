import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/index.js';
import { mergeDecoderArgs, parseDecoderArgs, TUNED_ARGS } from '../../src/engines/pocketsphinx/index.js';
import { spawnTracked } from './cleanup.js';
import { ROOT } from './paths.js';

/*
 * The bare engine: bench/c/ps-decode.c, a few dozen lines of C over Debian's
 * libpocketsphinx with hark's decoder settings, the yardstick hark's decode
 * path is measured against (bench:engine-overhead).
 */

/** Compiles bench/c/ps-decode.c into `dir` (cc, pkg-config; Debian's libpocketsphinx-dev); returns the binary's path. */
export function buildBareEngine(dir: string): string {
  const out = join(dir, 'ps-decode');
  let flags: string[];
  try {
    flags = execFileSync('pkg-config', ['--cflags', '--libs', 'pocketsphinx', 'sphinxbase'], { encoding: 'utf8' }).trim().split(/\s+/);
  } catch (cause) {
    throw new Error('pkg-config knows no pocketsphinx/sphinxbase: install libpocketsphinx-dev (scripts/setup.sh does)', { cause });
  }
  execFileSync('cc', ['-O2', '-o', out, join(ROOT, 'bench', 'c', 'ps-decode.c'), ...flags], { stdio: ['ignore', 'inherit', 'inherit'] });
  return out;
}

/**
 * The arguments hark's PocketSphinx engine loads its decoder with
 * (src/engines/pocketsphinx/engine.ts): model paths from POCKETSPHINX_MODEL_DIR,
 * TUNED_ARGS, then POCKETSPHINX_ARGS, all as the server would read them.
 */
export function harkDecoderArgs(env: NodeJS.ProcessEnv = process.env): string[] {
  const config = loadConfig({ env: { ...env, LOG_LEVEL: 'silent' }, envFile: join(ROOT, env['ENV_FILE'] ?? '.env') });
  const dir = config.POCKETSPHINX_MODEL_DIR;
  return mergeDecoderArgs(['-hmm', join(dir, 'en-us'), '-lm', join(dir, 'en-us.lm.bin'), '-dict', join(dir, 'cmudict-en-us.dict')], TUNED_ARGS, parseDecoderArgs(config.POCKETSPHINX_ARGS));
}

/** What one run of the bare engine reports. */
export interface BareRun {
  /** Hypothesis per file path. */
  hyps: Map<string, string>;
  /** Process CPU seconds spent loading the model, per process. */
  loadCpu: number[];
  /** Process CPU seconds of the decodes (model load excluded), per process. */
  decodeCpu: number[];
  /** Wall seconds from the first process's first decode to the last process's last (model loads excluded). */
  decodeWallS: number;
  /** Spawn to the last exit, model loads included. */
  wallMs: number;
}

/** Runs one bare-engine process over `files`, one utterance per file. */
async function runOne(binary: string, args: readonly string[], files: readonly string[]): Promise<{ hyps: Map<string, string>; load: number; cpu: number; start: number; end: number }> {
  const child = spawnTracked(binary, [...args, '--', ...files], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr?.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  if (code !== 0) throw new Error(`${binary} exited with ${String(code)}: ${stderr.slice(-500)}`);
  const hyps = new Map<string, string>();
  let figures: number[] = [];
  for (const line of stdout.split('\n')) {
    const [kind, ...rest] = line.split('\t');
    if (kind === 'hyp') hyps.set(rest[0] ?? '', rest[1] ?? '');
    if (kind === 'cpu') figures = rest.map(Number);
  }
  if (hyps.size !== files.length || figures.length !== 4) throw new Error(`${binary} answered ${hyps.size}/${files.length} files: ${stdout.slice(-300)} ${stderr.slice(-300)}`);
  return { hyps, load: figures[0]!, cpu: figures[1]!, start: figures[2]!, end: figures[3]! };
}

/** Runs `processes` bare-engine processes at once, the files dealt to them alternately. */
export async function runBareEngine(binary: string, args: readonly string[], files: readonly string[], processes: number): Promise<BareRun> {
  const shares = Array.from({ length: processes }, (_, p) => files.filter((_f, i) => i % processes === p));
  const started = performance.now();
  const runs = await Promise.all(shares.filter((s) => s.length > 0).map((s) => runOne(binary, args, s)));
  return {
    hyps: new Map(runs.flatMap((r) => [...r.hyps])),
    loadCpu: runs.map((r) => r.load),
    decodeCpu: runs.map((r) => r.cpu),
    decodeWallS: Math.max(...runs.map((r) => r.end)) - Math.min(...runs.map((r) => r.start)),
    wallMs: performance.now() - started,
  };
}
