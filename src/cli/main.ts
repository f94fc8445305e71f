#!/usr/bin/env node
import { Command, Option } from 'commander';
import { ConfigError, ENGINE_NAMES, loadConfig, type Config } from '../config/index.js';
import { main as serve } from '../main.js';
import { ISOLATION_MODES, type Isolation } from '../engines/index.js';
import { VERSION } from '../http/index.js';
import { CLI_FORMATS, transcribeFiles, type CliFormat } from './transcribe.js';

function config(overrides: Record<string, string> = {}): Config {
  try {
    return loadConfig({ env: { ...process.env, ...overrides }, envFile: process.env['ENV_FILE'] ?? '.env' });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`hark: ${err.message.split('\n').join('\nhark: ')}\n`);
      process.exit(2);
    }
    throw err;
  }
}

const program = new Command('hark')
  .description('hark: self-hosted speech-to-text')
  .version(VERSION)
  .configureOutput({ outputError: (str, write) => write(`hark: ${str.replace(/^error: /, '')}`) });

program
  .command('serve')
  .description('start the HTTP service (settings from the environment and .env; see .env.example)')
  .option('--host <host>', 'address to listen on (HOST)')
  .option('--port <port>', 'port (PORT)')
  .action(async (opts: { host?: string; port?: string }) => {
    await serve({ ...process.env, ...(opts.host ? { HOST: opts.host } : {}), ...(opts.port ? { PORT: opts.port } : {}) });
  });

program
  .command('transcribe')
  .description('transcribe audio files with the engine in this process; the transcript goes to stdout')
  .argument('<files...>', 'audio files (wav, flac, mp3, ogg/opus, m4a/aac, webm...)')
  .addOption(new Option('-f, --format <format>', 'output format').choices(CLI_FORMATS).default('text'))
  .addOption(new Option('-e, --engine <engine>', 'engine (default: ENGINE)').choices(ENGINE_NAMES))
  .addOption(new Option('-i, --isolation <mode>', 'run the engine here or in a worker process').choices(ISOLATION_MODES).default('in-process'))
  .option('--no-progress', 'no progress on stderr')
  .action(async (files: string[], opts: { format: CliFormat; engine?: (typeof ENGINE_NAMES)[number]; isolation: Isolation; progress: boolean }) => {
    const cfg = config({ LOG_LEVEL: 'silent' });
    process.exitCode = await transcribeFiles(files, cfg, {
      format: opts.format,
      engine: opts.engine ?? cfg.ENGINE,
      isolation: opts.isolation,
      progress: opts.progress && process.stderr.isTTY === true,
    });
  });

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`hark: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
