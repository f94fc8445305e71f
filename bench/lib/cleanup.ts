import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Everything a bench leaves running or on disk is registered here, so that a
 * normal end, an error or Ctrl-C all leave no hark servers and no temp files behind.
 */
const children = new Set<ChildProcess>();
const tempDirs = new Set<string>();
let installed = false;

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    // Children lead their own process group (detached), so ffmpeg grandchildren go too.
    process.kill(-child.pid, signal);
  } catch (err) {
    // ESRCH: the whole group has already ended, which is what we wanted.
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

function cleanupSync(): void {
  for (const child of children) killGroup(child, 'SIGKILL');
  children.clear();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

/** Kills registered children and removes temp dirs on exit, SIGINT, SIGTERM and SIGHUP. */
export function installCleanup(): void {
  if (installed) return;
  installed = true;
  process.on('exit', cleanupSync);
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]] as const) {
    process.on(signal, () => {
      process.stderr.write(`\nbench: ${signal}: stopping child processes and removing temp files\n`);
      process.exit(code);
    });
  }
}

/** A fresh temp dir, removed when the bench ends however it ends. */
export function makeTempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

export function removeTempDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
}

/** Registers a child leading its own process group: killed (with its group) when the bench ends. */
export function trackChild(child: ChildProcess): void {
  installCleanup();
  children.add(child);
  child.on('exit', () => children.delete(child));
}

/** Spawns a child in its own process group, killed (with its group) when the bench ends. */
export function spawnTracked(command: string, args: readonly string[], options: SpawnOptions): ChildProcess {
  const child = spawn(command, args, { ...options, detached: true });
  trackChild(child);
  return child;
}
