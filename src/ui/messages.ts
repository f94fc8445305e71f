import type { ApiError, UploadMode } from './api.js';
import { apiKey } from './auth.js';
import { bytes } from './format.js';

/** What a person should read for an API error: a sentence to act on, then the server's own words. */
export interface Explained {
  title: string;
  detail?: string | undefined;
}

/** What the formats hint and the refusals name: what hark reads. */
const FORMATS = 'WAV, MP3, FLAC, Ogg/Opus, M4A or WebM';

/**
 * A refusal of the key itself (401, 403 FORBIDDEN): sending again with the same key cannot
 * help, so it says what to do instead. `action`: what the key was used for ("transcribe").
 */
function keyRefusal(err: ApiError, action: string): Explained | undefined {
  if (err.code === 'UNAUTHORIZED') {
    return apiKey() === null
      ? { title: 'This server needs an API key. Enter one to continue.', detail: err.message }
      : { title: 'The server refused this API key: it is wrong or has been revoked. Enter a valid key.', detail: err.message };
  }
  if (err.code !== 'FORBIDDEN') return undefined;
  const scope = err.details?.['required_scope'];
  return {
    title: `This API key may not ${action}${typeof scope === 'string' ? `: it lacks the “${scope}” scope` : ''}.`,
    detail: 'Use a key that has it: choose “API key” at the top of the page to enter another.',
  };
}

/** 401, 403 and a spent quota: a retry with the same key cannot succeed (not today, for the quota). */
export function retryCannotFix(err: ApiError): boolean {
  return err.status === 401 || err.status === 403 || err.code === 'QUOTA_EXCEEDED';
}

function retryIn(err: ApiError, fallback: string): string {
  return err.retryAfterSeconds === undefined ? fallback : `Try again in ${err.retryAfterSeconds} seconds.`;
}

/** RATE_LIMITED for RATE_LIMIT_PER_MINUTE (or failed authentications): a minute at most fixes it. */
function tooManyRequests(err: ApiError): string {
  return `Too many requests from this ${apiKey() === null ? 'computer' : 'API key'}. ${retryIn(err, 'Try again in a minute.')}`;
}

/** Turns a failed upload's error code into advice; the server's message stays visible under it. */
export function explainUploadError(err: ApiError, fileName: string, mode: UploadMode): Explained {
  const server = err.message;
  const refused = keyRefusal(err, mode === 'job' ? 'submit jobs' : 'transcribe');
  if (refused !== undefined) return refused;
  switch (err.code) {
    case 'FILE_TOO_LARGE': {
      const max = err.details?.['max_file_size_bytes'];
      return { title: `“${fileName}” is too large${typeof max === 'number' ? `: this server accepts files up to ${bytes(max)}` : ''}.`, detail: server };
    }
    case 'INVALID_AUDIO':
      return { title: notAudioTitle(fileName), detail: server };
    case 'EMPTY_FILE':
    case 'EMPTY_AUDIO':
      return { title: `“${fileName}” holds no audio.`, detail: server };
    case 'AUDIO_TOO_LONG':
      return { title: `“${fileName}” is longer than this server accepts.`, detail: server };
    case 'AT_CAPACITY':
      return { title: `The server is at capacity: its queue is full. ${retryIn(err, 'Try again shortly.')}`, detail: server };
    case 'RATE_LIMITED':
      return { title: tooManyRequests(err), detail: server };
    case 'QUOTA_EXCEEDED':
      return { title: 'This API key has used all its audio hours for today.', detail: server };
    case 'INSUFFICIENT_STORAGE':
      return { title: `The server's disk is full, so it could not take “${fileName}”. ${retryIn(err, 'Try again later.')} If it goes on, tell whoever runs the server.`, detail: server };
    case 'PROCESS_ISOLATION_DISABLED':
      return { title: 'Process isolation is turned off on this server (ENABLE_PROCESS_ISOLATED=false). Choose “In-process” and upload again.', detail: server };
    case 'ENGINE_NOT_READY':
    case 'SHUTTING_DOWN':
      return { title: 'The server is not ready (starting or stopping). Try again in a moment.', detail: server };
    case 'NETWORK':
      return { title: 'The connection closed before the server answered (the file may be larger than the server accepts, or the server stopped).' };
    case 'ABORTED':
      return { title: 'Upload cancelled.' };
    default:
      return { title: `The upload of “${fileName}” failed: ${server}`, detail: `${err.code}${err.status ? `, HTTP ${err.status}` : ''}` };
  }
}

function notAudioTitle(fileName: string): string {
  return `“${fileName}” is not audio hark can read. Choose a ${FORMATS} file.`;
}

/** Why the page keeps a file back before any upload: it is empty, or plainly not sound. */
export type LocalRefusal = { reason: 'empty' } | { reason: 'not-media'; type: string };

export function explainLocalRefusal(refusal: LocalRefusal, fileName: string): Explained {
  if (refusal.reason === 'empty') return { title: `“${fileName}” is empty (0 bytes): there is no audio in it.`, detail: 'It was not uploaded.' };
  return { title: notAudioTitle(fileName), detail: `It was not uploaded${refusal.type === '' ? '' : ` (its type is ${refusal.type})`}.` };
}

/** What the microphone panel says about a refused or ended live stream, and whether Try again can help. */
export interface StreamFailure extends Explained {
  /** `retry`: Try again may work; `key`: only another key can; none: neither helps. */
  fix?: 'retry' | 'key' | undefined;
}

/**
 * A live stream's refusal: from the ticket route, from the upgrade (asked again over plain HTTP,
 * see api.streamRefusal), or an error message on the open socket (status 0). The upgrade is
 * refused with 503 AT_CAPACITY only past MAX_STREAMS; on an open socket AT_CAPACITY means
 * every engine is busy.
 */
export function explainStreamError(err: ApiError): StreamFailure {
  const refused = keyRefusal(err, 'transcribe live');
  if (refused !== undefined) return { ...refused, fix: err.code === 'FORBIDDEN' ? 'key' : undefined };
  const server = `${err.message} (${err.code})`;
  switch (err.code) {
    case 'AT_CAPACITY':
      return err.status === 503
        ? { title: `The server is busy: all its live streams are in use. ${retryIn(err, 'Try again shortly.')}`, detail: server, fix: 'retry' }
        : { title: 'The server is busy: every engine is transcribing. Try again shortly.', detail: server, fix: 'retry' };
    case 'RATE_LIMITED': {
      const limit = err.details?.['limit'];
      const who = apiKey() === null ? 'This computer' : 'This API key';
      return typeof limit === 'number'
        ? { title: `${who} already has as many live streams as it may (${limit} at once). End one, or try again shortly.`, detail: server, fix: 'retry' }
        : { title: tooManyRequests(err), detail: server, fix: 'retry' };
    }
    case 'QUOTA_EXCEEDED':
      return { title: 'This API key has used all its audio hours for today.', detail: server, fix: undefined };
    case 'ENGINE_NOT_READY':
    case 'SHUTTING_DOWN':
      return { title: 'The server is not ready (starting or stopping). Try again in a moment.', detail: server, fix: 'retry' };
    case 'NETWORK':
      return { title: 'The server cannot be reached.', detail: 'Check the connection, then try again.', fix: 'retry' };
    default:
      // An HTTP answer came before the stream began; a message (status 0) on the open stream.
      return {
        title: err.status === 0 ? 'Live transcription stopped' : 'Live transcription could not start',
        detail: server,
        fix: err.status >= 500 || err.code === 'INTERNAL_ERROR' ? 'retry' : undefined,
      };
  }
}
