import { afterAll, beforeAll, expect, it } from 'vitest';
import { SHORT } from './support/hostile-http.js';
import { submitJob, waitFinished } from './support/jobs.js';
import { startTestServer, type TestServer } from './support/server.js';

/*
 * A claim that fails (the database briefly away) must give back the place the
 * runner took for it: otherwise that mode's capacity shrinks for good and, with
 * one decoder, no job ever runs again.
 */

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ IN_PROCESS_CONCURRENCY: '1' });
});
afterAll(async () => server?.stop());

it('runs jobs after a claim failed, with the mode\'s line empty again', async () => {
  const runs = server.jobs.store.runs;
  const claimNext = runs.claimNext.bind(runs);
  let failures = 0;
  runs.claimNext = async (options) => {
    if (failures++ < 2) throw new Error('Connection terminated unexpectedly');
    return claimNext(options);
  };
  try {
    const { job_id } = await submitJob(server.url, SHORT.path);
    const job = await waitFinished(server.url, job_id, 30_000);
    expect(failures).toBeGreaterThan(2);
    expect(job.status).toBe('completed');
    const capacity = (await (await fetch(`${server.url}/api/v1/capacity`)).json()) as { modes: Record<string, { queued_jobs: number; active_jobs: number }> };
    expect(capacity.modes['in-process']).toMatchObject({ queued_jobs: 0, active_jobs: 0 });
  } finally {
    runs.claimNext = claimNext;
  }
});
