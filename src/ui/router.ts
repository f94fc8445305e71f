import { useEffect, useMemo, useState } from 'preact/hooks';

/** The page's views; the URL hash names them, so the server needs no fallback routes. */
export type Route =
  | { name: 'upload' }
  | { name: 'history' }
  | { name: 'job'; id: string }
  | { name: 'system' }
  | { name: 'models' }
  | { name: 'not-found'; hash: string };

/**
 * The hash's path and its query: `#/jobs?status=failed&q=budget` is History with its
 * filter and search, which a view keeps in the URL so Back and a bookmark restore them.
 */
function splitHash(hash: string): { path: string; query: string } {
  const [path = '', query = ''] = hash.replace(/^#/, '').split(/\?(.*)/s);
  return { path: path || '/', query };
}

export function parseHash(hash: string): Route {
  const { path } = splitHash(hash);
  if (path === '/' || path === '/upload') return { name: 'upload' };
  if (path === '/jobs') return { name: 'history' };
  if (path === '/system') return { name: 'system' };
  if (path === '/models') return { name: 'models' };
  const job = /^\/jobs\/([\w-]{1,64})$/.exec(path);
  if (job?.[1] !== undefined) return { name: 'job', id: job[1] };
  return { name: 'not-found', hash: path };
}

export const href = {
  upload: '#/',
  history: '#/jobs',
  system: '#/system',
  models: '#/models',
  job: (id: string) => `#/jobs/${encodeURIComponent(id)}`,
};

/**
 * Puts a view's state in the hash's query, in place: no new history entry (Back leaves the
 * view, it does not undo each keystroke) and no hashchange (the view already shows it).
 */
export function replaceHashParams(params: URLSearchParams): void {
  const query = params.toString();
  const hash = `#${splitHash(location.hash).path}${query === '' ? '' : `?${query}`}`;
  if (hash !== location.hash) history.replaceState(history.state, '', hash);
}

/**
 * The hash's query, read again at each navigation (Back, a link to the same view), and a new
 * object each time even when the text is the same: the URL may have been replaced meanwhile
 * (replaceHashParams), so a view resets its state on every one. Not after replaceHashParams.
 */
export function useHashParams(): URLSearchParams {
  const [read, setRead] = useState(() => ({ query: splitHash(location.hash).query }));
  useEffect(() => {
    const onChange = () => setRead({ query: splitHash(location.hash).query });
    addEventListener('hashchange', onChange);
    return () => removeEventListener('hashchange', onChange);
  }, []);
  return useMemo(() => new URLSearchParams(read.query), [read]);
}

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
