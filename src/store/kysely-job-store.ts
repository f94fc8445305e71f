import { Migrator, sql, type Kysely, type Selectable } from 'kysely';
import type { Transcript } from '../engines/index.js';
import type { SerializedError } from '../errors.js';
import { JOB_STATUSES, PRIORITY_RANK, sourcesOf, type Job, type JobStatus, type NewJob, type WebhookStatus } from '../jobs/model.js';
import { MIGRATIONS } from './migrations/index.js';
import type { Database, JobsTable } from './schema.js';
import * as apiKeys from './kysely-api-keys.js';
import type { ApiKeyRecord, ClaimOptions, InstanceRecord, JobStore, ListJobsQuery, LogLine, LogLinesQuery, RunRef } from './types.js';

type Row = Selectable<JobsTable>;

/** Rows of one INSERT of log lines: well under SQLite's and PostgreSQL's parameter limits. */
const LOG_CHUNK = 500;

/** Two writers numbered lines of one job at once: the loser tries again with the next numbers. */
function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '23505' || (typeof code === 'string' && code.startsWith('SQLITE_CONSTRAINT'));
}

function toJob(r: Row): Job {
  return {
    id: r.id,
    status: r.status as JobStatus,
    priority: r.priority as Job['priority'],
    createdAt: Number(r.created_at),
    startedAt: r.started_at === null ? null : Number(r.started_at),
    finishedAt: r.finished_at === null ? null : Number(r.finished_at),
    fileName: r.file_name,
    fileSize: Number(r.file_size),
    durationSeconds: r.duration_seconds,
    audioPath: r.audio_path,
    options: JSON.parse(r.options) as Job['options'],
    engine: r.engine,
    isolation: r.isolation as Job['isolation'],
    attempts: r.attempts,
    errorCode: r.error_code,
    errorMessage: r.error_message,
    result: r.result === null ? null : (JSON.parse(r.result) as Transcript),
    progress: r.progress,
    processId: r.process_id,
    processStartedAt: r.process_started_at === null ? null : Number(r.process_started_at),
    lastHeartbeat: r.last_heartbeat === null ? null : Number(r.last_heartbeat),
    ownerInstanceId: r.owner_instance_id,
    runToken: r.run_token,
    idempotencyKey: r.idempotency_key,
    callbackUrl: r.callback_url,
    webhookStatus: r.webhook_status as Job['webhookStatus'],
    webhookAttempts: r.webhook_attempts,
    webhookLastError: r.webhook_last_error,
    cancelRequested: Boolean(r.cancel_requested),
    apiKeyId: r.api_key_id,
  };
}

/**
 * The JobStore in Kysely's dialect-neutral query builder: SQLite and
 * PostgreSQL share every query; a dialect subclass adds what differs (how a
 * claim locks its row, backups).
 */
export abstract class KyselyJobStore implements JobStore {
  constructor(protected readonly db: Kysely<Database>) {}

  /** Row-lock clause for the claim's subquery (PostgreSQL: FOR UPDATE SKIP LOCKED; SQLite writes are serial). */
  protected abstract readonly claimLock: string;

  protected migrator(): Migrator {
    return new Migrator({ db: this.db, provider: { getMigrations: async () => MIGRATIONS } });
  }

  /** Runs pending migrations; `target` stops at a given one (tests of upgrades). */
  async migrateTo(target?: string): Promise<void> {
    const m = this.migrator();
    const { error } = target === undefined ? await m.migrateToLatest() : await m.migrateTo(target);
    if (error !== undefined) throw error instanceof Error ? error : new Error(String(error));
  }

  /** Names of migrations not applied yet. */
  async pendingMigrations(): Promise<string[]> {
    return (await this.migrator().getMigrations()).filter((m) => m.executedAt === undefined).map((m) => m.name);
  }

  async migrate(): Promise<void> {
    await this.migrateTo();
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }

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
        engine: job.engine,
        isolation: job.isolation,
        log_file_path: '',
        idempotency_key: job.idempotencyKey,
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
    // In slices: SQLite caps a statement's parameters.
    for (let at = 0; at < ids.length; at += 500) {
      const rows = await this.db.selectFrom('transcription_jobs').select('id').where('id', 'in', ids.slice(at, at + 500)).execute();
      for (const r of rows) found.add(r.id);
    }
    return found;
  }

  async findByIdempotencyKey(key: string): Promise<Job | undefined> {
    const row = await this.db.selectFrom('transcription_jobs').selectAll().where('idempotency_key', '=', key).executeTakeFirst();
    return row && toJob(row);
  }

  async list(q: ListJobsQuery): Promise<Job[]> {
    let query = this.db.selectFrom('transcription_jobs').selectAll();
    if (q.status !== undefined) query = query.where('status', '=', q.status);
    if (q.apiKeyId !== undefined) query = query.where('api_key_id', '=', q.apiKeyId);
    if (q.cursor !== undefined) {
      const { createdAt, id } = q.cursor;
      query = query.where((eb) => eb.or([eb('created_at', '<', createdAt), eb.and([eb('created_at', '=', createdAt), eb('id', '<', id)])]));
    }
    const rows = await query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(q.limit).execute();
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

  async delete(id: string): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('hark_job_log_lines').where('job_id', '=', id).execute();
      const res = await trx.deleteFrom('transcription_jobs').where('id', '=', id).executeTakeFirst();
      return Number(res.numDeletedRows) > 0;
    });
  }

  async claimNext({ instanceId, now, agingMs, isolation }: ClaimOptions): Promise<Job | undefined> {
    // Effective order: rank x aging period + creation time. A job ages one level
    // per period waited, so a low job never starves behind a stream of new ones;
    // FIFO within a priority.
    const only = isolation === undefined ? sql`` : sql`AND isolation = ${isolation}`;
    const next = sql<string>`(SELECT id FROM transcription_jobs WHERE status = 'queued' ${only}
      ORDER BY priority_rank * ${agingMs} + created_at, id LIMIT 1 ${sql.raw(this.claimLock)})`;
    const row = await this.db
      .updateTable('transcription_jobs')
      .set((eb) => ({
        status: 'running',
        started_at: now,
        attempts: eb('attempts', '+', 1),
        owner_instance_id: instanceId,
        run_token: crypto.randomUUID(),
        last_heartbeat: now,
        progress: 0,
        process_id: null,
        process_started_at: null,
      }))
      .where('id', '=', next)
      .where('status', '=', 'queued')
      .returningAll()
      .executeTakeFirst();
    return row && toJob(row);
  }

  private running(run: RunRef) {
    return this.db.updateTable('transcription_jobs').where('id', '=', run.id).where('run_token', '=', run.runToken).where('status', '=', 'running');
  }

  async setProcess(run: RunRef, pid: number, processStartedAt: number | null): Promise<void> {
    await this.running(run).set({ process_id: pid, process_started_at: processStartedAt }).execute();
  }

  async setProgress(run: RunRef, progress: number, durationSeconds?: number): Promise<void> {
    await this.running(run)
      .set(durationSeconds === undefined ? { progress } : { progress, duration_seconds: durationSeconds })
      .execute();
  }

  async heartbeat(instanceId: string, runningIds: readonly string[], now: number): Promise<void> {
    await this.db.updateTable('hark_instances').set({ last_heartbeat: now }).where('id', '=', instanceId).execute();
    if (runningIds.length === 0) return;
    await this.db
      .updateTable('transcription_jobs')
      .set({ last_heartbeat: now })
      .where('id', 'in', [...runningIds])
      .where('owner_instance_id', '=', instanceId)
      .where('status', '=', 'running')
      .execute();
  }

  async complete(run: RunRef, result: Transcript, now: number): Promise<boolean> {
    const res = await this.running(run)
      .set({ status: 'completed', result: JSON.stringify(result), finished_at: now, progress: 1, duration_seconds: result.duration_seconds })
      .executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  async fail(run: RunRef, error: SerializedError, now: number): Promise<boolean> {
    const res = await this.running(run).set({ status: 'failed', error_code: error.code, error_message: error.message, finished_at: now }).executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  async requeue(run: RunRef, error: SerializedError): Promise<boolean> {
    const res = await this.running(run)
      .set({ status: 'queued', error_code: error.code, error_message: error.message, run_token: null, owner_instance_id: null, process_id: null, process_started_at: null, progress: 0 })
      .executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
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

  async registerInstance(i: InstanceRecord): Promise<void> {
    await this.db
      .insertInto('hark_instances')
      .values({ id: i.id, hostname: i.hostname, pid: i.pid, process_started_at: i.processStartedAt, started_at: i.startedAt, last_heartbeat: i.lastHeartbeat })
      .execute();
  }

  async listInstances(): Promise<InstanceRecord[]> {
    const rows = await this.db.selectFrom('hark_instances').selectAll().execute();
    return rows.map((r) => ({
      id: r.id,
      hostname: r.hostname,
      pid: r.pid,
      processStartedAt: r.process_started_at === null ? null : Number(r.process_started_at),
      startedAt: Number(r.started_at),
      lastHeartbeat: Number(r.last_heartbeat),
    }));
  }

  async removeInstance(id: string): Promise<void> {
    await this.db.deleteFrom('hark_instances').where('id', '=', id).execute();
  }

  async runningJobs(): Promise<Job[]> {
    return (await this.db.selectFrom('transcription_jobs').selectAll().where('status', '=', 'running').execute()).map(toJob);
  }

  async recoverOrphan(job: Pick<Job, 'id' | 'runToken' | 'attempts'>, maxAttempts: number, now: number): Promise<'requeued' | 'failed' | 'gone'> {
    const base = () => {
      const q = this.db.updateTable('transcription_jobs').where('id', '=', job.id).where('status', '=', 'running');
      return job.runToken === null ? q.where('run_token', 'is', null) : q.where('run_token', '=', job.runToken);
    };
    if (job.attempts < maxAttempts) {
      const res = await base()
        .set({
          status: 'queued',
          run_token: null,
          owner_instance_id: null,
          process_id: null,
          process_started_at: null,
          progress: 0,
          error_code: 'ORPHANED',
          error_message: 'the process running this job was lost; the job was queued again',
        })
        .executeTakeFirst();
      return Number(res.numUpdatedRows) > 0 ? 'requeued' : 'gone';
    }
    const res = await base()
      .set({
        status: 'failed',
        finished_at: now,
        error_code: 'ORPHANED',
        error_message: `the process running this job was lost ${job.attempts} times (MAX_ATTEMPTS=${maxAttempts})`,
      })
      .executeTakeFirst();
    return Number(res.numUpdatedRows) > 0 ? 'failed' : 'gone';
  }

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

  async finishedBefore(before: number, limit: number): Promise<Job[]> {
    const rows = await this.db
      .selectFrom('transcription_jobs')
      .selectAll()
      .where('status', 'in', ['completed', 'failed', 'cancelled'])
      .where('finished_at', '<', before)
      .limit(limit)
      .execute();
    return rows.map(toJob);
  }

  async setWebhook(id: string, status: WebhookStatus, attempts: number, lastError: string | null): Promise<void> {
    await this.db.updateTable('transcription_jobs').set({ webhook_status: status, webhook_attempts: attempts, webhook_last_error: lastError }).where('id', '=', id).execute();
  }

  async pendingWebhooks(): Promise<Job[]> {
    const rows = await this.db
      .selectFrom('transcription_jobs')
      .selectAll()
      .where('webhook_status', '=', 'pending')
      .where('status', 'in', ['completed', 'failed', 'cancelled'])
      .execute();
    return rows.map(toJob);
  }

  countActiveByApiKey(apiKeyId: string): Promise<number> {
    return apiKeys.countActiveByApiKey(this.db, apiKeyId);
  }

  createApiKey(key: Omit<ApiKeyRecord, 'revokedAt'>): Promise<ApiKeyRecord> {
    return apiKeys.createApiKey(this.db, key);
  }

  findApiKeyByHash(keyHash: string): Promise<ApiKeyRecord | undefined> {
    return apiKeys.findApiKeyByHash(this.db, keyHash);
  }

  findApiKeyById(id: string): Promise<ApiKeyRecord | undefined> {
    return apiKeys.findApiKeyById(this.db, id);
  }

  listApiKeys(): Promise<ApiKeyRecord[]> {
    return apiKeys.listApiKeys(this.db);
  }

  revokeApiKey(id: string, now: number): Promise<boolean> {
    return apiKeys.revokeApiKey(this.db, id, now);
  }

  addKeyUsage(apiKeyId: string, day: string, seconds: number): Promise<void> {
    return apiKeys.addKeyUsage(this.db, apiKeyId, day, seconds);
  }

  keyUsage(apiKeyId: string, day: string): Promise<number> {
    return apiKeys.keyUsage(this.db, apiKeyId, day);
  }
}
