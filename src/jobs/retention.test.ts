import { mkdir, readdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { newJob, tempSqliteStore, type TempSqliteStore } from '../../test/support/store-suite/index.js';
import { createLogger } from '../logger.js';
import type { SqliteStore } from '../store/index.js';
import { Retention } from './retention.js';

describe('Retention.sweepOrphanFolders', () => {
  let dir: string;
  let store: SqliteStore;
  let temp: TempSqliteStore;
  beforeEach(async () => {
    temp = await tempSqliteStore('hark-retention-');
    ({ store, dir } = temp);
  });
  afterEach(() => temp.remove());

  async function folder(name: string, ageMs: number): Promise<void> {
    const path = join(dir, 'jobs', name);
    await mkdir(path, { recursive: true });
    await writeFile(join(path, 'audio'), 'RIFF');
    const t = new Date(Date.now() - ageMs);
    await utimes(path, t, t);
  }

  it('removes an old job folder that no job owns (a server killed mid-submit), and nothing else', async () => {
    const hour = 60 * 60 * 1000;
    await store.jobs.create(newJob({ id: 'owned' }));
    await folder('owned', 2 * hour);
    await folder('orphan', 2 * hour);
    // A submit in progress: the folder exists a moment before its row.
    await folder('being-submitted', 1000);
    await writeFile(join(dir, 'jobs', 'not-a-folder'), 'x');
    const retention = new Retention(store.jobs, createLogger('silent'), 24 * hour, join(dir, 'jobs'));
    expect(await retention.sweepOrphanFolders()).toBe(1);
    expect((await readdir(join(dir, 'jobs'))).sort()).toEqual(['being-submitted', 'not-a-folder', 'owned']);
  });

  it('does nothing when there is no jobs folder yet', async () => {
    const retention = new Retention(store.jobs, createLogger('silent'), 1000, join(dir, 'nowhere'));
    expect(await retention.sweepOrphanFolders()).toBe(0);
  });
});
