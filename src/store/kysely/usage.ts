import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';
import type { UsageStore } from '../types.js';

/** UsageStore in Kysely (table hark_key_usage, migration 005). */
export class KyselyUsageStore implements UsageStore {
  constructor(private readonly db: Kysely<Database>) {}

  /** One statement, so concurrent adds from several instances sum. */
  async addKeyUsage(apiKeyId: string, day: string, seconds: number): Promise<void> {
    await this.db
      .insertInto('hark_key_usage')
      .values({ api_key_id: apiKeyId, day, audio_seconds: seconds })
      .onConflict((oc) => oc.columns(['api_key_id', 'day']).doUpdateSet((eb) => ({ audio_seconds: eb('hark_key_usage.audio_seconds', '+', eb.ref('excluded.audio_seconds')) })))
      .execute();
  }

  async keyUsage(apiKeyId: string, day: string): Promise<number> {
    const row = await this.db.selectFrom('hark_key_usage').select('audio_seconds').where('api_key_id', '=', apiKeyId).where('day', '=', day).executeTakeFirst();
    return Number(row?.audio_seconds ?? 0);
  }
}
