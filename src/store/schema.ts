import type { Generated } from 'kysely';

/** Database tables as Kysely sees them. Times are epoch milliseconds. */
export interface JobsTable {
  id: string;
  status: string;
  priority: string;
  priority_rank: number;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  file_name: string;
  file_size: number;
  duration_seconds: number | null;
  audio_path: string | null;
  options: string;
  engine: string;
  isolation: string;
  attempts: Generated<number>;
  error_code: string | null;
  error_message: string | null;
  result: string | null;
  progress: Generated<number>;
  process_id: number | null;
  process_started_at: number | null;
  /** Unused since migration 003 (logs are rows of hark_job_log_lines); written empty. */
  log_file_path: string;
  last_heartbeat: number | null;
  owner_instance_id: string | null;
  run_token: string | null;
  idempotency_key: string | null;
  callback_url: string | null;
  // Migration 002
  webhook_status: string | null;
  webhook_attempts: Generated<number>;
  webhook_last_error: string | null;
  cancel_requested: Generated<number>;
  // Migration 004
  api_key_id: string | null;
  /** Migration 008: JSON of the job's VadSettings; null for jobs stored before. */
  vad: string | null;
  /** Migration 009: JSON of the job's DiarizeRequest; null when it did not ask for diarization. */
  diarize: string | null;
  /** Migration 010: JSON object of the names given to the result's speakers (label -> name); null: none. */
  speaker_names: string | null;
}

export interface InstancesTable {
  id: string;
  hostname: string;
  pid: number;
  process_started_at: number | null;
  started_at: number;
  last_heartbeat: number;
}

/** Migration 003: one row per log line of a job. */
export interface JobLogLinesTable {
  job_id: string;
  seq: number;
  time: number;
  line: string;
}

/** Migration 004: API keys, by the SHA-256 of the key (never the key). */
export interface ApiKeysTable {
  id: string;
  name: string;
  key_hash: string;
  /** Comma-separated scopes. */
  scopes: string;
  created_at: number;
  revoked_at: number | null;
  /** Migration 007: session cookies issued at or before this time (ms) are void. */
  sessions_valid_after: number | null;
}

/** Migration 005: audio seconds per key and UTC day (YYYY-MM-DD). */
export interface KeyUsageTable {
  api_key_id: string;
  day: string;
  audio_seconds: number;
}

/** Migration 011: edited transcripts of completed jobs (revision 1, 2, ...; the job's `result` is revision 0). */
export interface JobResultRevisionsTable {
  job_id: string;
  revision: number;
  created_at: number;
  api_key_id: string | null;
  /** JSON of the whole edited Transcript. */
  result: string;
}

export interface Database {
  transcription_jobs: JobsTable;
  hark_instances: InstancesTable;
  hark_job_log_lines: JobLogLinesTable;
  hark_api_keys: ApiKeysTable;
  hark_key_usage: KeyUsageTable;
  hark_job_result_revisions: JobResultRevisionsTable;
}
