import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { describeStore, newJob } from '../../../test/support/store-suite/index.js';
import { MIGRATIONS } from '../migrations/index.js';
import { SqliteStore } from './sqlite-store.js';

/** Every temp folder these tests make, removed after them. */
const dirs: string[] = [];
function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describeStore('SQLite', () => SqliteStore.open(join(tempDir('hark-store-'), 'hark.db')));

describe('SQLite migrations', () => {
  /** Every migration after the first, in order: what a file made with the first schema is missing. */
  const AFTER_FIRST = Object.keys(MIGRATIONS).sort().slice(1);

  it('upgrades a file made with the first schema, keeping every row, after a backup copy', async () => {
    const dir = tempDir('hark-migrate-');
    const path = join(dir, 'hark.db');
    const old = await SqliteStore.open(path);
    await old.migrateTo('001_jobs');
    // Rows written by a version of hark that knew only the first schema.
    const db = (old as unknown as { db: Kysely<Record<string, Record<string, unknown>>> }).db;
    for (let i = 0; i < 3; i++) {
      const j = newJob({ id: `old-${i}`, createdAt: 1000 + i });
      await db
        .insertInto('transcription_jobs')
        .values({ id: j.id, status: 'queued', priority: 'normal', priority_rank: 1, created_at: j.createdAt, file_name: j.fileName, file_size: 1, options: '{}', engine: 'pocketsphinx', isolation: 'process', log_file_path: '/old/job.log', idempotency_key: `retry-${i}` })
        .execute();
    }
    await old.close();

    const store = await SqliteStore.open(path);
    expect(await store.pendingMigrations()).toEqual(AFTER_FIRST);
    await store.migrate();
    expect(store.lastMigration.applied).toEqual(AFTER_FIRST);
    expect(store.lastMigration.backupPath).toMatch(/hark\.db\.backup-.*-before-002_instances_webhooks_cancel$/);
    expect(readdirSync(dir)).toContain(store.lastMigration.backupPath!.split('/').pop());
    const jobs = await store.jobs.list({ limit: 10 });
    expect(jobs.map((j) => j.id)).toEqual(['old-2', 'old-1', 'old-0']);
    expect(jobs[0]).toMatchObject({ webhookAttempts: 0, cancelRequested: false });
    // 008: jobs from before the VAD have no settings of their own (they run with the server's).
    expect(jobs[0]?.vad).toBeNull();
    // 009: nor a diarization request (they asked for none).
    expect(jobs[0]?.diarize).toBeNull();
    // 010: and no names for speakers.
    expect(jobs[0]?.speakerNames).toEqual({});
    // 006: an Idempotency-Key from before keys still finds its job (as one sent without a key).
    expect((await store.jobs.findByIdempotencyKey(null, 'retry-1'))?.id).toBe('old-1');
    expect(jobs[0]?.idempotencyKey).toBe('retry-2');
    await store.close();

    // The backup is the old database, still readable at the old version.
    const backup = await SqliteStore.open(store.lastMigration.backupPath!);
    expect(await backup.pendingMigrations()).toEqual(AFTER_FIRST);
    await backup.close();
  });

  it('makes no backup for a new file', async () => {
    const dir = tempDir('hark-migrate-');
    const store = await SqliteStore.open(join(dir, 'hark.db'));
    await store.migrate();
    expect(store.lastMigration.backupPath).toBeUndefined();
    expect(readdirSync(dir).filter((f) => f.includes('backup'))).toEqual([]);
    await store.close();
  });
});
