export type {
  Store,
  JobStore,
  JobRevisionStore,
  ResultRevision,
  JobRunStore,
  JobLogStore,
  InstanceStore,
  WebhookStore,
  ApiKeyStore,
  UsageStore,
  ListJobsQuery,
  ClaimOptions,
  InstanceRecord,
  RunRef,
  LogLine,
  LogLinesQuery,
  ApiKeyRecord,
  ApiKeyScope,
} from './types.js';
export { API_KEY_SCOPES } from './types.js';
export { KyselyStore } from './kysely/store.js';
export { SqliteStore, type MigrationReport } from './sqlite/sqlite-store.js';
export { PostgresStore } from './postgres/postgres-store.js';
export { openStore } from './open.js';
