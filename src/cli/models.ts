import { join } from 'node:path';
import { Option, type Command } from 'commander';
import type { Config } from '../config/index.js';
import { AppError } from '../errors.js';
// From their own modules, not the index: it also exports the server's registry and cache, and their engines.
import { loadCatalogue, modelFileName } from '../models/catalogue.js';
import { pullModel, type PullProgress } from '../models/download.js';
import { listModels, type ModelListing } from '../models/list.js';
import { modelsDir } from '../models/paths.js';

/*
 * `hark models list|pull`: whisper.cpp ggml model files in MODELS_DIR. Nothing is downloaded
 * unless a user runs `pull` (or an admin calls the server's `POST /v1/models/{id}`, the same code).
 */

const MB = 1e6;

/** 0.6 MB, 77.7 MB, 3.10 GB: decimal units, as the download sizes are usually quoted. */
export function formatBytes(n: number): string {
  return n >= 1e9 ? `${(n / 1e9).toFixed(2)} GB` : `${(n / MB).toFixed(1)} MB`;
}

interface ModelsOpts {
  catalogue?: string;
}

function printListing(l: ModelListing): void {
  const out: string[] = [];
  const chosen = l.configured.source === 'WHISPER_MODEL_PATH' ? 'WHISPER_MODEL_PATH' : `WHISPER_MODEL_SIZE=${l.configured.size ?? ''}`;
  if (!l.modelsDirExists) {
    out.push(`MODELS_DIR ${l.modelsDir} does not exist yet: \`hark models pull SIZE\` creates it (or set MODELS_DIR to your models folder).`);
  } else {
    out.push(`Models in ${l.modelsDir}:`);
  }
  const rows = l.installed.map((m) => {
    const kind = !m.ggml
      ? 'NOT a ggml model (whisper.cpp would refuse it)'
      : `ggml, ${m.architecture ?? 'unknown'} architecture, ${m.weights ?? '?'}`;
    const size =
      m.sizeMatchesCatalogue === false ? `; ${formatBytes(m.catalogueBytes ?? 0)} expected for ${m.catalogueName ?? ''}: incomplete, or another build` : '';
    const where = m.location === 'WHISPER_MODEL_PATH' ? m.path : m.name;
    return [m.configured ? '*' : ' ', where, formatBytes(m.bytes), `${kind}${size}`] as const;
  });
  const width = Math.max(0, ...rows.map((r) => r[1].length));
  const sizeWidth = Math.max(0, ...rows.map((r) => r[2].length));
  for (const [mark, where, size, kind] of rows) out.push(`${mark} ${where.padEnd(width)}  ${size.padStart(sizeWidth)}  ${kind}`);
  if (l.modelsDirExists && rows.length === 0) out.push('  (no ggml-*.bin files)');
  for (const p of l.partial) {
    const of = p.expectedBytes === null ? formatBytes(p.bytes) : `${formatBytes(p.bytes)} of ${formatBytes(p.expectedBytes)}`;
    const size = /^ggml-(.+)\.bin\.part$/.exec(p.name)?.[1] ?? '';
    out.push(`  ${p.name}  partial download (${of}): \`hark models pull ${size}\` resumes it`);
  }
  out.push(
    l.configured.exists
      ? `* = the file the whisper engine loads (${chosen})`
      : `The whisper engine would load ${l.configured.path} (${chosen}), which does not exist${l.configured.size === null ? '' : `: run \`hark models pull ${l.configured.size}\``}.`,
  );
  if (l.available.length > 0) {
    out.push('', 'Not installed (`hark models pull SIZE`):');
    const w = Math.max(...l.available.map((a) => a.name.length));
    for (const a of l.available) out.push(`  ${a.name.padEnd(w)}  ${formatBytes(a.bytes).padStart(9)}${a.sha1 === null ? '  (no published checksum: length checked only)' : ''}`);
  }
  process.stdout.write(`${out.join('\n')}\n`);
}

/** Progress on stderr: a redrawn bar on a terminal, an occasional plain line otherwise. */
function progressPrinter(name: string, tty: boolean): { update: (p: PullProgress) => void; end: () => void } {
  let lastDraw = 0;
  let lastStep = -1;
  let lastLine = performance.now();
  let drawn = false;
  const describe = (p: PullProgress) => {
    const seconds = (performance.now() - p.startedAt) / 1000;
    const speed = seconds > 0 ? (p.received - p.resumedFrom) / seconds : 0;
    const pct = (100 * p.received) / p.total;
    const eta = speed > 0 && p.received < p.total ? Math.ceil((p.total - p.received) / speed) : null;
    return { pct, text: `${(p.received / MB).toFixed(1)}/${(p.total / MB).toFixed(1)} MB  ${(speed / MB).toFixed(1)} MB/s${eta === null ? '' : `  ETA ${eta}s`}` };
  };
  return {
    update(p) {
      const now = performance.now();
      const { pct, text } = describe(p);
      if (tty) {
        if (now - lastDraw < 100 && p.received < p.total) return;
        lastDraw = now;
        const filled = Math.floor(pct / 5);
        process.stderr.write(`\r\x1b[2K${name} [${'#'.repeat(filled)}${'.'.repeat(20 - filled)}] ${pct.toFixed(0).padStart(3)}%  ${text}`);
        drawn = true;
        return;
      }
      const step = Math.floor(pct / 10);
      if (step === lastStep && now - lastLine < 30_000) return;
      lastStep = step;
      lastLine = now;
      process.stderr.write(`${name}: ${pct.toFixed(0)}%  ${text}\n`);
    },
    end() {
      if (drawn) process.stderr.write('\n');
      drawn = false;
    },
  };
}

async function pull(size: string, opts: { force?: boolean } & ModelsOpts, cfg: Config, userAgent: string): Promise<number> {
  const catalogue = await loadCatalogue(opts.catalogue ?? cfg.MODELS_CATALOGUE);
  const expected = catalogue.get(size);
  if (expected === undefined) {
    process.stderr.write(`hark: unknown model size '${size}'; one of: ${[...catalogue.keys()].join(', ')}\n`);
    return 2;
  }
  const file = modelFileName(size);
  const dest = join(modelsDir(cfg), file);
  const url = `${cfg.MODELS_BASE_URL.replace(/\/+$/, '')}/${file}`;
  const progress = progressPrinter(file, process.stderr.isTTY === true);
  const note = (msg: string) => {
    progress.end();
    process.stderr.write(`hark: ${msg}\n`);
  };
  // Ctrl-C stops the transfer cleanly so the .part stays usable for the next run.
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const r = await pullModel({
      url,
      dest,
      expected,
      force: opts.force === true,
      signal: stop.signal,
      userAgent,
      onProgress: (p) => progress.update(p),
      onNote: note,
    });
    progress.end();
    const how = r.status === 'already-installed' ? 'already installed and verified' : `downloaded and verified`;
    const check = expected.sha1 === null ? 'length only: no published checksum' : `SHA-1 ${r.sha1}`;
    process.stderr.write(`hark: ${file} ${how} (${formatBytes(r.bytes)}, ${check})\n`);
    const chosen = cfg.WHISPER_MODEL_PATH === undefined ? cfg.WHISPER_MODEL_SIZE : null;
    if (chosen !== size) {
      process.stderr.write(`hark: to use it, set WHISPER_MODEL_SIZE=${size}${cfg.WHISPER_MODEL_PATH === undefined ? '' : ' and unset WHISPER_MODEL_PATH'} (or WHISPER_MODEL_PATH=${r.path})\n`);
    }
    process.stdout.write(`${r.path}\n`);
    return 0;
  } catch (err) {
    progress.end();
    if (!(err instanceof AppError)) throw err;
    process.stderr.write(`hark: ${err.message}\n`);
    return err.code === 'CANCELLED' ? 130 : 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** Adds `hark models list|pull`; `config` loads the settings as the other commands do. */
export function registerModels(program: Command, config: () => Config, userAgent: string): void {
  const models = program
    .command('models')
    .description('whisper.cpp model files (ggml) in MODELS_DIR: list them, download one')
    .option('--catalogue <file>', 'JSON file {"<size>": {"bytes": n, "sha1": "<hex>"|null}} replacing or adding to the built-in catalogue (mirrors with other files, tests); default MODELS_CATALOGUE');

  models
    .command('list')
    .description('model files in MODELS_DIR and WHISPER_MODEL_PATH, which one the whisper engine loads, and what can be downloaded')
    .option('--json', 'one JSON object on stdout')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const cfg = config();
      const listing = await listModels(cfg, await loadCatalogue((cmd.optsWithGlobals() as ModelsOpts).catalogue ?? cfg.MODELS_CATALOGUE));
      if (opts.json) process.stdout.write(`${JSON.stringify(listing, null, 2)}\n`);
      else printListing(listing);
    });

  models
    .command('pull')
    .description('download ggml-SIZE.bin from MODELS_BASE_URL into MODELS_DIR (resumes an interrupted download; verifies length and SHA-1)')
    .argument('<size>', 'model size, e.g. base.en (see `hark models list`)')
    .addOption(new Option('-f, --force', 'download again even if the file is installed and verifies'))
    .action(async (size: string, opts: { force?: boolean }, cmd: Command) => {
      process.exitCode = await pull(size, { ...(cmd.optsWithGlobals() as ModelsOpts), ...opts }, config(), userAgent);
    });
}
