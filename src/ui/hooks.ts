import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from './api.js';

export interface Polled<T> {
  data: T | undefined;
  error: ApiError | undefined;
  /** Fetches now, outside the timer (after an action, say). */
  refresh(): void;
}

/**
 * Calls `load` now and every `ms` while the view is shown, one call at a time, and
 * keeps the last answer. `ms` undefined stops polling (a finished job, say). An
 * answer with Retry-After (429 RATE_LIMITED with API keys on, 503 AT_CAPACITY)
 * holds the next call until then: a few open tabs must not keep a key limited.
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
    const run = async () => {
      let wait = ms;
      try {
        const value = await loadRef.current();
        if (stopped) return;
        setData(value);
        setError(undefined);
      } catch (err) {
        if (stopped) return;
        const apiErr = err instanceof ApiError ? err : new ApiError(0, 'CLIENT', err instanceof Error ? err.message : String(err));
        setError(apiErr);
        if (wait !== undefined && apiErr.retryAfterSeconds !== undefined) wait = Math.max(wait, apiErr.retryAfterSeconds * 1000);
      }
      if (!stopped && wait !== undefined) timer = window.setTimeout(() => void run(), wait);
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
