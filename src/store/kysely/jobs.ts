import { sql, type Kysely } from 'kysely';
import { JOB_STATUSES, PRIORITY_RANK, sourcesOf, TERMINAL_STATUSES, type Job, type JobStatus, type NewJob } from '../../jobs/model.js';
import type { Database } from '../schema.js';
import type { JobStore, ListJobsQuery } from '../types.js';
import { scopedIdempotencyKey, toJob } from './job-row.js';

/** SQLite caps a statement's parameters: `IN` lists go in slices of this many. */
const ID_SLICE = 500;

/** `text` as a LIKE pattern that matches it anywhere, its own `%`, `_` and `\` taken literally (with ESCAPE '\'). */
function containsPattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, '\\$&')}%`;
}

/**
 * JobStore in Kysely's dialect-neutral query builder (SQLite and PostgreSQL share every
 * query). `transcriptText`: SQL for a row's transcript text, read out of its JSON `result`
 * column, the one expression the dialects spell differently (see KyselyStore).
 */
export class KyselyJobStore implements JobStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly transcriptText: string,
  ) {}

  async create(job: NewJob): Promise<Job> {
    const row = await this.db
      .insertInto('transcription_jobs')
      .values({
        id: job.id,
        status: 'queued',
        priority: job.priority,
        priority_rank: PRIORITY_RANK[job.priority],
        created_at: job.createdAt,
        file_name: job.fileName,
        file_size: job.fileSize,
        duration_seconds: job.durationSeconds,
        audio_path: job.audioPath,
        options: JSON.stringify(job.options),
        vad: job.vad == null ? null : JSON.stringify(job.vad),
        diarize: job.diarize == null ? null : JSON.stringify(job.diarize),
        engine: job.engine,
        isolation: job.isolation,
        log_file_path: '',
        idempotency_key: job.idempotencyKey === null ? null : scopedIdempotencyKey(job.apiKeyId ?? null, job.idempotencyKey),
        callback_url: job.callbackUrl,
        webhook_status: job.callbackUrl === null ? null : 'pending',
        started_at: null,
        finished_at: null,
        error_code: null,
        error_message: null,
        result: null,
        process_id: null,
        process_started_at: null,
        last_heartbeat: null,
        owner_instance_id: null,
        run_token: null,
        webhook_last_error: null,
        api_key_id: job.apiKeyId ?? null,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toJob(row);
  }

  async get(id: string): Promise<Job | undefined> {
    const row = await this.db.selectFrom('transcription_jobs').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toJob(row);
  }

  async existingJobIds(ids: readonly string[]): Promise<Set<string>> {
    const found = new Set<string>();
    for (let at = 0; at < ids.length; at += ID_SLICE) {
      const rows = await this.db.selectFrom('transcription_jobs').select('id').where('id', 'in', ids.slice(at, at + ID_SLICE)).execute();
      for (const r of rows) found.add(r.id);
    }
    return found;
  }

  async findByIdempotencyKey(apiKeyId: string | null, key: string): Promise<Job | undefined> {
    const row = await this.db.selectFrom('transcription_jobs').selectAll().where('idempotency_key', '=', scopedIdempotencyKey(apiKeyId, key)).executeTakeFirst();
    return row && toJob(row);
  }

  async list(q: ListJobsQuery): Promise<Job[]> {
    let query = this.db.selectFrom('transcription_jobs').selectAll();
    if (q.status !== undefined) query = query.where('status', '=', q.status);
    if (q.apiKeyId !== undefined) query = query.where('api_key_id', '=', q.apiKeyId);
    if (q.search !== undefined && q.search !== '') {
      // lower() on both sides: the pattern folds exactly as the column does, in either database
      // (the cast: PostgreSQL cannot pick among its lower()s for an untyped parameter).
      const pattern = containsPattern(q.search);
      const contains = (column: string) => sql<boolean>`lower(${sql.raw(column)}) like lower(cast(${pattern} as text)) escape '\\'`;
      query = query.where((eb) => eb.or([contains('file_name'), contains(this.transcriptText)]));
    }
    if (q.createdFrom !== undefined) query = query.where('created_at', '>=', q.createdFrom);
    if (q.createdBefore !== undefined) query = query.where('created_at', '<', q.createdBefore);
    const dir = q.oldestFirst === true ? 'asc' : 'desc';
    if (q.cursor !== undefined) {
      const { createdAt, id } = q.cursor;
      const past = dir === 'asc' ? '>' : '<';
      query = query.where((eb) => eb.or([eb('created_at', past, createdAt), eb.and([eb('created_at', '=', createdAt), eb('id', past, id)])]));
    }
    const rows = await query.orderBy('created_at', dir).orderBy('id', dir).limit(q.limit).execute();
    return rows.map(toJob);
  }

  async countByStatus(): Promise<Record<JobStatus, number>> {
    const rows = await this.db
      .selectFrom('transcription_jobs')
      .select(['status', (eb) => eb.fn.countAll<number>().as('n')])
      .groupBy('status')
      .execute();
    const out = Object.fromEntries(JOB_STATUSES.map((s) => [s, 0])) as Record<JobStatus, number>;
    for (const r of rows) out[r.status as JobStatus] = Number(r.n);
    return out;
  }

  async countQueuedByIsolation(): Promise<Record<string, number>> {
    const rows = await this.db
      .selectFrom('transcription_jobs')
      .select(['isolation', (eb) => eb.fn.countAll<number>().as('n')])
      .where('status', '=', 'queued')
      .groupBy('isolation')
      .execute();
    return Object.fromEntries(rows.map((r) => [r.isolation, Number(r.n)]));
  }

  async countActiveByApiKey(apiKeyId: string): Promise<number> {
    const row = await this.db
      .selectFrom('transcription_jobs')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('api_key_id', '=', apiKeyId)
      .where('status', 'in', ['queued', 'running'])
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  async cancel(id: string, now: number): Promise<Job | undefined> {
    await this.db
      .updateTable('transcription_jobs')
      .set({ status: 'cancelled', finished_at: now, cancel_requested: 1, error_code: 'CANCELLED', error_message: 'cancelled by request' })
      .where('id', '=', id)
      .where('status', 'in', sourcesOf('cancelled'))
      .execute();
    return this.get(id);
  }

  async clearAudio(id: string): Promise<void> {
    await this.db.updateTable('transcription_jobs').set({ audio_path: null }).where('id', '=', id).execute();
  }

  async rename(id: string, fileName: string): Promise<boolean> {
    const res = await this.db.updateTable('transcription_jobs').set({ file_name: fileName }).where('id', '=', id).executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  async setSpeakerNames(id: string, names: Readonly<Record<string, string>>): Promise<boolean> {
    const res = await this.db
      .updateTable('transcription_jobs')
      .set({ speaker_names: Object.keys(names).length === 0 ? null : JSON.stringify(names) })
      .where('id', '=', id)
      .where('status', '=', 'completed')
      .executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  async finishedBefore(before: number, limit: number): Promise<Job[]> {
    const rows = await this.db
      .selectFrom('transcription_jobs')
      .selectAll()
      .where('status', 'in', TERMINAL_STATUSES)
      .where('finished_at', '<', before)
      .limit(limit)
      .execute();
    return rows.map(toJob);
  }

  async delete(id: string): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('hark_job_log_lines').where('job_id', '=', id).execute();
      await trx.deleteFrom('hark_job_result_revisions').where('job_id', '=', id).execute();
      const res = await trx.deleteFrom('transcription_jobs').where('id', '=', id).executeTakeFirst();
      return Number(res.numDeletedRows) > 0;
    });
  }
}
