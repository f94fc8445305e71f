import { join } from 'node:path';
import { hark, type CliRun } from './cli.js';

/** `hark keys ...` as an operator runs it, on a server's DATA_DIR (and its SQLite store). */
export function keysCli(args: string[], dataDir: string, env: Record<string, string> = {}): Promise<CliRun> {
  return hark(['keys', ...args], { DATA_DIR: dataDir, ENV_FILE: join(dataDir, 'no.env'), DATABASE_URL: '', ...env });
}

/** A new key with these scopes (comma-separated), made with `hark keys create`. */
export async function createKeyWithCli(dataDir: string, name: string, scopes: string): Promise<string> {
  const r = await keysCli(['create', '--name', name, '--scopes', scopes], dataDir);
  if (r.code !== 0) throw new Error(`hark keys create failed: ${r.stderr}`);
  return r.stdout.trim();
}
