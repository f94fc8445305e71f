import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** `hark keys ...` from the sources (tsx), on a server's DATA_DIR, as an operator runs it. */
export function keysCli(args: string[], dataDir: string, env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'keys', ...args], {
      cwd: ROOT,
      env: { ...process.env, DATA_DIR: dataDir, ENV_FILE: join(dataDir, 'no.env'), DATABASE_URL: '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A new key with these scopes (comma-separated), made with `hark keys create`. */
export async function createKeyWithCli(dataDir: string, name: string, scopes: string): Promise<string> {
  const r = await keysCli(['create', '--name', name, '--scopes', scopes], dataDir);
  if (r.code !== 0) throw new Error(`hark keys create failed: ${r.stderr}`);
  return r.stdout.trim();
}
