import type { ApiError } from './api.js';
import { bytes } from './format.js';

/** What a person should read for an API error: a sentence to act on, then the server's own words. */
export interface Explained {
  title: string;
  detail?: string | undefined;
}

/** Turns a failed upload's error code into advice; the server's message stays visible under it. */
export function explainUploadError(err: ApiError, fileName: string): Explained {
  const server = err.message;
  switch (err.code) {
    case 'FILE_TOO_LARGE': {
      const max = err.details?.['max_file_size_bytes'];
      return { title: `“${fileName}” is too large${typeof max === 'number' ? `: this server accepts files up to ${bytes(max)}` : ''}.`, detail: server };
    }
    case 'INVALID_AUDIO':
      return { title: `“${fileName}” is not audio hark can read. Choose a WAV, MP3, FLAC, Ogg/Opus, M4A or WebM file.`, detail: server };
    case 'EMPTY_FILE':
    case 'EMPTY_AUDIO':
      return { title: `“${fileName}” holds no audio.`, detail: server };
    case 'AUDIO_TOO_LONG':
      return { title: `“${fileName}” is longer than this server accepts.`, detail: server };
    case 'AT_CAPACITY':
      return {
        title: `The server is at capacity: its queue is full.${err.retryAfterSeconds === undefined ? ' Try again shortly.' : ` Try again in ${err.retryAfterSeconds} seconds.`}`,
        detail: server,
      };
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
