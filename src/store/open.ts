import { join } from 'node:path';
import type { Config } from '../config/index.js';
import type { Logger } from '../logger.js';
import { PostgresStore } from './postgres/postgres-store.js';
import { SqliteStore } from './sqlite/sqlite-store.js';
import type { Store } from './types.js';

/** The store DATABASE_URL names (SQLite in DATA_DIR when empty), migrated. The caller closes it. */
export async function openStore(config: Config, dataDir: string, logger: Logger): Promise<Store> {
  const url = config.DATABASE_URL;
  if (url !== undefined && /^postgres(ql)?:/.test(url)) {
    const store = await PostgresStore.open(url, 10, (err) => logger.warn({ err }, 'PostgreSQL dropped an idle connection'));
    const pending = await store.pendingMigrations();
    await store.migrate();
    if (pending.length > 0) logger.info({ applied: pending }, 'database migrated');
    return store;
  }
  const store = await SqliteStore.open(url?.replace(/^sqlite:/, '') ?? join(dataDir, 'hark.db'));
  await store.migrate();
  if (store.lastMigration.applied.length > 0) {
    logger.info({ applied: store.lastMigration.applied, backup: store.lastMigration.backupPath, db: store.path }, 'database migrated');
  }
  return store;
}
