import { useEffect, useState } from 'preact/hooks';

/**
 * One polite live region for the whole page: views call `announce` for events a
 * screen-reader user would otherwise miss (an upload finished, a job ended).
 */
let listener: ((message: string) => void) | undefined;

export function announce(message: string): void {
  listener?.(message);
}

export function LiveRegion() {
  const [message, setMessage] = useState('');
  useEffect(() => {
    listener = (m) => {
      // Cleared first so the same words twice are read twice.
      setMessage('');
      window.setTimeout(() => setMessage(m), 50);
    };
    return () => (listener = undefined);
  }, []);
  return (
    <div class="visually-hidden" role="status" aria-live="polite" aria-atomic="true">
      {message}
    </div>
  );
}
