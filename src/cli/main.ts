#!/usr/bin/env node
import { Command, Option } from 'commander';
import { ConfigError, ENGINE_NAMES, loadConfig, VAD_KINDS, type Config } from '../config/index.js';
import { HARK_FORMATS, JOB_STATUSES, PRIORITIES, type HarkFormat, type JobStatus, type Priority } from '../api/index.js';
import { MAX_SPEAKERS, type DiarizeRequest } from '../diarization/types.js';
import { ISOLATION_MODES, type Isolation } from '../engines/types.js';
import { AppError } from '../errors.js';
import { VERSION } from '../version.js';
import { diarizeRequest } from '../http/diarize-fields.js';
import { ApiError, formatJobRow, JobsClient } from './jobs.js';
import { registerKeys } from './keys.js';
import { registerLoadtest } from './loadtest.js';
import { registerModels } from './models.js';
import { registerStream } from './stream.js';

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

/** `--diarize` and its speaker counts, as commander parses them. */
interface DiarizeFlags {
  diarize?: boolean;
  numSpeakers?: string;
  minSpeakers?: string;
  maxSpeakers?: string;
}

/** The same four options on `transcribe` and `jobs submit`. */
function withDiarizeOptions(cmd: Command): Command {
  return cmd
    .option('--diarize', 'label who spoke when: A, B, ... on segments and words, a speaker line at each change in text')
    .option('--num-speakers <n>', `with --diarize: exactly n speakers (1-${MAX_SPEAKERS})`)
    .option('--min-speakers <n>', `with --diarize: at least n speakers (1-${MAX_SPEAKERS})`)
    .option('--max-speakers <n>', `with --diarize: at most n speakers (1-${MAX_SPEAKERS})`);
}

/** Checked flags as the API's form fields for a job (the server checks them again). */
function diarizeFields(d: DiarizeRequest | undefined): Record<string, string> {
  if (d === undefined) return {};
  const counts = { num_speakers: d.numSpeakers, min_speakers: d.minSpeakers, max_speakers: d.maxSpeakers };
  return { diarize: 'true', ...Object.fromEntries(Object.entries(counts).flatMap(([field, n]) => (n === undefined ? [] : [[field, String(n)]]))) };
}

/**
 * The flags checked as the API checks its fields, so a bad count stops the
 * command with one line before any audio is decoded or sent.
 */
function checkDiarize(cmd: Command, f: DiarizeFlags): DiarizeRequest | undefined {
  if (!f.diarize && (f.numSpeakers ?? f.minSpeakers ?? f.maxSpeakers) !== undefined) cmd.error('--num-speakers, --min-speakers and --max-speakers need --diarize');
  try {
    return diarizeRequest({ diarize: f.diarize ? 'true' : undefined, num_speakers: f.numSpeakers, min_speakers: f.minSpeakers, max_speakers: f.maxSpeakers });
  } catch (err) {
    // The API's message, in the flags' names.
    if (err instanceof AppError) cmd.error(`${err.message.replace(/\b(num|min|max)_speakers\b/g, '--$1-speakers').replace('diarize=true', '--diarize')} (${err.code})`);
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
  .addOption(new Option('--role <role>', 'all: API and job runner; api: API only, claims no job; worker: runs jobs, HTTP for probes only (ROLE)').choices(['all', 'api', 'worker']))
  .action(async (opts: { host?: string; port?: string; role?: string }) => {
    // Loaded when used: every other command starts without the server's modules.
    const { main: serve } = await import('../main.js');
    await serve({ ...process.env, ...(opts.host ? { HOST: opts.host } : {}), ...(opts.port ? { PORT: opts.port } : {}), ...(opts.role ? { ROLE: opts.role } : {}) });
  });

const transcribe = program
  .command('transcribe')
  .description('transcribe audio files with the engine in this process; the transcript goes to stdout')
  .argument('<files...>', 'audio files (wav, flac, mp3, ogg/opus, m4a/aac, webm...)')
  .addOption(new Option('-f, --format <format>', 'output format (json: one object; JSON Lines for several files)').choices(HARK_FORMATS).default('text'))
  .addOption(new Option('-e, --engine <engine>', 'engine (default: ENGINE)').choices(ENGINE_NAMES))
  .addOption(new Option('-i, --isolation <mode>', 'run the engine here or in a worker process').choices(ISOLATION_MODES).default('in-process'))
  .addOption(new Option('--vad <kind>', 'voice activity detection: non-speech is not decoded (default: VAD)').choices(VAD_KINDS));
withDiarizeOptions(transcribe)
  .option('--no-progress', 'no progress on stderr')
  .action(async (files: string[], opts: { format: HarkFormat; engine?: (typeof ENGINE_NAMES)[number]; isolation: Isolation; vad?: (typeof VAD_KINDS)[number]; progress: boolean } & DiarizeFlags, cmd: Command) => {
    const diarize = checkDiarize(cmd, opts);
    const cfg = config({ LOG_LEVEL: 'silent' });
    const { transcribeFiles } = await import('./transcribe.js');
    process.exitCode = await transcribeFiles(files, cfg, {
      format: opts.format,
      engine: opts.engine ?? cfg.ENGINE,
      isolation: opts.isolation,
      vad: opts.vad ?? cfg.VAD,
      diarize,
      progress: opts.progress && process.stderr.isTTY === true,
    });
  });

const DEFAULT_URL = process.env['HARK_URL'] ?? 'http://127.0.0.1:8000';
/** The key is read from the environment when the flag is absent, and never shown as a default in the help. */
const API_KEY_HELP = 'API key for a server with AUTH_MODE=api_key (default: HARK_API_KEY; the variable keeps it out of `ps`)';

/** Runs a jobs subcommand, printing an API failure as one line with exit code 1. */
function api(fn: (client: JobsClient, ...args: never[]) => Promise<void>) {
  return async (...args: unknown[]) => {
    const cmd = args[args.length - 1] as Command;
    const { url, apiKey } = cmd.optsWithGlobals() as { url: string; apiKey?: string };
    const client = new JobsClient(url, apiKey ?? process.env['HARK_API_KEY']);
    try {
      await fn(client, ...(args as never[]));
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      process.stderr.write(`hark: ${err.message} (${err.code})\n`);
      process.exitCode = 1;
    }
  };
}

const jobs = program
  .command('jobs')
  .description('async jobs on a running hark server')
  .option('--url <url>', 'server address (HARK_URL)', DEFAULT_URL)
  .option('--api-key <key>', API_KEY_HELP);

const submit = jobs
  .command('submit')
  .description('submit audio files as jobs; prints one job id per file')
  .argument('<files...>')
  .addOption(new Option('-p, --priority <priority>', 'priority').choices(PRIORITIES).default('normal'))
  .option('-w, --wait', 'wait until every job has ended, showing progress on stderr, then print transcripts')
  .addOption(new Option('-i, --isolation <mode>', 'isolation mode (default: the server\'s)').choices(ISOLATION_MODES))
  .option('--callback-url <url>', 'webhook called when each job ends')
  .addOption(new Option('--vad <kind>', 'voice activity detection (default: the server\'s)').choices(VAD_KINDS));
withDiarizeOptions(submit)
  .action(
    api(async (client, files: string[], opts: { priority: Priority; wait?: boolean; isolation?: string; callbackUrl?: string; vad?: string } & DiarizeFlags, cmd: Command) => {
      const fields: Record<string, string> = { priority: opts.priority, ...diarizeFields(checkDiarize(cmd, opts)) };
      if (opts.isolation) fields['isolation'] = opts.isolation;
      if (opts.vad) fields['vad'] = opts.vad;
      if (opts.callbackUrl) fields['callback_url'] = opts.callbackUrl;
      const ids: string[] = [];
      for (const file of files) {
        const id = await client.submit(file, fields);
        ids.push(id);
        process.stdout.write(`${id}  ${file}\n`);
      }
      if (!opts.wait) return;
      const views = await client.waitAll(ids, (j) => process.stderr.write(`${formatJobRow(j)}\n`));
      for (const v of views) {
        if (v.status === 'completed') process.stdout.write(`# ${v.file_name}\n${String(await client.result(v.id, 'text'))}`);
      }
      if (views.some((v) => v.status !== 'completed')) process.exitCode = 1;
    }),
  );

jobs
  .command('list')
  .description('jobs, newest first')
  .addOption(new Option('-s, --status <status>', 'only this status').choices(JOB_STATUSES))
  .option('-n, --limit <n>', 'how many', '50')
  .action(
    api(async (client, opts: { status?: JobStatus; limit: string }) => {
      const page = await client.list(opts.status, Number(opts.limit));
      for (const j of page.jobs) process.stdout.write(`${formatJobRow(j)}\n`);
    }),
  );

jobs
  .command('status')
  .description('one job as JSON')
  .argument('<id>')
  .action(api(async (client, id: string) => void process.stdout.write(`${JSON.stringify(await client.get(id), null, 2)}\n`)));

jobs
  .command('result')
  .description('the transcript of a completed job')
  .argument('<id>')
  .addOption(new Option('-f, --format <format>', 'format').choices(HARK_FORMATS).default('text'))
  .action(
    api(async (client, id: string, opts: { format: HarkFormat }) => {
      const r = await client.result(id, opts.format);
      process.stdout.write(typeof r === 'string' ? r : `${JSON.stringify(r, null, 2)}\n`);
    }),
  );

jobs
  .command('logs')
  .description("a job's log; --follow streams it live until the job ends")
  .argument('<id>')
  .option('-f, --follow', 'stream new lines until the job ends')
  .option('-n, --tail <n>', 'only the last n lines')
  .action(
    api(async (client, id: string, opts: { follow?: boolean; tail?: string }) => {
      if (opts.follow) {
        const status = await client.follow(id, (line) => process.stdout.write(`${line}\n`));
        if (status !== 'completed') process.exitCode = 1;
        return;
      }
      for (const line of await client.logs(id, opts.tail === undefined ? undefined : Number(opts.tail))) process.stdout.write(`${line}\n`);
    }),
  );

jobs
  .command('cancel')
  .description('cancel a queued or running job (its worker process is killed)')
  .argument('<id>')
  .action(api(async (client, id: string) => void process.stdout.write(`${formatJobRow(await client.cancel(id))}\n`)));

registerKeys(program, () => config({ LOG_LEVEL: 'silent' }));
registerLoadtest(program);
registerStream(program, DEFAULT_URL, API_KEY_HELP);
registerModels(program, () => config({ LOG_LEVEL: 'silent' }), `hark/${VERSION}`);

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`hark: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
