import type { Kysely, Selectable } from 'kysely';
import type { ApiKeysTable, Database } from './schema.js';
import type { ApiKeyRecord, ApiKeyScope } from './types.js';

/** API key queries, kept apart from the job queries; KyselyJobStore delegates to these. */

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

export async function createApiKey(db: Kysely<Database>, key: Omit<ApiKeyRecord, 'revokedAt'>): Promise<ApiKeyRecord> {
  const row = await db
    .insertInto('hark_api_keys')
    .values({ id: key.id, name: key.name, key_hash: key.keyHash, scopes: key.scopes.join(','), created_at: key.createdAt, revoked_at: null })
    .returningAll()
    .executeTakeFirstOrThrow();
  return toKey(row);
}

export async function findApiKeyByHash(db: Kysely<Database>, keyHash: string): Promise<ApiKeyRecord | undefined> {
  const row = await db.selectFrom('hark_api_keys').selectAll().where('key_hash', '=', keyHash).executeTakeFirst();
  return row && toKey(row);
}

export async function findApiKeyById(db: Kysely<Database>, id: string): Promise<ApiKeyRecord | undefined> {
  const row = await db.selectFrom('hark_api_keys').selectAll().where('id', '=', id).executeTakeFirst();
  return row && toKey(row);
}

/** Adds to a key's audio seconds of `day` in one statement (concurrent adds from several instances sum). */
export async function addKeyUsage(db: Kysely<Database>, apiKeyId: string, day: string, seconds: number): Promise<void> {
  await db
    .insertInto('hark_key_usage')
    .values({ api_key_id: apiKeyId, day, audio_seconds: seconds })
    .onConflict((oc) => oc.columns(['api_key_id', 'day']).doUpdateSet((eb) => ({ audio_seconds: eb('hark_key_usage.audio_seconds', '+', eb.ref('excluded.audio_seconds')) })))
    .execute();
}

export async function keyUsage(db: Kysely<Database>, apiKeyId: string, day: string): Promise<number> {
  const row = await db.selectFrom('hark_key_usage').select('audio_seconds').where('api_key_id', '=', apiKeyId).where('day', '=', day).executeTakeFirst();
  return Number(row?.audio_seconds ?? 0);
}

export async function listApiKeys(db: Kysely<Database>): Promise<ApiKeyRecord[]> {
  const rows = await db.selectFrom('hark_api_keys').selectAll().orderBy('created_at').orderBy('id').execute();
  return rows.map(toKey);
}

export async function revokeApiKey(db: Kysely<Database>, id: string, now: number): Promise<boolean> {
  const res = await db.updateTable('hark_api_keys').set({ revoked_at: now }).where('id', '=', id).where('revoked_at', 'is', null).executeTakeFirst();
  return Number(res.numUpdatedRows) > 0;
}

export async function countActiveByApiKey(db: Kysely<Database>, apiKeyId: string): Promise<number> {
  const row = await db
    .selectFrom('transcription_jobs')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('api_key_id', '=', apiKeyId)
    .where('status', 'in', ['queued', 'running'])
    .executeTakeFirst();
  return Number(row?.n ?? 0);
}
