import type { Kysely } from 'kysely';
import { TERMINAL_STATUSES, type Job, type WebhookStatus } from '../../jobs/model.js';
import type { Database } from '../schema.js';
import type { WebhookStore } from '../types.js';
import { toJob } from './job-row.js';

/** WebhookStore in Kysely (the webhook_* columns of transcription_jobs). */
export class KyselyWebhookStore implements WebhookStore {
  constructor(private readonly db: Kysely<Database>) {}

  async setWebhook(id: string, status: WebhookStatus, attempts: number, lastError: string | null): Promise<void> {
    await this.db.updateTable('transcription_jobs').set({ webhook_status: status, webhook_attempts: attempts, webhook_last_error: lastError }).where('id', '=', id).execute();
  }

  async pendingWebhooks(): Promise<Job[]> {
    const rows = await this.db
      .selectFrom('transcription_jobs')
      .selectAll()
      .where('webhook_status', '=', 'pending')
      .where('status', 'in', TERMINAL_STATUSES)
      .execute();
    return rows.map(toJob);
  }
}
