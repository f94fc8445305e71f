import { Migrator, type Kysely } from 'kysely';
import { MIGRATIONS } from '../migrations/index.js';
import type { Database } from '../schema.js';
import type { ApiKeyStore, InstanceStore, JobLogStore, JobRevisionStore, JobRunStore, JobStore, Store, UsageStore, WebhookStore } from '../types.js';
import { KyselyInstanceStore } from './instances.js';
import { KyselyJobStore } from './jobs.js';
import { KyselyApiKeyStore } from './keys.js';
import { KyselyJobLogStore } from './logs.js';
import { KyselyJobRunStore } from './runs.js';
import { KyselyJobRevisionStore } from './revisions.js';
import { KyselyUsageStore } from './usage.js';
import { KyselyWebhookStore } from './webhooks.js';

/**
 * The Store over one Kysely database: one object per concern, all sharing the
 * connection (pool). SQLite and PostgreSQL share every query; a dialect
 * subclass only opens the database and adds what differs (how a claim locks
 * its row, backups before a migration).
 */
export abstract class KyselyStore implements Store {
  readonly jobs: JobStore;
  readonly revisions: JobRevisionStore;
  readonly runs: JobRunStore;
  readonly logs: JobLogStore;
  readonly instances: InstanceStore;
  readonly webhooks: WebhookStore;
  readonly keys: ApiKeyStore;
  readonly usage: UsageStore;

  /**
   * `claimLock`: row-lock clause for the claim's subquery (see KyselyJobRunStore).
   * `transcriptText`: SQL for a job row's transcript text out of its JSON `result` (see KyselyJobStore).
   */
  protected constructor(
    protected readonly db: Kysely<Database>,
    claimLock: string,
    transcriptText: string,
  ) {
    this.jobs = new KyselyJobStore(db, transcriptText);
    this.revisions = new KyselyJobRevisionStore(db);
    this.runs = new KyselyJobRunStore(db, claimLock);
    this.logs = new KyselyJobLogStore(db);
    this.instances = new KyselyInstanceStore(db);
    this.webhooks = new KyselyWebhookStore(db);
    this.keys = new KyselyApiKeyStore(db);
    this.usage = new KyselyUsageStore(db);
  }

  protected migrator(): Migrator {
    return new Migrator({ db: this.db, provider: { getMigrations: async () => MIGRATIONS } });
  }

  /** Runs pending migrations; `target` stops at a given one (tests of upgrades). */
  async migrateTo(target?: string): Promise<void> {
    const m = this.migrator();
    const { error } = target === undefined ? await m.migrateToLatest() : await m.migrateTo(target);
    if (error !== undefined) throw error instanceof Error ? error : new Error(String(error));
  }

  async pendingMigrations(): Promise<string[]> {
    return (await this.migrator().getMigrations()).filter((m) => m.executedAt === undefined).map((m) => m.name);
  }

  async migrate(): Promise<void> {
    await this.migrateTo();
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }
}
