import { randomUUID } from 'node:crypto';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';

/** Which server process a folder under DATA_DIR/tmp belongs to. */
export interface ScratchOwner {
  host: string;
  pid: number;
  /** The process's start time (clock ticks since boot): tells a reused pid apart. */
  startTime: number;
}

function folderName(o: ScratchOwner): string {
  return `${o.host}-${o.pid}-${o.startTime}`;
}

function parseFolderName(name: string): ScratchOwner | undefined {
  const m = /^(.+)-(\d+)-(\d+)$/.exec(name);
  return m === null ? undefined : { host: m[1]!, pid: Number(m[2]), startTime: Number(m[3]) };
}

/**
 * This process's scratch folder, DATA_DIR/tmp/<host>-<pid>-<start time>, so
 * instances sharing one DATA_DIR (an api and a worker on one host, pods on one
 * volume) never touch each other's uploads in flight. At start it removes what
 * crashed processes left: folders of this host whose process is gone (or whose
 * pid now belongs to another process), and loose files of versions before
 * these folders. Folders of other hosts are theirs to clean when they restart.
 */
export async function processScratchDir(root: string, me: ScratchOwner, startTimeOf: (pid: number) => Promise<number | undefined>): Promise<ScratchDir> {
  await mkdir(root, { recursive: true });
  for (const entry of await readdir(root, { withFileTypes: true })) {
    const owner = entry.isDirectory() ? parseFolderName(entry.name) : undefined;
    const stale = owner === undefined ? !entry.isDirectory() : owner.host === me.host && (await startTimeOf(owner.pid)) !== owner.startTime;
    if (stale) await rm(join(root, entry.name), { recursive: true, force: true });
  }
  const temp = new ScratchDir(join(root, folderName(me)));
  await temp.init();
  return temp;
}

/**
 * Scratch space: uploads in flight and decoded PCM (the server's is
 * processScratchDir). Names are generated here, never taken from the client (a
 * file named `../../x; rm -rf /` stays a label). `init` empties it.
 */
export class ScratchDir {
  constructor(readonly path: string) {}

  async init(): Promise<void> {
    await mkdir(this.path, { recursive: true });
    await Promise.all((await readdir(this.path)).map((f) => rm(join(this.path, f), { force: true, recursive: true })));
  }

  /** A fresh path; `suffix` must be hark's own (e.g. `.pcm`). */
  file(suffix: string): string {
    return join(this.path, `${randomUUID()}${suffix}`);
  }

  /** Removes files, ignoring ones already gone. */
  async remove(...paths: (string | undefined)[]): Promise<void> {
    await Promise.all(paths.filter((p): p is string => p !== undefined).map((p) => rm(p, { force: true })));
  }

  async list(): Promise<string[]> {
    return readdir(this.path);
  }
}
