/*
 * The API key of this tab (AUTH_MODE=api_key). Kept in sessionStorage: it survives a reload
 * but not the tab, and is never written to localStorage. Sent as a Bearer token; for what the
 * browser fetches by itself (the job log's EventSource, the audio player, download links), the
 * server trades it for an HttpOnly session cookie that only authorises GETs (openSession).
 */

const STORAGE_KEY = 'hark.apiKey';

/** Why the page asks for a key: none stored, the stored one refused, or the user wants another. */
export type KeyAsk = 'missing' | 'refused' | 'change';

const listeners = new Set<(why: KeyAsk) => void>();
// An ask made before the prompt listens (a 401 during the first render) waits for it.
let unheard: KeyAsk | undefined;

export function apiKey(): string | null {
  try {
    return sessionStorage.getItem(STORAGE_KEY);
  } catch {
    // storage disabled: the page works without a key
    return null;
  }
}

/** Headers that carry the key, if there is one. */
export function authHeaders(key = apiKey()): Record<string, string> {
  return key === null ? {} : { authorization: `Bearer ${key}` };
}

function ask(why: KeyAsk): void {
  if (listeners.size === 0) unheard = why;
  for (const l of listeners) l(why);
}

/** The server answered 401: the key is missing, wrong or revoked; ask the user for one. */
export function keyRefused(): void {
  ask(apiKey() === null ? 'missing' : 'refused');
}

/** The user asked to change or forget the key (the header's "API key" button). */
export function askForKey(): void {
  ask('change');
}

export function onKeyAsked(listener: (why: KeyAsk) => void): () => void {
  listeners.add(listener);
  if (unheard !== undefined) listener(unheard);
  unheard = undefined;
  return () => listeners.delete(listener);
}

/** What the server's refusal of a key means to the user, by status. */
function refusal(status: number, retryAfter: string | null): string {
  switch (status) {
    case 401:
      return 'The server refused this key: it is wrong or has been revoked.';
    case 429:
      return `Too many refused keys from this address; try again in ${retryAfter ?? '60'} s.`;
    default:
      return `The server answered ${status}; try again later.`;
  }
}

/**
 * Tries a key the user typed before keeping it, so a wrong one is reported in the prompt
 * instead of after a reload; accepted, it is stored and the session cookie is set (see
 * openSession). Resolves to why it was not accepted, or undefined.
 */
export async function tryApiKey(key: string): Promise<string | undefined> {
  let res: Response;
  try {
    res = await fetch('/api/v1/session', { method: 'POST', headers: authHeaders(key) });
  } catch {
    return 'The server cannot be reached; try again.';
  }
  if (!res.ok) return refusal(res.status, res.headers.get('retry-after'));
  sessionStorage.setItem(STORAGE_KEY, key);
  return undefined;
}

/**
 * Forgets this tab's key: the server ends every session cookie made for it (this browser's
 * and any copy, see DELETE /api/v1/session) and the tab drops the key. A 401 means the key
 * no longer works anyway, so it is dropped too. Resolves to why it was kept, or undefined.
 */
export async function forgetApiKey(): Promise<string | undefined> {
  let res: Response;
  try {
    res = await fetch('/api/v1/session', { method: 'DELETE', headers: authHeaders() });
  } catch {
    return 'The server cannot be reached, so the key was kept; try again.';
  }
  if (!res.ok && res.status !== 401) return refusal(res.status, res.headers.get('retry-after'));
  sessionStorage.removeItem(STORAGE_KEY);
  return undefined;
}

/**
 * Asks the server for the session cookie that stands for this tab's key on GETs. Resolves
 * either way (without keys the server answers 204 and sets nothing); a 401 asks for a key.
 */
export async function openSession(): Promise<void> {
  if (apiKey() === null) return;
  try {
    const res = await fetch('/api/v1/session', { method: 'POST', headers: authHeaders() });
    if (res.status === 401) keyRefused();
  } catch {
    // offline or server down: the views say so themselves
  }
}
