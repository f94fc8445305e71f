import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

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

/** The one root logger; modules get `child({ requestId, jobId, workerPid })` loggers from it. */
export function createLogger(level: LevelWithSilent, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'hark' },
      timestamp: pino.stdTimeFunctions.isoTime,
      // Never write credentials, even at trace level.
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    },
    destination,
  );
}
