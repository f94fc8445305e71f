import { randomUUID } from 'node:crypto';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * hark's scratch space under DATA_DIR: uploads in flight and decoded PCM.
 * Names are generated here, never taken from the client (a file named
 * `../../x; rm -rf /` stays a label). Anything left from a crashed run is
 * removed at start.
 */
export class TempDir {
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
