import { pino, type Logger, type LevelWithSilent } from 'pino';
import { PinoPretty } from 'pino-pretty';
import type { Config } from './config/index.js';

export type { Logger };

/** `LOG_FORMAT`: json, pretty, or auto (pretty on a terminal). */
export type LogFormat = Config['LOG_FORMAT'];

/** Settings that hold credentials (DATABASE_URL may carry a password). */
const SECRET_SETTINGS = ['AZURE_SPEECH_KEY', 'UPSTREAM_API_KEY', 'WEBHOOK_SECRET', 'DATABASE_URL', 'METRICS_TOKEN'];

/**
 * Request headers and settings that are never written, wherever they appear:
 * on a request, a reply, the configuration logged whole (`config`) or one
 * level down in any logged object.
 */
const REDACT_PATHS = [
  ...['.authorization', '["x-api-key"]', '.cookie', '["proxy-authorization"]'].flatMap((h) => [`req.headers${h}`, `headers${h}`, `*.headers${h}`]),
  'res.headers["set-cookie"]',
  ...SECRET_SETTINGS.flatMap((k) => [k, `config.${k}`, `*.${k}`]),
];

/** Query parameters that carry a credential (the stream's `?api_key=`, a stream ticket). */
const SECRET_QUERY = new Set(['api_key', 'ticket']);

/**
 * A request target with the values of credential query parameters replaced by
 * `[redacted]`; the rest kept byte for byte, so the line still says what was asked.
 */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const parts = url.slice(q + 1).split('&').map((part) => {
    const eq = part.indexOf('=');
    const rawName = eq < 0 ? part : part.slice(0, eq);
    let name: string;
    try {
      name = decodeURIComponent(rawName.replace(/\+/g, ' '));
    } catch {
      name = rawName;
    }
    return SECRET_QUERY.has(name.toLowerCase()) ? `${rawName}=[redacted]` : part;
  });
  return `${url.slice(0, q)}?${parts.join('&')}`;
}

/** What a request line logs of a Fastify request: Fastify's fields, with the URL redacted. */
interface LoggedRequest {
  method?: string;
  url?: string;
  host?: string;
  ip?: string;
  socket?: { remotePort?: number } | null;
}

function serializeRequest(req: LoggedRequest): Record<string, unknown> {
  return { method: req.method, url: req.url === undefined ? undefined : redactUrl(req.url), host: req.host, remoteAddress: req.ip, remotePort: req.socket?.remotePort };
}

/**
 * Whether log lines are written for a person: `pretty`, or `auto` when stdout
 * is a terminal. Anything piped (a log collector, `docker logs`, a file) gets
 * one JSON object per line.
 */
export function isPretty(format: LogFormat, stdoutIsTerminal: boolean): boolean {
  return format === 'pretty' || (format === 'auto' && stdoutIsTerminal);
}

/**
 * Readable lines: time, level, message, then the other fields on the same line. Synchronous, so
 * the last lines before `process.exit` are not lost, and in this thread (no
 * transport worker), since a terminal is one person's, not a production load.
 */
function prettyStream(destination: pino.DestinationStream | undefined, colorize: boolean): pino.DestinationStream {
  return PinoPretty({
    destination: destination ?? 1,
    sync: true,
    colorize,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,service',
    // One event, one line: request logs and config dumps stay scannable.
    singleLine: true,
  });
}

/**
 * The one root logger; modules get `child({ requestId, jobId, workerPid })`
 * loggers from it. `pretty` formats after redaction, so it never shows more
 * than JSON would.
 */
export function createLogger(level: LevelWithSilent, destination?: pino.DestinationStream, pretty = false): Logger {
  return pino(
    {
      level,
      base: { service: 'hark' },
      timestamp: pino.stdTimeFunctions.isoTime,
      // Never write credentials, even at trace level.
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      // Fastify's request lines log the URL, which may carry a stream's ?api_key=.
      serializers: { req: serializeRequest },
    },
    pretty ? prettyStream(destination, destination === undefined && process.stdout.isTTY) : destination,
  );
}
