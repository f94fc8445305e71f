import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { readStartTime } from './proc.js';
import { processScratchDir } from './scratch.js';

describe('processScratchDir', () => {
  const root = join(mkdtempSync(join(tmpdir(), 'hark-temp-')), 'tmp');
  afterEach(async () => rm(root, { recursive: true, force: true }));
  afterAll(async () => rm(dirname(root), { recursive: true, force: true }));

  async function folderWithFile(name: string): Promise<void> {
    await mkdir(join(root, name), { recursive: true });
    await writeFile(join(root, name, 'upload.bin'), 'x');
  }

  it('gives each server process its own folder, and clears only what dead processes of this host left', async () => {
    // Another server on this host, alive: its uploads in flight must survive our start.
    const other = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      const otherStart = (await readStartTime(other.pid!))!;
      const me = { host: 'h1', pid: process.pid, startTime: (await readStartTime(process.pid))! };
      await folderWithFile(`h1-${other.pid}-${otherStart}`);
      // The same pid, but another process now (a different start time): its old owner is gone.
      await folderWithFile(`h1-${other.pid}-${otherStart - 1}`);
      // A pid that no process has.
      await folderWithFile('h1-4194305-123');
      // Another host's server on a shared volume: not ours to judge.
      await folderWithFile('h2-1234-5678');
      // A loose file from a version before these folders.
      await mkdir(root, { recursive: true });
      await writeFile(join(root, 'old-upload.wav'), 'x');
      // What this same process left before (a folder that is ours): emptied.
      await folderWithFile(`h1-${me.pid}-${me.startTime}`);

      const temp = await processScratchDir(root, me, readStartTime);
      expect(temp.path).toBe(join(root, `h1-${me.pid}-${me.startTime}`));
      expect(await temp.list()).toEqual([]);
      expect((await readdir(root)).sort()).toEqual([`h1-${other.pid}-${otherStart}`, `h1-${me.pid}-${me.startTime}`, 'h2-1234-5678'].sort());
      expect(await readdir(join(root, `h1-${other.pid}-${otherStart}`))).toEqual(['upload.bin']);
    } finally {
      other.kill('SIGKILL');
    }
  });
});
