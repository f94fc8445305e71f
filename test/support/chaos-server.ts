import { startChildServer, type ChildServer } from '../../src/loadtest/child-server.js';

/** One `node dist/main.js` on a port and DATA_DIR chosen by the caller (a restart reuses both). */
export type HarkProcess = ChildServer;

/**
 * Starts hark as users run it, like child-server.ts's spawnServer, but on a
 * given port and DATA_DIR: the chaos test restarts the server where its clients
 * already point, on the same database (which the caller removes). Resolves once
 * /readyz answers 200.
 */
export function spawnHark(port: number, dataDir: string, env: Record<string, string>): Promise<HarkProcess> {
  return startChildServer({ port, dataDir, env, maxLogLines: Infinity });
}
