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
  };
}

/** ApiKeyStore in Kysely (table hark_api_keys, migration 004). */
export class KyselyApiKeyStore implements ApiKeyStore {
  constructor(private readonly db: Kysely<Database>) {}

  async createApiKey(key: Omit<ApiKeyRecord, 'revokedAt'>): Promise<ApiKeyRecord> {
    const row = await this.db
      .insertInto('hark_api_keys')
      .values({ id: key.id, name: key.name, key_hash: key.keyHash, scopes: key.scopes.join(','), created_at: key.createdAt, revoked_at: null })
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
}
