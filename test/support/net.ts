/** A TCP port free on 127.0.0.1 right now (for servers that must be told their port): the child-server harness's. */
export { freePort } from '../../src/loadtest/child-server.js';
