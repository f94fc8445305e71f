/*
 * The API key of this tab (AUTH_MODE=api_key). Kept in sessionStorage: it survives a reload
 * but not the tab, and is never written to localStorage. Sent as a Bearer token; for what the
 * browser fetches by itself (the job log's EventSource, the audio player, download links), the
 * server trades it for an HttpOnly session cookie that only authorises GETs (openSession).
 */

const STORAGE_KEY = 'hark.apiKey';
const listeners = new Set<() => void>();

export function apiKey(): string | null {
  try {
    return sessionStorage.getItem(STORAGE_KEY);
  } catch {
    // storage disabled: the page works without a key
    return null;
  }
}

export function setApiKey(key: string): void {
  sessionStorage.setItem(STORAGE_KEY, key);
}

/** Headers that carry the key, if there is one. */
export function authHeaders(): Record<string, string> {
  const key = apiKey();
  return key === null ? {} : { authorization: `Bearer ${key}` };
}

/** The server answered 401: the key is missing, wrong or revoked; ask the user for one. */
export function keyRefused(): void {
  for (const l of listeners) l();
}

export function onKeyRefused(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
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
