import { mkdtemp, rm, access } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { decodeToPcm } from '../audio/index.js';
import { ScratchDir } from '../os/index.js';
import type { Config } from '../config/index.js';
import type { DiarizeRequest } from '../diarization/types.js';
import type { EngineName, Isolation, Transcript } from '../engines/index.js';
import { InProcessExecutor, PoolExecutor, type Executor } from '../executors/index.js';
import { createLogger } from '../logger.js';
import { WorkerPool } from '../pool/index.js';
import { AppError } from '../errors.js';
import type { HarkFormat } from '../api/index.js';
import { renderText } from '../transcription/index.js';
import { vadSettingsFromConfig, type VadKind } from '../vad/index.js';

export interface TranscribeCommandOptions {
  format: HarkFormat;
  engine: EngineName;
  /** in-process: the engine runs in this process; process: in one supervised worker process. */
  isolation: Isolation;
  /** Which detector keeps non-speech from the engine (the other VAD_* settings as configured). */
  vad: VadKind;
  /** Who spoke when, after the engine (speakers in every format); absent: none. */
  diarize?: DiarizeRequest | undefined;
  /** Progress on stderr (a TTY gets a line redrawn in place). */
  progress: boolean;
}

/** One file: a pretty JSON object. Several: JSON Lines, one object per file, so the output stays parseable. */
function render(format: HarkFormat, file: string, t: Transcript, several: boolean): string {
  if (format !== 'json') return renderText(format, t);
  return several ? `${JSON.stringify({ file, ...t })}\n` : `${JSON.stringify({ file, ...t }, null, 2)}\n`;
}

/**
 * `hark transcribe FILE...`: decodes each file with the engine inside this
 * process (no server needed). Returns the exit code: 0, or 1 if any file failed.
 */
export async function transcribeFiles(files: string[], config: Config, opts: TranscribeCommandOptions): Promise<number> {
  const scratch = await mkdtemp(join(tmpdir(), 'hark-cli-'));
  const temp = new ScratchDir(scratch);
  // Only the engine asked for is loaded, here or in the one worker.
  const one: Config = { ...config, ENGINES: [opts.engine], ENGINE: opts.engine, WORKER_COUNT: 1, VAD: opts.vad };
  const pool = opts.isolation === 'process' ? new WorkerPool({ config: one, logger: createLogger('silent') }) : undefined;
  const executor: Executor =
    pool !== undefined
      ? new PoolExecutor(pool)
      : new InProcessExecutor({ config: one, logger: createLogger('silent'), engines: [opts.engine], concurrency: 1 });
  let failures = 0;
  try {
    await executor.start();
    const failed = executor.engineStatus().find((s) => s.state === 'failed');
    if (failed?.state === 'failed') {
      process.stderr.write(`hark: the ${failed.name} engine did not load: ${failed.error.message} (${failed.error.code})\n`);
      return 1;
    }
    if (pool !== undefined && pool.snapshot().readyWorkers === 0) {
      const why = pool.lastStartupError instanceof Error ? pool.lastStartupError.message : 'see the server log';
      process.stderr.write(`hark: the worker process did not start: ${why}\n`);
      return 1;
    }
    for (const file of files) {
      const pcmPath = temp.file('.pcm');
      try {
        await access(file).catch(() => {
          throw new AppError('MISSING_FILE', 'no such file');
        });
        const audio = await decodeToPcm(resolve(file), pcmPath, { maxSeconds: config.MAX_AUDIO_SECONDS });
        const { transcript: t } = await executor.run(
          { id: file, audio, engine: opts.engine, options: { vad: { ...vadSettingsFromConfig(config), kind: opts.vad }, diarize: opts.diarize } },
          {
            onProgress: opts.progress
              ? (p) => process.stderr.write(`\r${file}: ${(p.fraction * 100).toFixed(0)}% (${p.processedSeconds.toFixed(0)}/${p.totalSeconds.toFixed(0)} s)`)
              : undefined,
          },
        );
        if (opts.progress) process.stderr.write('\n');
        if (files.length > 1 && opts.format === 'text') process.stdout.write(`# ${file}\n`);
        process.stdout.write(render(opts.format, file, t, files.length > 1));
      } catch (err) {
        failures++;
        const e = err instanceof AppError ? err : new AppError('INTERNAL_ERROR', err instanceof Error ? err.message : String(err));
        process.stderr.write(`hark: ${file}: ${e.message} (${e.code})\n`);
      } finally {
        await temp.remove(pcmPath);
      }
    }
  } finally {
    await executor.close();
    await rm(scratch, { recursive: true, force: true });
  }
  return failures === 0 ? 0 : 1;
}
