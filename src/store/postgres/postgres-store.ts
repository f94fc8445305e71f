import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { KyselyStore } from '../kysely/store.js';
import type { Database } from '../schema.js';

const INT8_OID = 20;

/**
 * The store for several hark instances: PostgreSQL, same queries as SQLite.
 * A claim locks its row with FOR UPDATE SKIP LOCKED, so instances claiming at
 * the same moment never take the same job and never wait on each other.
 */
export class PostgresStore extends KyselyStore {
  private constructor(
    db: Kysely<Database>,
    readonly url: string,
  ) {
    super(db, 'FOR UPDATE SKIP LOCKED', "(result::jsonb ->> 'text')");
  }

  /**
   * `onIdleError` hears of idle connections the server dropped (a restart, a
   * failover): pg emits those on the pool, and an unheard 'error' would end the
   * process. The pool reconnects on next use.
   */
  static async open(url: string, poolSize = 10, onIdleError: (err: Error) => void = () => undefined): Promise<PostgresStore> {
    const pool = new pg.Pool({
      connectionString: url,
      max: poolSize,
      // Times are epoch milliseconds in BIGINT: well inside a JS number.
      types: { getTypeParser: ((oid: number, format?: string) => (oid === INT8_OID ? Number : pg.types.getTypeParser(oid, format as 'text'))) as typeof pg.types.getTypeParser },
    });
    pool.on('error', onIdleError);
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    return new PostgresStore(db, url);
  }
}
