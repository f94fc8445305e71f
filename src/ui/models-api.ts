/**
 * The page's calls to `/v1/models`: the list with each model's state, one model
 * (polled for a download's progress), and an admin's pull and delete; and what a
 * person should read when one of them is refused.
 */
import { request, type ApiError } from './api.js';
import { apiKey } from './auth.js';
import { bytes } from './format.js';
import type { Explained } from './messages.js';

/*
 * The shape of src/http/routes/models.ts's `modelSchema`, written out here because that
 * module does not export it; once it does, this becomes `z.infer<typeof modelSchema>`.
 */

/** See ModelState in src/models/registry.ts. */
export type ModelState = 'not_downloaded' | 'downloading' | 'available' | 'loaded' | 'failed';

/** One process holding a model in memory: the server itself (in-process) or a worker. */
export interface ModelPlace {
  isolation: 'in-process' | 'process';
  pid: number;
  slot?: number | undefined;
  bytes: number;
  in_use: boolean;
}

/** An entry of GET /v1/models. OpenAI's names (`whisper-1`...) carry `alias_of` and nothing of hark's. */
export interface ModelView {
  id: string;
  object: 'model';
  created: number;
  owned_by: string;
  engine?: string | undefined;
  alias_of?: string | undefined;
  state?: ModelState | undefined;
  bytes?: number | null | undefined;
  default?: boolean | undefined;
  loaded?: ModelPlace[] | undefined;
  download?: { received_bytes: number; total_bytes: number; bytes_per_second: number; started_at: string } | undefined;
  error?: { code: string; message: string } | undefined;
}

const modelPath = (id: string) => `/v1/models/${encodeURIComponent(id)}`;

export const modelsApi = {
  list: async () => (await request<{ object: 'list'; data: ModelView[] }>('/v1/models')).data,
  get: (id: string) => request<ModelView>(modelPath(id)),
  /** Starts a download (202) or finds the model already here (200); the view answered is its state now. */
  pull: (id: string) => request<ModelView>(modelPath(id), { method: 'POST' }),
  remove: (id: string) => request<{ id: string; object: 'model'; deleted: true }>(modelPath(id), { method: 'DELETE' }),
};

/** A model action the page offers; both need a key with the `admin` scope. */
export type ModelAction = 'download' | 'delete';

/** 403 on an action: the key lacks `admin`, and no retry with it can succeed. */
export function needsAdminKey(err: ApiError): boolean {
  return err.status === 403;
}

/** What a refused download or delete of `id` means, in words; the server's own stays under it. */
export function explainModelError(err: ApiError, action: ModelAction, id: string): Explained {
  const server = `${err.message} (${err.code}${err.status ? `, HTTP ${err.status}` : ''})`;
  const verb = action === 'download' ? 'Downloading' : 'Deleting';
  if (err.status === 401) {
    return apiKey() === null
      ? { title: 'This server needs an API key. Enter one with the “admin” scope to continue.', detail: err.message }
      : { title: 'The server refused this API key: it is wrong or has been revoked. Enter a valid key.', detail: err.message };
  }
  if (needsAdminKey(err)) {
    return {
      title: `${verb} a model needs an admin key: this API key lacks the “admin” scope.`,
      detail: 'Use a key that has it (choose “API key” at the top of the page), or ask the server’s operator.',
    };
  }
  switch (err.code) {
    case 'MODEL_IN_USE':
      return err.details?.['reason'] === 'downloading'
        ? { title: `${id} is being downloaded: delete it once the download has ended.`, detail: server }
        : { title: `${id} is the whisper engine’s default model, so it cannot be deleted.`, detail: server };
    case 'MODEL_NOT_IN_CATALOGUE':
      return { title: `${id} is not in this server’s catalogue, so it cannot be downloaded.`, detail: server };
    case 'INSUFFICIENT_STORAGE': {
      const need = (key: string) => bytes(typeof err.details?.[key] === 'number' ? err.details[key] : undefined);
      return {
        title: `${id} does not fit on the server’s disk: it needs ${need('needed_bytes')} and ${need('available_bytes')} is free. Delete a model you no longer use, or ask the server’s operator for room, then download it again.`,
        detail: server,
      };
    }
    case 'NOT_FOUND':
      return { title: action === 'delete' ? `${id} is not downloaded to this server (it may have just been deleted).` : 'This server does not manage models.', detail: server };
    case 'MODEL_NOT_FOUND':
      return { title: `This server knows no model ${id}.`, detail: server };
    case 'RATE_LIMITED':
      return {
        title: `Too many requests from this ${apiKey() === null ? 'computer' : 'API key'}. Try again in ${err.retryAfterSeconds ?? 60} seconds.`,
        detail: server,
      };
    case 'NETWORK':
      return { title: 'The server cannot be reached.', detail: 'Check the connection, then try again.' };
    default:
      return { title: `${verb} ${id} failed: ${err.message}`, detail: server };
  }
}
