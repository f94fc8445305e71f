import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from './api.js';

export interface Polled<T> {
  data: T | undefined;
  error: ApiError | undefined;
  /** Fetches now, outside the timer (after an action, say). */
  refresh(): void;
}

/** The longest a refused poll waits before asking again (unless Retry-After says longer). */
export const POLL_BACKOFF_MAX_MS = 60_000;

/** What a poll does next: wait this long (undefined: stop), having been refused this many times in a row. */
export interface PollStep {
  wait: number | undefined;
  refusals: number;
}

/**
 * Every poller's rule. A success polls again after `ms` and forgets earlier refusals. A 404
 * stops: what is polled is gone (a deleted job) or not served here (/debug/pool), and asking
 * again cannot bring it back. 401, 403 and 429 back off, twice as long each time in a row up to
 * POLL_BACKOFF_MAX_MS, so a tab left open does not spend its key's rate limit on refusals.
 * Retry-After, on any answer, holds the next call at least that long.
 */
export function nextPoll(ms: number, refusals: number, error?: Pick<ApiError, 'status' | 'retryAfterSeconds'>): PollStep {
  if (error === undefined) return { wait: ms, refusals: 0 };
  if (error.status === 404) return { wait: undefined, refusals };
  const held = (error.retryAfterSeconds ?? 0) * 1000;
  if (error.status === 401 || error.status === 403 || error.status === 429) {
    const n = refusals + 1;
    return { wait: Math.max(ms, Math.min(POLL_BACKOFF_MAX_MS, ms * 2 ** n), held), refusals: n };
  }
  return { wait: Math.max(ms, held), refusals };
}

/**
 * Calls `load` now and every `ms` while the view is shown, one call at a time, and
 * keeps the last answer. `ms` undefined stops polling (a finished job, say). After
 * an error, `nextPoll` says when to ask again, if ever; `refresh` asks at once.
 */
export function usePoll<T>(load: () => Promise<T>, ms: number | undefined, deps: readonly unknown[] = []): Polled<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<ApiError | undefined>(undefined);
  const [tick, setTick] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;

  useEffect(() => {
    let stopped = false;
    let timer: number | undefined;
    let refusals = 0;
    const run = async () => {
      let failure: ApiError | undefined;
      try {
        const value = await loadRef.current();
        if (stopped) return;
        setData(value);
        setError(undefined);
      } catch (err) {
        if (stopped) return;
        failure = err instanceof ApiError ? err : new ApiError(0, 'CLIENT', err instanceof Error ? err.message : String(err));
        setError(failure);
      }
      if (stopped || ms === undefined) return;
      const next = nextPoll(ms, refusals, failure);
      refusals = next.refusals;
      if (next.wait !== undefined) timer = window.setTimeout(() => void run(), next.wait);
    };
    void run();
    return () => {
      stopped = true;
      window.clearTimeout(timer);
    };
  }, [ms, tick, ...deps]); // callers list what `load` depends on

  return { data, error, refresh: () => setTick((t) => t + 1) };
}

/** Re-renders every `ms` (for ages such as "heartbeat 3 s ago"). */
export function useNow(ms = 1000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = window.setInterval(() => setNow(Date.now()), ms);
    return () => window.clearInterval(t);
  }, [ms]);
  return now;
}
