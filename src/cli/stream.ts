import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import WebSocket from 'ws';

/*
 * `hark stream FILE|-`: plays a file (or stdin) to a running server's live endpoint
 * (docs/streaming.md) at real-time pace, as a microphone would, and prints what comes back.
 */

export const STREAM_FORMATS = ['text', 'json'] as const;
export type StreamFormat = (typeof STREAM_FORMATS)[number];

const SAMPLE_RATE = 16000;
/** 100 ms of 16 kHz mono s16le. */
const FRAME_BYTES = (SAMPLE_RATE / 10) * 2;
const FRAME_MS = 100;

export interface StreamOptions {
  url: string;
  /** Sent as a Bearer token on the upgrade (AUTH_MODE=api_key). */
  apiKey?: string | undefined;
  engine?: string;
  language?: string;
  format: StreamFormat;
}

interface ServerMessage {
  type: string;
  text?: string;
  code?: string;
  message?: string;
  start?: number;
  end?: number;
  words?: unknown[];
}

/** A failure printed as `hark: <message> (<CODE>)`. */
class StreamError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

function wsUrl(base: string): string {
  const u = new URL('/v1/audio/stream', base);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  return u.toString();
}

/** Opens the socket; a refused upgrade (503 AT_CAPACITY, 400...) becomes a StreamError from its JSON body. */
function connect(url: string, apiKey: string | undefined): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers: apiKey === undefined || apiKey === '' ? {} : { authorization: `Bearer ${apiKey}` } });
    ws.once('open', () => resolve(ws));
    ws.once('error', (err) => reject(new StreamError(`cannot connect to ${url}: ${err.message}`, 'CONNECTION_FAILED')));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => {
        let error: { code?: string; message?: string } | undefined;
        try {
          error = (JSON.parse(body) as { error?: { code?: string; message?: string } }).error;
        } catch {
          // Not hark's JSON error body (a proxy's page): report the status alone.
        }
        reject(new StreamError(error?.message ?? `HTTP ${res.statusCode ?? '?'} from ${url}`, error?.code ?? `HTTP_${res.statusCode ?? 0}`));
      });
    });
  });
}

/** ffmpeg turns anything it reads into the 16 kHz mono s16le the stream is configured for. */
function decode(file: string) {
  const ff = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin', '-i', file === '-' ? 'pipe:0' : file, '-f', 's16le', '-ar', String(SAMPLE_RATE), '-ac', '1', 'pipe:1'], {
    stdio: [file === '-' ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
  // -nostdin would stop ffmpeg reading pipe:0 interactively, not the input itself.
  if (file === '-') process.stdin.pipe(ff.stdin!);
  let stderr = '';
  ff.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve, reject) => {
    ff.once('error', (err) => reject(new StreamError(`cannot run ffmpeg: ${err.message}`, 'FFMPEG_MISSING')));
    ff.once('close', (code) => (code === 0 ? resolve() : reject(new StreamError(`ffmpeg cannot decode ${file === '-' ? 'stdin' : file}: ${stderr.trim().split('\n').pop() ?? `exit ${code}`}`, 'INVALID_AUDIO'))));
  });
  return { ff, exited };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Streams `file` and prints results; resolves with the exit code. */
export async function streamFile(file: string, opts: StreamOptions): Promise<number> {
  // Opening the file first turns a typo into a clear error before anything connects.
  if (file !== '-') {
    await access(file, constants.R_OK).catch((err: NodeJS.ErrnoException) => {
      throw new StreamError(`cannot read ${file}`, err.code ?? 'EIO');
    });
  }
  const ws = await connect(wsUrl(opts.url), opts.apiKey ?? process.env['HARK_API_KEY']);
  const tty = process.stderr.isTTY === true;
  let partialShown = false;
  const clearPartial = () => {
    if (partialShown) process.stderr.write('\r\x1b[2K');
    partialShown = false;
  };

  let failure: StreamError | undefined;
  let done = false;
  const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
  ws.on('message', (data, isBinary) => {
    if (isBinary) return;
    const m = JSON.parse(String(data)) as ServerMessage;
    if (m.type === 'partial' && tty) {
      process.stderr.write(`\r\x1b[2K${m.text ?? ''}`);
      partialShown = true;
    } else if (m.type === 'final') {
      clearPartial();
      if (opts.format === 'json') process.stdout.write(`${JSON.stringify({ text: m.text, start: m.start, end: m.end, words: m.words })}\n`);
      else if ((m.text ?? '') !== '') process.stdout.write(`${m.text}\n`);
    } else if (m.type === 'error') {
      failure ??= new StreamError(m.message ?? 'stream failed', m.code ?? 'ERROR');
    } else if (m.type === 'done') {
      done = true;
    }
  });
  ws.once('error', (err) => (failure ??= new StreamError(err.message, 'CONNECTION_FAILED')));

  ws.send(JSON.stringify({ encoding: 'pcm_s16le', sample_rate: SAMPLE_RATE, ...(opts.engine ? { engine: opts.engine } : {}), ...(opts.language ? { language: opts.language } : {}) }));

  const { ff, exited } = decode(file);
  // Awaited below; this only keeps an early ffmpeg failure from counting as unhandled meanwhile.
  exited.catch(() => undefined);
  // Real-time pace from a fixed start, so timer drift does not add up over a long file.
  const started = Date.now();
  let sent = 0;
  let pending: Buffer = Buffer.alloc(0);
  try {
    for await (const chunk of ff.stdout as AsyncIterable<Buffer>) {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      while (pending.length >= FRAME_BYTES) {
        if (ws.readyState !== WebSocket.OPEN) break;
        ws.send(pending.subarray(0, FRAME_BYTES));
        pending = pending.subarray(FRAME_BYTES);
        sent += 1;
        await sleep(Math.max(0, started + sent * FRAME_MS - Date.now()));
      }
      if (ws.readyState !== WebSocket.OPEN) break;
    }
    if (ws.readyState === WebSocket.OPEN) {
      if (pending.length > 0) ws.send(pending);
      await exited;
      ws.send(JSON.stringify({ type: 'end' }));
    }
  } catch (err) {
    failure ??= err instanceof StreamError ? err : new StreamError((err as Error).message, 'ERROR');
    ws.close(1000);
  } finally {
    if (ff.exitCode === null) ff.kill();
  }
  await closed;
  clearPartial();
  if (failure === undefined && !done) failure = new StreamError('the server closed the stream before it was done', 'STREAM_CLOSED');
  if (failure !== undefined) throw failure;
  return 0;
}

/** Registers `hark stream`. */
export function registerStream(program: Command, defaultUrl: string, apiKeyHelp: string): void {
  program
    .command('stream')
    .description('live transcription on a running server: plays FILE (or - for stdin) at real-time pace; partials on stderr, finals on stdout')
    .argument('<file>', 'audio file, or - to read stdin (any format ffmpeg reads)')
    .option('--url <url>', 'server address (HARK_URL)', defaultUrl)
    .option('--api-key <key>', apiKeyHelp)
    .option('-e, --engine <engine>', "engine (default: the server's ENGINE)")
    .option('-l, --language <language>', 'language hint')
    .addOption(new Option('-f, --format <format>', 'text: one line per final; json: one JSON Lines object per final').choices(STREAM_FORMATS).default('text'))
    .action(async (file: string, opts: StreamOptions) => {
      try {
        process.exitCode = await streamFile(file, opts);
      } catch (err) {
        if (err instanceof StreamError) process.stderr.write(`hark: ${err.message} (${err.code})\n`);
        else process.stderr.write(`hark: ${err instanceof Error ? err.message : String(err)}\n`);
        process.exitCode = 1;
      }
    });
}
