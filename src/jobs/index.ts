export * from './model.js';
export { JobService, encodeCursor, decodeCursor, type SubmitRequest } from './service.js';
export { JobRunner, type JobRunnerOptions } from './runner.js';
export { OrphanRecovery, type RecoveryReport } from './recovery.js';
export { Retention } from './retention.js';
export { WebhookSender, checkCallbackTarget, checkCallbackUrl, signPayload, webhookPayload } from './webhooks.js';
export { JobLogs, formatLogLine } from './job-log.js';
export { openJobs, type Jobs } from './open.js';
export { applySegmentEdits, MAX_SEGMENT_TEXT, type SegmentEdit } from './transcript-edits.js';
