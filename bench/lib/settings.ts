/**
 * Settings every bench server runs with unless a figure says otherwise: the
 * engine inside the server and no worker pool, so the server's RSS and CPU are
 * the decoder's too. Servers built before the pool existed ignore these names.
 */
export const IN_PROCESS_ONLY: Readonly<Record<string, string>> = {
  ENABLE_PROCESS_ISOLATED: 'false',
  DEFAULT_ISOLATION: 'in-process',
};
