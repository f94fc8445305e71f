import type { OpenStore } from './fixtures.js';
import { describeInstanceStore } from './instances.js';
import { describeJobStore } from './jobs.js';
import { describeApiKeyStore } from './keys.js';
import { describeJobLogStore } from './logs.js';
import { describeJobRunStore } from './runs.js';
import { describeJobRevisionStore } from './revisions.js';
import { describeUsageStore } from './usage.js';
import { describeWebhookStore } from './webhooks.js';

export { newJob, tempSqliteStore, transcript, type OpenStore, type TempSqliteStore } from './fixtures.js';

/**
 * The Store contract, one suite per concern: every implementation (SQLite,
 * PostgreSQL) runs all of them against a real database, each test on a fresh one.
 */
export function describeStore(name: string, open: OpenStore): void {
  describeJobStore(name, open);
  describeJobRunStore(name, open);
  describeJobLogStore(name, open);
  describeJobRevisionStore(name, open);
  describeInstanceStore(name, open);
  describeWebhookStore(name, open);
  describeApiKeyStore(name, open);
  describeUsageStore(name, open);
}
