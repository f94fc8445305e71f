import { sql, type Kysely } from 'kysely';
import type { Transcript } from '../../engines/index.js';
import type { SerializedError } from '../../errors.js';
import type { Job } from '../../jobs/model.js';
import type { Database } from '../schema.js';
import type { ClaimOptions, JobRunStore, RunRef } from '../types.js';
import { toJob } from './job-row.js';

/**
 * JobRunStore in Kysely. The dialects differ only in how a claim locks its
 * row: `claimLock` is the clause for the claim's subquery (PostgreSQL: FOR
 * UPDATE SKIP LOCKED; SQLite writes are serial, so none).
 */
export class KyselyJobRunStore implements JobRunStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly claimLock: string,
  ) {}

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

  /** An UPDATE that touches the job only while it is still this run's. */
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
}
