import type { Kysely } from 'kysely';
import type { Transcript } from '../../engines/index.js';
import type { Database } from '../schema.js';
import type { JobRevisionStore, ResultRevision } from '../types.js';

type Row = Database['hark_job_result_revisions'];

function toRevision(r: Row): ResultRevision {
  return { revision: Number(r.revision), createdAt: Number(r.created_at), apiKeyId: r.api_key_id, result: JSON.parse(r.result) as Transcript };
}

/** JobRevisionStore in Kysely's dialect-neutral query builder. */
export class KyselyJobRevisionStore implements JobRevisionStore {
  constructor(private readonly db: Kysely<Database>) {}

  async add(jobId: string, base: number, revision: Omit<ResultRevision, 'revision'>): Promise<boolean> {
    const latest = (await this.latestNumber(jobId)) ?? 0;
    if (base !== latest) return false;
    try {
      await this.db
        .insertInto('hark_job_result_revisions')
        .values({ job_id: jobId, revision: base + 1, created_at: revision.createdAt, api_key_id: revision.apiKeyId, result: JSON.stringify(revision.result) })
        .execute();
      return true;
    } catch (err) {
      // Another edit of the same base got in between the read and the insert: the key refuses the second.
      if ((await this.latestNumber(jobId)) !== base) return false;
      throw err;
    }
  }

  async latest(jobId: string): Promise<ResultRevision | undefined> {
    const row = await this.db.selectFrom('hark_job_result_revisions').selectAll().where('job_id', '=', jobId).orderBy('revision', 'desc').limit(1).executeTakeFirst();
    return row === undefined ? undefined : toRevision(row);
  }

  async get(jobId: string, revision: number): Promise<ResultRevision | undefined> {
    const row = await this.db.selectFrom('hark_job_result_revisions').selectAll().where('job_id', '=', jobId).where('revision', '=', revision).executeTakeFirst();
    return row === undefined ? undefined : toRevision(row);
  }

  async list(jobId: string): Promise<Omit<ResultRevision, 'result'>[]> {
    const rows = await this.db
      .selectFrom('hark_job_result_revisions')
      .select(['revision', 'created_at', 'api_key_id'])
      .where('job_id', '=', jobId)
      .orderBy('revision', 'asc')
      .execute();
    return rows.map((r) => ({ revision: Number(r.revision), createdAt: Number(r.created_at), apiKeyId: r.api_key_id }));
  }

  private async latestNumber(jobId: string): Promise<number | undefined> {
    const row = await this.db
      .selectFrom('hark_job_result_revisions')
      .select((eb) => eb.fn.max('revision').as('latest'))
      .where('job_id', '=', jobId)
      .executeTakeFirst();
    return row?.latest === null || row?.latest === undefined ? undefined : Number(row.latest);
  }
}
