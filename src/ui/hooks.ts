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
 * keeps the last answer. `ms` undefined stops polling (a finished job, say).
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
      try {
        const value = await loadRef.current();
        if (stopped) return;
        setData(value);
        setError(undefined);
      } catch (err) {
        if (stopped) return;
        setError(err instanceof ApiError ? err : new ApiError(0, 'CLIENT', err instanceof Error ? err.message : String(err)));
      }
      if (!stopped && ms !== undefined) timer = window.setTimeout(() => void run(), ms);
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
