import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';
import type { InstanceRecord, InstanceStore } from '../types.js';

/** InstanceStore in Kysely (table hark_instances; JobRunStore.heartbeat refreshes `last_heartbeat`). */
export class KyselyInstanceStore implements InstanceStore {
  constructor(private readonly db: Kysely<Database>) {}

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
}
