import type { Logger } from '../logger.js';
import type { JobLogStore, LogLine, LogLinesQuery } from '../store/index.js';

export interface JobLogsOptions {
  store: JobLogStore;
  logger: Logger;
  /** Lines wait at most this long before they are written (a follower sees them this much later). */
  flushMs?: number;
  /** A job with this many lines waiting is written at once. */
  maxBatch?: number;
}

/** How a stored line reads in the API: ISO time, a space, the message (the format of the old log files). */
export function formatLogLine(l: LogLine): string {
  return `${new Date(l.time).toISOString()} ${l.line}`;
}

/**
 * Jobs' logs, kept in the job store (table hark_job_log_lines) so that any
 * instance shows the log of a job another instance runs. One line per event
 * (accepted, decode started, progress, engine messages, result or error).
 * Appends are buffered and written in one INSERT per job every `flushMs`, so a
 * chatty engine does not cost one statement per line; the runner flushes when a
 * job ends. Writes are serial, so a job's lines keep their order.
 */
export class JobLogs {
  private pending = new Map<string, { time: number; line: string }[]>();
  private waiting = 0;
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  private readonly flushMs: number;
  private readonly maxBatch: number;

  constructor(private readonly o: JobLogsOptions) {
    this.flushMs = o.flushMs ?? 200;
    this.maxBatch = o.maxBatch ?? 200;
  }

  append(jobId: string, message: string): void {
    const lines = this.pending.get(jobId) ?? [];
    if (lines.length === 0) this.pending.set(jobId, lines);
    lines.push({ time: Date.now(), line: message.replace(/[\r\n]+/g, ' ') });
    this.waiting++;
    if (this.waiting >= this.maxBatch) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), this.flushMs);
  }

  /** Writes every waiting line; resolves once they are stored (or their write failed and was logged). */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending;
    this.pending = new Map();
    this.waiting = 0;
    this.writing = this.writing.then(async () => {
      for (const [jobId, lines] of batch) {
        // A boundary: a log that cannot be written must never fail the job it describes.
        await this.o.store.appendLogLines(jobId, lines).catch((err: unknown) => this.o.logger.warn({ err, jobId, lines: lines.length }, 'could not store job log lines'));
      }
    });
    return this.writing;
  }

  /** A job's stored lines (lines still waiting to be written are not included). */
  read(jobId: string, query?: LogLinesQuery): Promise<LogLine[]> {
    return this.o.store.logLines(jobId, query);
  }
}
