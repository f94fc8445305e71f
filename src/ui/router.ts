import { useEffect, useState } from 'preact/hooks';

/** The page's views; the URL hash names them, so the server needs no fallback routes. */
export type Route =
  | { name: 'upload' }
  | { name: 'history' }
  | { name: 'job'; id: string }
  | { name: 'system' }
  | { name: 'not-found'; hash: string };

export function parseHash(hash: string): Route {
  const path = hash.replace(/^#/, '') || '/';
  if (path === '/' || path === '/upload') return { name: 'upload' };
  if (path === '/jobs') return { name: 'history' };
  if (path === '/system') return { name: 'system' };
  const job = /^\/jobs\/([\w-]{1,64})$/.exec(path);
  if (job?.[1] !== undefined) return { name: 'job', id: job[1] };
  return { name: 'not-found', hash: path };
}

export const href = {
  upload: '#/',
  history: '#/jobs',
  system: '#/system',
  job: (id: string) => `#/jobs/${encodeURIComponent(id)}`,
};

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseHash(location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseHash(location.hash));
    addEventListener('hashchange', onChange);
    // The hash may have changed between the first render and this listener: read it again.
    onChange();
    return () => removeEventListener('hashchange', onChange);
  }, []);
  return route;
}
