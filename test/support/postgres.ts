import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './net.js';

/** Debian's PostgreSQL binaries (package postgresql), newest version installed. */
function binDir(): string {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) throw new Error('PostgreSQL is not installed: run `make test` (scripts/setup.sh --test installs it)');
  const versions = readdirSync(root).sort((a, b) => Number(b) - Number(a));
  return join(root, versions[0]!, 'bin');
}


export interface TestPostgres {
  url: string;
  /** A fresh, empty database on the same server. */
  createDatabase(name: string): string;
  stop(): Promise<void>;
}

/**
 * A real PostgreSQL server for tests: initdb in a temporary data directory,
 * listening on 127.0.0.1 and a free port; removed on stop. As root it runs as
 * the `postgres` user (PostgreSQL refuses root).
 */
export async function startPostgres(): Promise<TestPostgres> {
  const bin = binDir();
  const dir = mkdtempSync(join(tmpdir(), 'hark-pg-'));
  const data = join(dir, 'data');
  const asRoot = process.getuid?.() === 0;
  const uid = asRoot ? Number(execFileSync('id', ['-u', 'postgres']).toString().trim()) : undefined;
  const gid = asRoot ? Number(execFileSync('id', ['-g', 'postgres']).toString().trim()) : undefined;
  if (uid !== undefined && gid !== undefined) chownSync(dir, uid, gid);
  const run = (cmd: string, args: string[]) => execFileSync(join(bin, cmd), args, { uid, gid, stdio: 'pipe', cwd: dir });
  run('initdb', ['-D', data, '-U', 'hark', '--auth=trust', '-E', 'UTF8', '--locale=C.UTF-8']);
  const port = await freePort();
  const child: ChildProcess = spawn(join(bin, 'postgres'), ['-D', data, '-h', '127.0.0.1', '-p', String(port), '-k', dir, '-c', 'fsync=off', '-c', 'max_connections=200'], {
    uid,
    gid,
    stdio: 'ignore',
    cwd: dir,
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const psql = (sql: string) =>
    execFileSync(join(bin, 'psql'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'hark', '-d', 'postgres', '-v', 'ON_ERROR_STOP=1', '-c', sql], { stdio: 'pipe' });
  for (let i = 0; ; i++) {
    try {
      psql('SELECT 1');
      break;
    } catch (err) {
      if (i > 100) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const urlFor = (db: string) => `postgres://hark@127.0.0.1:${port}/${db}`;
  psql('CREATE DATABASE hark');
  return {
    url: urlFor('hark'),
    createDatabase(name) {
      psql(`CREATE DATABASE "${name}"`);
      return urlFor(name);
    },
    async stop() {
      child.kill('SIGINT'); // fast shutdown
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
