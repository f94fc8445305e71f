import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { KyselyStore } from '../kysely/store.js';
import type { Database } from '../schema.js';

/** What a migration run did, for the log. */
export interface MigrationReport {
  applied: string[];
  backupPath: string | undefined;
}

/**
 * The default store: one SQLite file in DATA_DIR, in WAL mode (readers never
 * block the writer), through better-sqlite3. Writes are serial, so a claim
 * needs no row lock.
 */
export class SqliteStore extends KyselyStore {
  lastMigration: MigrationReport = { applied: [], backupPath: undefined };

  private constructor(
    db: Kysely<Database>,
    private readonly sqlite: BetterSqlite3.Database,
    readonly path: string,
    private readonly existed: boolean,
  ) {
    super(db, '', "json_extract(result, '$.text')");
  }

  static async open(path: string): Promise<SqliteStore> {
    await mkdir(dirname(path), { recursive: true });
    const existed = existsSync(path);
    const sqlite = new BetterSqlite3(path);
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = NORMAL');
    sqlite.pragma('busy_timeout = 5000');
    sqlite.pragma('foreign_keys = ON');
    const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
    return new SqliteStore(db, sqlite, path, existed);
  }

  /** Before migrating an existing file, a consistent copy is made next to it. */
  override async migrate(): Promise<void> {
    const pending = await this.pendingMigrations();
    let backupPath: string | undefined;
    if (pending.length > 0 && this.existed) {
      backupPath = `${this.path}.backup-${new Date().toISOString().replace(/[:.]/g, '-')}-before-${pending[0]}`;
      await this.sqlite.backup(backupPath);
    }
    await this.migrateTo();
    this.lastMigration = { applied: pending, backupPath };
  }
}
