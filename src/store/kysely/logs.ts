import { sql, type Kysely } from 'kysely';
import type { Database } from '../schema.js';
import type { JobLogStore, LogLine, LogLinesQuery } from '../types.js';

/** Rows of one INSERT of log lines: well under SQLite's and PostgreSQL's parameter limits. */
const LOG_CHUNK = 500;

/** Two writers numbered lines of one job at once: the loser tries again with the next numbers. */
function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '23505' || (typeof code === 'string' && code.startsWith('SQLITE_CONSTRAINT'));
}

/** JobLogStore in Kysely (table hark_job_log_lines; a job's lines go with it in JobStore.delete). */
export class KyselyJobLogStore implements JobLogStore {
  constructor(private readonly db: Kysely<Database>) {}

  async appendLogLines(jobId: string, lines: readonly { time: number; line: string }[]): Promise<void> {
    for (let start = 0; start < lines.length; start += LOG_CHUNK) {
      const chunk = lines.slice(start, start + LOG_CHUNK);
      // Numbered in the statement itself (after the job's last line), so a batch is one
      // INSERT; VALUES columns are column1..3 in both SQLite and PostgreSQL.
      const values = sql.join(chunk.map((l, i) => sql`(${sql.lit(i + 1)}, CAST(${l.time} AS bigint), CAST(${l.line} AS text))`));
      const insert = sql`INSERT INTO hark_job_log_lines (job_id, seq, time, line)
        SELECT CAST(${jobId} AS text), base.n + v.column1, v.column2, v.column3
        FROM (SELECT COALESCE(MAX(seq), 0) AS n FROM hark_job_log_lines WHERE job_id = ${jobId}) AS base, (VALUES ${values}) AS v`;
      for (let attempt = 1; ; attempt++) {
        try {
          await insert.execute(this.db);
          break;
        } catch (err) {
          if (!isUniqueViolation(err) || attempt >= 10) throw err;
        }
      }
    }
  }

  async logLines(jobId: string, q: LogLinesQuery = {}): Promise<LogLine[]> {
    let query = this.db.selectFrom('hark_job_log_lines').select(['seq', 'time', 'line']).where('job_id', '=', jobId);
    if (q.afterSeq !== undefined) query = query.where('seq', '>', q.afterSeq);
    const rows =
      q.tail !== undefined
        ? (await query.orderBy('seq', 'desc').limit(q.tail).execute()).reverse()
        : await (q.limit === undefined ? query : query.limit(q.limit)).orderBy('seq', 'asc').execute();
    return rows.map((r) => ({ seq: Number(r.seq), time: Number(r.time), line: r.line }));
  }
}
