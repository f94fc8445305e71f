import type { Kysely, Selectable } from 'kysely';
import type { ApiKeysTable, Database } from '../schema.js';
import type { ApiKeyRecord, ApiKeyScope, ApiKeyStore } from '../types.js';

function toKey(r: Selectable<ApiKeysTable>): ApiKeyRecord {
  return {
    id: r.id,
    name: r.name,
    keyHash: r.key_hash,
    scopes: r.scopes === '' ? [] : (r.scopes.split(',') as ApiKeyScope[]),
    createdAt: Number(r.created_at),
    revokedAt: r.revoked_at === null ? null : Number(r.revoked_at),
    sessionsValidAfter: r.sessions_valid_after === null ? null : Number(r.sessions_valid_after),
  };
}

/** ApiKeyStore in Kysely (table hark_api_keys, migrations 004 and 007). */
export class KyselyApiKeyStore implements ApiKeyStore {
  constructor(private readonly db: Kysely<Database>) {}

  async createApiKey(key: Omit<ApiKeyRecord, 'revokedAt' | 'sessionsValidAfter'>): Promise<ApiKeyRecord> {
    const row = await this.db
      .insertInto('hark_api_keys')
      .values({ id: key.id, name: key.name, key_hash: key.keyHash, scopes: key.scopes.join(','), created_at: key.createdAt, revoked_at: null, sessions_valid_after: null })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toKey(row);
  }

  async findApiKeyByHash(keyHash: string): Promise<ApiKeyRecord | undefined> {
    const row = await this.db.selectFrom('hark_api_keys').selectAll().where('key_hash', '=', keyHash).executeTakeFirst();
    return row && toKey(row);
  }

  async findApiKeyById(id: string): Promise<ApiKeyRecord | undefined> {
    const row = await this.db.selectFrom('hark_api_keys').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toKey(row);
  }

  async listApiKeys(): Promise<ApiKeyRecord[]> {
    const rows = await this.db.selectFrom('hark_api_keys').selectAll().orderBy('created_at').orderBy('id').execute();
    return rows.map(toKey);
  }

  async revokeApiKey(id: string, now: number): Promise<boolean> {
    const res = await this.db.updateTable('hark_api_keys').set({ revoked_at: now }).where('id', '=', id).where('revoked_at', 'is', null).executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  async endSessions(id: string, now: number): Promise<void> {
    // Never moved back: two logouts racing keep the later time.
    await this.db
      .updateTable('hark_api_keys')
      .set({ sessions_valid_after: now })
      .where('id', '=', id)
      .where((eb) => eb.or([eb('sessions_valid_after', 'is', null), eb('sessions_valid_after', '<', now)]))
      .execute();
  }
}
