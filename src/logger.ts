import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

/** The one root logger; modules get `child({ requestId, jobId, workerPid })` loggers from it. */
export function createLogger(level: LevelWithSilent, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'hark' },
      timestamp: pino.stdTimeFunctions.isoTime,
      // Never write credentials, even at trace level.
      redact: {
        paths: ['req.headers.authorization', 'req.headers["x-api-key"]', 'req.headers.cookie'],
        censor: '[redacted]',
      },
    },
    destination,
  );
}
