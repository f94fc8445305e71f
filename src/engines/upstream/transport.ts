import type { ClientOptions } from 'openai';
import type { Dispatcher } from 'undici';
import { readBodyLimited } from '../../net/index.js';

type Fetch = NonNullable<ClientOptions['fetch']>;

/** The `fetch` handed to the openai client, and the error bodies it kept. */
export interface UpstreamTransport {
  fetch: Fetch;
  /**
   * The raw body of a failed answer, by the `Headers` the client puts on its
   * APIError. The client keeps only an `error` key of the body; FastAPI servers
   * (speaches) say what is wrong in `detail`, which would otherwise be lost.
   */
  errorBody(headers: Headers | undefined): string | undefined;
}

const MAX_ERROR_BODY = 4096;
/**
 * Largest answer read: a 30 s utterance's verbose_json is a few KB; anything
 * near this is a broken or hostile server, refused before it fills memory.
 */
export const MAX_UPSTREAM_ANSWER_BYTES = 8 * 1024 * 1024;

/**
 * A fetch whose time limit covers the whole answer. The client's own timeout
 * stops when the headers arrive, so a server (or proxy) that sends headers and
 * then stalls would hold a decode slot forever; here the body is read under
 * the same limit, and the client gets it back as a complete Response.
 * A limit hit surfaces as the client's APIConnectionTimeoutError (it reads
 * "TimeoutError" as a timeout) and is retried like one.
 */
export function deadlineTransport(timeoutMs: number, dispatcher?: Dispatcher): UpstreamTransport {
  const bodies = new WeakMap<Headers, string>();
  const fetchWithDeadline: Fetch = async (input, init) => {
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(new DOMException(`no complete answer within ${timeoutMs} ms`, 'TimeoutError')), timeoutMs);
    try {
      const signal = init?.signal ? AbortSignal.any([init.signal, deadline.signal]) : deadline.signal;
      // `dispatcher` is Node's fetch's (undici) own option: where and how it connects.
      const res = await fetch(input, { ...init, signal, dispatcher } as RequestInit);
      const body = await readBodyLimited(res, MAX_UPSTREAM_ANSWER_BYTES);
      const copy = new Response(res.status === 204 || res.status === 304 ? null : body, {
        status: res.status,
        statusText: res.statusText,
        headers: res.headers,
      });
      if (!res.ok) bodies.set(copy.headers, new TextDecoder().decode(body.subarray(0, MAX_ERROR_BODY)));
      return copy;
    } finally {
      clearTimeout(timer);
    }
  };
  return { fetch: fetchWithDeadline, errorBody: (headers) => (headers === undefined ? undefined : bodies.get(headers)) };
}
