export type { JobStore, ListJobsQuery, ClaimOptions, InstanceRecord, RunRef, LogLine, LogLinesQuery, ApiKeyRecord, ApiKeyScope } from './types.js';
export { API_KEY_SCOPES } from './types.js';
export { KyselyJobStore } from './kysely-job-store.js';
export { SqliteJobStore, type MigrationReport } from './sqlite/sqlite-job-store.js';
export { PostgresJobStore } from './postgres/postgres-job-store.js';
