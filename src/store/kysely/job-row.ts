import type { Selectable } from 'kysely';
import type { Transcript } from '../../engines/index.js';
import type { Job, JobStatus } from '../../jobs/model.js';
import type { JobsTable } from '../schema.js';

/** A row of transcription_jobs as the store reads it. */
export type JobRow = Selectable<JobsTable>;

/**
 * The idempotency_key column's value: the client's key behind the id of the API key
 * that sent it ("-" without one), so a key is unique per API key, not across them
 * (another key could otherwise learn a job, or take one's place). The column keeps
 * its UNIQUE from 001 (SQLite cannot drop it without rebuilding the table); 006
 * rewrote older rows this way. API key ids are UUIDs: the first ":" ends them.
 */
export function scopedIdempotencyKey(apiKeyId: string | null, key: string): string {
  return `${apiKeyId ?? '-'}:${key}`;
}

/** The client's own Idempotency-Key from a stored (scoped) value. */
function clientIdempotencyKey(stored: string | null): string | null {
  return stored === null ? null : stored.slice(stored.indexOf(':') + 1);
}

/** A transcription_jobs row as the Job the rest of hark sees (JSON columns parsed, BIGINTs as numbers). */
export function toJob(r: JobRow): Job {
  return {
    id: r.id,
    status: r.status as JobStatus,
    priority: r.priority as Job['priority'],
    createdAt: Number(r.created_at),
    startedAt: r.started_at === null ? null : Number(r.started_at),
    finishedAt: r.finished_at === null ? null : Number(r.finished_at),
    fileName: r.file_name,
    fileSize: Number(r.file_size),
    durationSeconds: r.duration_seconds,
    audioPath: r.audio_path,
    options: JSON.parse(r.options) as Job['options'],
    vad: r.vad == null ? null : (JSON.parse(r.vad) as Job['vad']),
    diarize: r.diarize == null ? null : (JSON.parse(r.diarize) as Job['diarize']),
    speakerNames: r.speaker_names == null ? {} : (JSON.parse(r.speaker_names) as Job['speakerNames']),
    engine: r.engine,
    isolation: r.isolation as Job['isolation'],
    attempts: r.attempts,
    errorCode: r.error_code,
    errorMessage: r.error_message,
    result: r.result === null ? null : (JSON.parse(r.result) as Transcript),
    progress: r.progress,
    processId: r.process_id,
    processStartedAt: r.process_started_at === null ? null : Number(r.process_started_at),
    lastHeartbeat: r.last_heartbeat === null ? null : Number(r.last_heartbeat),
    ownerInstanceId: r.owner_instance_id,
    runToken: r.run_token,
    idempotencyKey: clientIdempotencyKey(r.idempotency_key),
    callbackUrl: r.callback_url,
    webhookStatus: r.webhook_status as Job['webhookStatus'],
    webhookAttempts: r.webhook_attempts,
    webhookLastError: r.webhook_last_error,
    cancelRequested: Boolean(r.cancel_requested),
    apiKeyId: r.api_key_id,
  };
}

