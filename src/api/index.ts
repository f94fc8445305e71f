/**
 * Shapes shared by the server, the CLI and the web page: plain constants and the
 * types derived from them, with no imports, so the page's bundle can hold them.
 * Response schemas stay with their routes (zod), and the page imports those as
 * types only.
 */
export { RESPONSE_FORMATS, HARK_FORMATS, TEXT_FORMATS, type ResponseFormat, type HarkFormat, type TextFormat } from './formats.js';
export { JOB_STATUSES, TERMINAL_STATUSES, PRIORITIES, type JobStatus, type Priority } from './jobs.js';
