import { sql, type Kysely, type Migration } from 'kysely';

/**
 * Append-only, numbered migrations shared by SQLite and PostgreSQL. Never edit
 * one that has shipped: add the next number. `bigint` holds epoch milliseconds.
 */
export const MIGRATIONS: Record<string, Migration> = {
  '001_jobs': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('transcription_jobs')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('priority', 'text', (c) => c.notNull())
        .addColumn('priority_rank', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('started_at', 'bigint')
        .addColumn('finished_at', 'bigint')
        .addColumn('file_name', 'text', (c) => c.notNull())
        .addColumn('file_size', 'bigint', (c) => c.notNull())
        .addColumn('duration_seconds', 'real')
        .addColumn('audio_path', 'text')
        .addColumn('options', 'text', (c) => c.notNull())
        .addColumn('engine', 'text', (c) => c.notNull())
        .addColumn('isolation', 'text', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('error_code', 'text')
        .addColumn('error_message', 'text')
        .addColumn('result', 'text')
        .addColumn('progress', 'real', (c) => c.notNull().defaultTo(0))
        .addColumn('process_id', 'integer')
        .addColumn('process_started_at', 'bigint')
        .addColumn('log_file_path', 'text', (c) => c.notNull())
        .addColumn('last_heartbeat', 'bigint')
        .addColumn('owner_instance_id', 'text')
        .addColumn('run_token', 'text')
        .addColumn('idempotency_key', 'text', (c) => c.unique())
        .addColumn('callback_url', 'text')
        .execute();
      await db.schema.createIndex('transcription_jobs_created').on('transcription_jobs').columns(['created_at', 'id']).execute();
      await db.schema.createIndex('transcription_jobs_status').on('transcription_jobs').columns(['status', 'created_at']).execute();
    },
  },
  '002_instances_webhooks_cancel': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('hark_instances')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('hostname', 'text', (c) => c.notNull())
        .addColumn('pid', 'integer', (c) => c.notNull())
        .addColumn('process_started_at', 'bigint')
        .addColumn('started_at', 'bigint', (c) => c.notNull())
        .addColumn('last_heartbeat', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.alterTable('transcription_jobs').addColumn('webhook_status', 'text').execute();
      await db.schema.alterTable('transcription_jobs').addColumn('webhook_attempts', 'integer', (c) => c.notNull().defaultTo(0)).execute();
      await db.schema.alterTable('transcription_jobs').addColumn('webhook_last_error', 'text').execute();
      await db.schema.alterTable('transcription_jobs').addColumn('cancel_requested', 'integer', (c) => c.notNull().defaultTo(0)).execute();
      // Claims scan queued jobs by effective priority.
      await db.schema.createIndex('transcription_jobs_queue').on('transcription_jobs').columns(['status', 'priority_rank', 'created_at']).execute();
    },
  },
  '003_job_log_lines': {
    async up(db: Kysely<unknown>) {
      // A job's log in the database, so any instance can show a job another one runs.
      // seq counts per job from 1; (job_id, seq) is unique, so two writers of one job
      // cannot take the same number and a follower reading `seq > n` misses nothing.
      await db.schema
        .createTable('hark_job_log_lines')
        .addColumn('job_id', 'text', (c) => c.notNull())
        .addColumn('seq', 'integer', (c) => c.notNull())
        .addColumn('time', 'bigint', (c) => c.notNull())
        .addColumn('line', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('hark_job_log_lines_pk', ['job_id', 'seq'])
        .execute();
      // Jobs no longer get a log file; the column stays (migrations are append-only) and is written empty.
    },
  },
  '004_api_keys': {
    async up(db: Kysely<unknown>) {
      // Only the SHA-256 of a key is stored: keys are 256 random bits, so a fast hash is
      // as good as a slow one (nothing to brute-force) and lookups stay one indexed read.
      await db.schema
        .createTable('hark_api_keys')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('key_hash', 'text', (c) => c.notNull().unique())
        .addColumn('scopes', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('revoked_at', 'bigint')
        .execute();
      // The key that submitted a job (null: submitted without auth); a key sees only its own jobs.
      await db.schema.alterTable('transcription_jobs').addColumn('api_key_id', 'text').execute();
      await db.schema.createIndex('transcription_jobs_api_key').on('transcription_jobs').columns(['api_key_id', 'status']).execute();
    },
  },
  '005_key_usage': {
    async up(db: Kysely<unknown>) {
      // Seconds of audio each key had transcribed, per UTC day: what KEY_MAX_AUDIO_HOURS_PER_DAY
      // counts against and `hark keys list` shows. One row per key and day, added to in place.
      await db.schema
        .createTable('hark_key_usage')
        .addColumn('api_key_id', 'text', (c) => c.notNull())
        .addColumn('day', 'text', (c) => c.notNull())
        .addColumn('audio_seconds', 'double precision', (c) => c.notNull())
        .addPrimaryKeyConstraint('hark_key_usage_pk', ['api_key_id', 'day'])
        .execute();
    },
  },
  '006_idempotency_per_key': {
    async up(db: Kysely<unknown>) {
      // An Idempotency-Key belongs to the API key that sent it: the column now holds
      // "<api_key_id or ->:<key>" (see scopedIdempotencyKey), so its UNIQUE from 001 is
      // unique per key. Rewritten in place, the same on SQLite and PostgreSQL.
      await sql`UPDATE transcription_jobs SET idempotency_key = COALESCE(api_key_id, '-') || ':' || idempotency_key WHERE idempotency_key IS NOT NULL`.execute(db);
    },
  },
  '007_key_sessions_valid_after': {
    async up(db: Kysely<unknown>) {
      // DELETE /api/v1/session voids the key's session cookies issued until then (ms): a cookie
      // copied before the logout stops working on every instance, with the read a request does anyway.
      await db.schema.alterTable('hark_api_keys').addColumn('sessions_valid_after', 'bigint').execute();
    },
  },
  '008_job_vad': {
    async up(db: Kysely<unknown>) {
      // A job's VAD settings (JSON of VadSettings), fixed when it is submitted so that a retry
      // or another instance decodes it the same way. Null on older jobs: the server's settings.
      await db.schema.alterTable('transcription_jobs').addColumn('vad', 'text').execute();
    },
  },
  '009_job_diarize': {
    async up(db: Kysely<unknown>) {
      // What a job asked of diarization (JSON of DiarizeRequest, `{}` for diarize=true without a
      // count), fixed at submit so that every attempt labels speakers the same way. Null: not asked.
      await db.schema.alterTable('transcription_jobs').addColumn('diarize', 'text').execute();
    },
  },
  '010_job_speaker_names': {
    async up(db: Kysely<unknown>) {
      // Names a user gave a completed job's speakers (JSON object, label -> name), applied at every
      // download; the stored result keeps the diarizer's labels, so a rename can be changed or undone.
      await db.schema.alterTable('transcription_jobs').addColumn('speaker_names', 'text').execute();
    },
  },
  '011_job_result_revisions': {
    async up(db: Kysely<unknown>) {
      // Edits of a completed job's transcript, each a whole result (JSON of Transcript) numbered
      // from 1; the job's own `result` stays the original (revision 0). The primary key is what
      // makes two edits from the same revision conflict instead of one overwriting the other.
      await db.schema
        .createTable('hark_job_result_revisions')
        .addColumn('job_id', 'text', (c) => c.notNull())
        .addColumn('revision', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('api_key_id', 'text')
        .addColumn('result', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('hark_job_result_revisions_pk', ['job_id', 'revision'])
        .execute();
    },
  },
};
