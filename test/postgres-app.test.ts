import { afterAll, beforeAll, expect, it } from 'vitest';
import { spawnServer, waitFor, type ChildServer } from './support/child-server.js';
import { clip } from './support/corpus.js';
import { postAudio } from './support/http.js';
import { startPostgres, type TestPostgres } from './support/postgres.js';

let pg: TestPostgres;
let server: ChildServer | undefined;
beforeAll(async () => {
  pg = await startPostgres();
}, 60_000);
afterAll(async () => {
  await server?.stop();
  await pg?.stop();
});

it('runs jobs with DATABASE_URL on PostgreSQL, and keeps them across a restart', async () => {
  const url = pg.createDatabase('app');
  server = await spawnServer({ ENABLE_PROCESS_ISOLATED: 'false', DATABASE_URL: url });
  const res = await postAudio(`${server.url}/api/v1/jobs`, clip('1089-134686-0001').path);
  expect(res.status).toBe(202);
  const { job_id } = (await res.json()) as { job_id: string };
  await waitFor(async () => ((await (await fetch(`${server!.url}/api/v1/jobs/${job_id}`)).json()) as { status: string }).status === 'completed', 30_000);
  await server.stop();
  server = await spawnServer({ ENABLE_PROCESS_ISOLATED: 'false', DATABASE_URL: url });
  const text = await (await fetch(`${server.url}/api/v1/jobs/${job_id}/result?format=text`)).text();
  expect(text).toContain('belly');
});
