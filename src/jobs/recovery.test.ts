import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { newJob } from '../../test/support/job-store-suite.js';
import { loadConfig } from '../config/index.js';
import { createLogger } from '../logger.js';
import { readStartTime } from '../os/index.js';
import { SqliteJobStore } from '../store/index.js';
import { JobLogs } from './job-log.js';
import { OrphanRecovery } from './recovery.js';

const config = loadConfig({ env: { HEARTBEAT_SECONDS: '1' } });
const ME = 'instance-me';

describe('OrphanRecovery.scan', () => {
  let dir: string;
  let store: SqliteJobStore;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hark-recovery-'));
    store = await SqliteJobStore.open(join(dir, 'hark.db'));
    await store.migrate();
    const now = Date.now();
    await store.registerInstance({ id: ME, hostname: hostname(), pid: process.pid, processStartedAt: (await readStartTime(process.pid)) ?? null, startedAt: now, lastHeartbeat: now });
  });
  afterEach(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  const recovery = (runningHere: string[] = []) =>
    new OrphanRecovery({ config, logger: createLogger('silent'), store, instanceId: ME, logs: new JobLogs({ store, logger: createLogger('silent') }), runningHere: () => runningHere });

  it('leaves alone a job this instance has just claimed but not yet listed as running', async () => {
    await store.create(newJob({ id: 'fresh' }));
    await store.claimNext({ instanceId: ME, now: Date.now(), agingMs: 1000 });
    // The scan reads between the claim's UPDATE and the runner's bookkeeping.
    expect(await recovery([]).scan()).toEqual({ requeued: 0, failed: 0, killed: 0 });
    expect((await store.get('fresh'))?.status).toBe('running');
  });

  it('requeues a job of this instance whose heartbeat went stale (lost by its runner)', async () => {
    await store.create(newJob({ id: 'lost' }));
    const claimedAt = Date.now() - 10_000;
    await store.claimNext({ instanceId: ME, now: claimedAt, agingMs: 1000 });
    expect((await recovery([]).scan()).requeued).toBe(1);
    expect(await store.get('lost')).toMatchObject({ status: 'queued', errorCode: 'ORPHANED' });
  });

  it('requeues a job whose owner is gone, even with a fresh heartbeat', async () => {
    await store.create(newJob({ id: 'gone' }));
    await store.claimNext({ instanceId: 'instance-that-never-registered', now: Date.now(), agingMs: 1000 });
    expect((await recovery().scan()).requeued).toBe(1);
    expect((await store.get('gone'))?.status).toBe('queued');
  });

  it('never touches what runs here', async () => {
    await store.create(newJob({ id: 'here' }));
    await store.claimNext({ instanceId: ME, now: Date.now() - 10_000, agingMs: 1000 });
    expect((await recovery(['here']).scan()).requeued).toBe(0);
    expect((await store.get('here'))?.status).toBe('running');
  });
});
