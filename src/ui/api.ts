/**
 * The page's only way to the server: hark's public HTTP API, same origin. The
 * shapes are the server's own zod schemas, imported as types only (erased by the
 * build), so the page and the API cannot drift apart silently.
 */
import type { z } from 'zod';
import type { jobViewSchema } from '../http/routes/jobs.js';
import type { poolViewSchema } from '../http/routes/debug.js';
import type { MemoryHistoryView, SystemInfo } from '../http/routes/server-info.js';
import type { errorBodySchema } from '../http/openapi.js';
import type { TranscriptionResponse } from '../transcription/index.js';
import type { Transcript } from '../engines/index.js';
import type { capacityResponseSchema, capacitySchema } from '../http/routes/capacity.js';
import { JOB_STATUSES, TERMINAL_STATUSES, type HarkFormat, type JobStatus } from '../api/index.js';
import { authHeaders, keyRefused } from './auth.js';

export type { MemoryHistoryView, SystemInfo, TranscriptionResponse, JobStatus };
export type JobView = z.infer<typeof jobViewSchema>;
export type PoolView = z.infer<typeof poolViewSchema>;
export type ErrorBody = z.infer<typeof errorBodySchema>;
export type JobResult = Omit<TranscriptionResponse, 'pid' | 'processing_ms'>;
export type Isolation = JobView['isolation'];
export type Priority = JobView['priority'];
/** A job's result as its route answers it: which revision of the transcript it is (0: the engine's, 1, 2, ...: edits). */
export type JobRevision = JobResult & { revision: number };

export { JOB_STATUSES, TERMINAL_STATUSES };
/** The formats a job's result is offered in. */
export type ResultFormat = HarkFormat;
/** One mode's fill level, as GET /api/v1/capacity reports it. */
export type CapacityView = z.infer<typeof capacitySchema>;
export type CapacityResponse = z.infer<typeof capacityResponseSchema>;

/** An error answer of the API (or a network failure, with status 0). */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly retryAfterSeconds?: number,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

function retryAfter(value: string | null, details: Record<string, unknown> | undefined): number | undefined {
  const fromHeader = value === null ? NaN : Number(value);
  if (Number.isFinite(fromHeader)) return fromHeader;
  const fromBody = details?.['retry_after_seconds'];
  return typeof fromBody === 'number' ? fromBody : undefined;
}

/** An error answer as an ApiError. */
function toApiError(status: number, bodyText: string, retryHeader: string | null): ApiError {
  try {
    const body = JSON.parse(bodyText) as Partial<ErrorBody>;
    if (body.error !== undefined) {
      return new ApiError(status, body.error.code, body.error.message, retryAfter(retryHeader, body.error.details), body.error.details);
    }
  } catch {
    // not JSON: a proxy's page, say; reported by status below
  }
  return new ApiError(status, `HTTP_${status}`, `the server answered ${status}`);
}

/**
 * One call with the tab's key, answered 2xx; an error answer throws ApiError (after a 401, the key
 * prompt opens). The body is the caller's to read: JSON in `request`, a ZIP for an export.
 */
export async function send(path: string, init?: RequestInit): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(path, { ...init, headers: { accept: 'application/json', ...authHeaders(), ...init?.headers } });
  } catch {
    throw new ApiError(0, 'NETWORK', 'the server cannot be reached');
  }
  if (res.status === 401) keyRefused();
  if (!res.ok) throw toApiError(res.status, await res.text(), res.headers.get('retry-after'));
  return res;
}

/** One call with the tab's key and a JSON answer (or none: a 204). */
export async function request<T>(path: string, init?: RequestInit): Promise<T> {
  const text = await (await send(path, init)).text();
  return (text === '' ? undefined : JSON.parse(text)) as T;
}

export const api = {
  system: () => request<SystemInfo>('/api/v1/system'),
  capacity: () => request<CapacityResponse>('/api/v1/capacity'),
  pool: () => request<PoolView>('/debug/pool'),
  memory: () => request<MemoryHistoryView>('/api/v1/system/memory'),
  /** `q`: only jobs whose file name or transcript contains it, searched by the server over every job. */
  jobs: (params: {
    status?: JobStatus | undefined;
    q?: string | undefined;
    /** ISO 8601 times: jobs created at or after `from` and before `to`. */
    from?: string | undefined;
    to?: string | undefined;
    order?: 'newest' | 'oldest' | undefined;
    limit: number;
    cursor?: string | undefined;
  }) => {
    const q = new URLSearchParams({ limit: String(params.limit) });
    if (params.status !== undefined) q.set('status', params.status);
    if (params.q !== undefined) q.set('q', params.q);
    if (params.from !== undefined) q.set('from', params.from);
    if (params.to !== undefined) q.set('to', params.to);
    if (params.order !== undefined) q.set('order', params.order);
    if (params.cursor !== undefined) q.set('cursor', params.cursor);
    return request<{ jobs: JobView[]; next_cursor: string | null }>(`/api/v1/jobs?${q}`);
  },
  job: (id: string) => request<JobView>(`/api/v1/jobs/${encodeURIComponent(id)}`),
  /** With the speakers' labels as diarized: the page shows the names given to them itself, from the job's view. */
  result: (id: string, revision: 'latest' | 'original' = 'latest') =>
    request<JobRevision>(`/api/v1/jobs/${encodeURIComponent(id)}/result?format=json&speaker_names=false&revision=${revision}`),
  /** Stores segments' new text as the next revision; 409 REVISION_CONFLICT (details.latest_revision) when `base` is no longer the latest. */
  editTranscript: (id: string, base: number, segments: { index: number; text: string }[]) =>
    request<{ revision: number; transcript: Transcript }>(`/api/v1/jobs/${encodeURIComponent(id)}/transcript`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ base_revision: base, segments }),
    }),
  /** Replaces the names given to a job's speakers (every download uses them); answers the job's view. */
  nameSpeakers: (id: string, names: Record<string, string>) =>
    request<JobView>(`/api/v1/jobs/${encodeURIComponent(id)}/speakers`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ names }),
    }),
  cancel: (id: string) => request<JobView>(`/api/v1/jobs/${encodeURIComponent(id)}/cancel`, { method: 'POST' }),
  /** A new job with the ended one's settings and audio (410 JOB_AUDIO_GONE when the audio was not kept). */
  retry: (id: string) => request<{ job_id: string; status: JobStatus }>(`/api/v1/jobs/${encodeURIComponent(id)}/retry`, { method: 'POST' }),
  remove: (id: string) => request<undefined>(`/api/v1/jobs/${encodeURIComponent(id)}`, { method: 'DELETE' }),
  /** A single-use ticket for the live stream's URL; undefined (204) when the server takes no keys. */
  streamTicket: () => request<{ ticket: string; expires_in: number } | undefined>('/api/v1/stream-ticket', { method: 'POST' }),
};

/**
 * Why the server refuses a live stream now, or undefined when it would take one. A browser
 * hides the status of a refused WebSocket upgrade, so the page asks the stream's URL again
 * as plain HTTP, with its key in a header: the checks before the upgrade run alike (key,
 * scope, MAX_STREAMS, the key's share, its quota), and a request that passes them all gets
 * 404, there being nothing to GET.
 */
export async function streamRefusal(): Promise<ApiError | undefined> {
  try {
    await request<unknown>('/v1/audio/stream');
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    if (err.status !== 404) return err;
  }
  return undefined;
}

export const jobUrls = {
  /** The latest revision unless the engine's own transcript (`original`) is asked for. */
  result: (id: string, format: ResultFormat, revision?: 'original') =>
    `/api/v1/jobs/${encodeURIComponent(id)}/result?format=${format}${revision === undefined ? '' : `&revision=${revision}`}`,
  audio: (id: string) => `/api/v1/jobs/${encodeURIComponent(id)}/audio`,
  logStream: (id: string) => `/api/v1/jobs/${encodeURIComponent(id)}/logs/stream`,
};

export type UploadMode = 'job' | 'sync';

export interface UploadOptions {
  mode: UploadMode;
  /** Undefined: the server's DEFAULT_ISOLATION. */
  isolation: Isolation | undefined;
  /** Sync only: the answer's format. */
  format: ResultFormat;
  /** Jobs only. */
  priority: Priority;
  /** Label speakers (diarize=true), with an exact count or none to let the server estimate it. */
  diarize: { numSpeakers: number | undefined } | undefined;
  /** An engine or a whisper model id from /v1/models; undefined: the server's ENGINE. */
  engine?: string | undefined;
  /** ISO 639-1 code; undefined: the engine's default. */
  language?: string | undefined;
}

export type UploadAnswer =
  | { mode: 'job'; jobId: string; status: string }
  | { mode: 'sync'; format: 'json'; result: TranscriptionResponse }
  | { mode: 'sync'; format: Exclude<ResultFormat, 'json'>; text: string };

export interface UploadHandle {
  done: Promise<UploadAnswer>;
  abort(): void;
}

/**
 * Uploads one file with XMLHttpRequest, the one browser API that reports upload
 * progress. A job answers 202 at once; a sync request answers with the transcript.
 */
export function upload(file: File, options: UploadOptions, onProgress: (sent: number, total: number) => void): UploadHandle {
  const xhr = new XMLHttpRequest();
  const form = new FormData();
  let url: string;
  if (options.mode === 'job') {
    url = '/api/v1/jobs';
    form.append('priority', options.priority);
    if (options.isolation !== undefined) form.append('isolation', options.isolation);
  } else {
    // The sync route takes the mode and engine from the URL: admission is decided before the body is read.
    const query = new URLSearchParams();
    if (options.isolation !== undefined) query.set('isolation', options.isolation);
    if (options.engine !== undefined) query.set('engine', options.engine);
    url = `/transcriptions${query.toString() === '' ? '' : `?${query}`}`;
    form.append('response_format', options.format);
  }
  if (options.mode === 'job' && options.engine !== undefined) form.append('engine', options.engine);
  if (options.language !== undefined) form.append('language', options.language);
  if (options.diarize !== undefined) {
    form.append('diarize', 'true');
    if (options.diarize.numSpeakers !== undefined) form.append('num_speakers', String(options.diarize.numSpeakers));
  }
  form.append('file', file, file.name);
  const done = new Promise<UploadAnswer>((resolve, reject) => {
    xhr.upload.onprogress = (e) => onProgress(e.loaded, e.lengthComputable ? e.total : file.size);
    xhr.onerror = () => reject(new ApiError(0, 'NETWORK', 'the connection closed before the server answered'));
    xhr.onabort = () => reject(new ApiError(0, 'ABORTED', 'upload cancelled'));
    xhr.onload = () => {
      const text = xhr.responseText;
      if (xhr.status === 401) keyRefused();
      if (xhr.status < 200 || xhr.status >= 300) {
        reject(toApiError(xhr.status, text, xhr.getResponseHeader('retry-after')));
        return;
      }
      if (options.mode === 'job') {
        const body = JSON.parse(text) as { job_id: string; status: string };
        resolve({ mode: 'job', jobId: body.job_id, status: body.status });
      } else if (options.format === 'json') {
        resolve({ mode: 'sync', format: 'json', result: JSON.parse(text) as TranscriptionResponse });
      } else {
        resolve({ mode: 'sync', format: options.format, text });
      }
    };
  });
  xhr.open('POST', url);
  xhr.setRequestHeader('accept', 'application/json');
  for (const [name, value] of Object.entries(authHeaders())) xhr.setRequestHeader(name, value);
  xhr.send(form);
  return { done, abort: () => xhr.abort() };
}
