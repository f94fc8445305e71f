import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeStore, newJob } from '../../../test/support/store-suite/index.js';
import { startPostgres, type TestPostgres } from '../../../test/support/postgres.js';
import { PostgresStore } from './postgres-store.js';

let pg: TestPostgres;
let n = 0;
beforeAll(async () => {
  pg = await startPostgres();
}, 60_000);
afterAll(async () => pg?.stop());

// The same contract as SQLite, each test on a fresh database of a real server.
describeStore('PostgreSQL', () => PostgresStore.open(pg.createDatabase(`contract_${n++}`)));

describe('PostgreSQL claims under contention', () => {
  it('gives each of 40 jobs to exactly one of 8 concurrent claimers', async () => {
    const url = pg.createDatabase('contention');
    const setup = await PostgresStore.open(url);
    await setup.migrate();
    for (let i = 0; i < 40; i++) await setup.jobs.create(newJob({ id: `j${String(i).padStart(2, '0')}`, createdAt: 1000 + i }));
    const claimers = await Promise.all(Array.from({ length: 8 }, () => PostgresStore.open(url, 2)));
    const claimed: string[] = [];
    await Promise.all(
      claimers.map(async (store, i) => {
        for (;;) {
          const job = await store.runs.claimNext({ instanceId: `i${i}`, now: Date.now(), agingMs: 300_000 });
          if (job === undefined) return;
          claimed.push(job.id);
        }
      }),
    );
    expect(claimed.sort()).toEqual(Array.from({ length: 40 }, (_, i) => `j${String(i).padStart(2, '0')}`));
    for (const s of [setup, ...claimers]) await s.close();
  });

  it('migrates concurrently from several instances without error', async () => {
    const url = pg.createDatabase('concurrent_migrate');
    const stores = await Promise.all(Array.from({ length: 4 }, () => PostgresStore.open(url, 1)));
    await Promise.all(stores.map((s) => s.migrate()));
    expect(await stores[0]!.pendingMigrations()).toEqual([]);
    for (const s of stores) await s.close();
  });
});
