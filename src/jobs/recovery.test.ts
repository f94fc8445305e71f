import { spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { newJob, tempSqliteStore, type TempSqliteStore } from '../../test/support/store-suite/index.js';
import { loadConfig } from '../config/index.js';
import { createLogger } from '../logger.js';
import { readStartTime } from '../os/index.js';
import type { SqliteStore } from '../store/index.js';
import { JobLogs } from './job-log.js';
import { OrphanRecovery } from './recovery.js';

const config = loadConfig({ env: { HEARTBEAT_SECONDS: '1' } });
const ME = 'instance-me';

describe('OrphanRecovery.scan', () => {
  let temp: TempSqliteStore;
  let store: SqliteStore;
  beforeEach(async () => {
    temp = await tempSqliteStore('hark-recovery-');
    store = temp.store;
    const now = Date.now();
    await store.instances.registerInstance({ id: ME, hostname: hostname(), pid: process.pid, processStartedAt: (await readStartTime(process.pid)) ?? null, startedAt: now, lastHeartbeat: now });
  });
  afterEach(() => temp.remove());

  const logOf = async (id: string) => (await store.logs.logLines(id)).map((l) => l.line);

  const recovery = (runningHere: string[] = []) =>
    new OrphanRecovery({ config, logger: createLogger('silent'), instances: store.instances, runs: store.runs, instanceId: ME, logs: new JobLogs({ store: store.logs, logger: createLogger('silent') }), runningHere: () => runningHere });

  it('leaves alone a job this instance has just claimed but not yet listed as running', async () => {
    await store.jobs.create(newJob({ id: 'fresh' }));
    await store.runs.claimNext({ instanceId: ME, now: Date.now(), agingMs: 1000 });
    // The scan reads between the claim's UPDATE and the runner's bookkeeping.
    expect(await recovery([]).scan()).toEqual({ requeued: 0, failed: 0, killed: 0 });
    expect((await store.jobs.get('fresh'))?.status).toBe('running');
  });

  it('requeues a job of this instance whose heartbeat went stale (lost by its runner)', async () => {
    await store.jobs.create(newJob({ id: 'lost' }));
    const claimedAt = Date.now() - 10_000;
    await store.runs.claimNext({ instanceId: ME, now: claimedAt, agingMs: 1000 });
    expect((await recovery([]).scan(claimedAt + 10_000)).requeued).toBe(1);
    expect(await store.jobs.get('lost')).toMatchObject({ status: 'queued', errorCode: 'ORPHANED' });
    expect(await logOf('lost')).toEqual(['its server was lost (no heartbeat for this job for 10 s; attempt 1); queued again']);
  });

  it('requeues a job whose owner is gone, even with a fresh heartbeat', async () => {
    await store.jobs.create(newJob({ id: 'gone' }));
    await store.runs.claimNext({ instanceId: 'instance-that-never-registered', now: Date.now(), agingMs: 1000 });
    expect((await recovery().scan()).requeued).toBe(1);
    expect((await store.jobs.get('gone'))?.status).toBe('queued');
    expect(await logOf('gone')).toEqual(['its server was lost (it is no longer registered: it stopped, or another server found it gone; attempt 1); queued again']);
  });

  it("says which server was lost and how: its process ended on this host, or it fell silent elsewhere; the last attempt fails", async () => {
    const now = Date.now();
    const ended = spawnSync(process.execPath, ['-e', '']).pid!;
    await store.instances.registerInstance({ id: 'here-ended', hostname: hostname(), pid: ended, processStartedAt: null, startedAt: now, lastHeartbeat: now });
    await store.instances.registerInstance({ id: 'far-silent', hostname: 'elsewhere', pid: 1, processStartedAt: null, startedAt: now - 60_000, lastHeartbeat: now - 20_000 });
    await store.jobs.create(newJob({ id: 'a' }));
    await store.runs.claimNext({ instanceId: 'here-ended', now, agingMs: 1000 });
    await store.jobs.create(newJob({ id: 'b' }));
    await store.runs.claimNext({ instanceId: 'far-silent', now, agingMs: 1000 });
    // b's last attempt: it fails instead of going back to the queue.
    const last = loadConfig({ env: { HEARTBEAT_SECONDS: '1', MAX_ATTEMPTS: '1' } });
    const scan = new OrphanRecovery({ config: last, logger: createLogger('silent'), instances: store.instances, runs: store.runs, instanceId: ME, logs: new JobLogs({ store: store.logs, logger: createLogger('silent') }), runningHere: () => [] });
    expect(await scan.scan(now)).toEqual({ requeued: 0, failed: 2, killed: 0 });
    expect(await logOf('a')).toEqual([`its server was lost (process ${ended} has ended; attempt 1 of 1); failed (ORPHANED)`]);
    expect(await logOf('b')).toEqual(['its server was lost (no heartbeat from elsewhere for 20 s; attempt 1 of 1); failed (ORPHANED)']);
    // Both gone servers are forgotten.
    expect((await store.instances.listInstances()).map((i) => i.id)).toEqual([ME]);
  });

  it('leaves alone a job claimed by an instance that started while the scan was reading', async () => {
    await store.jobs.create(newJob({ id: 'newcomer' }));
    // A worker starting in a rolling restart registers and claims between the scan's reads of the
    // instances and of the running jobs, whichever the scan makes first.
    let arrived = false;
    const thenArrive =
      <T,>(read: () => Promise<T>) =>
      async (): Promise<T> => {
        const out = await read();
        if (!arrived) {
          arrived = true;
          const now = Date.now();
          await store.instances.registerInstance({ id: 'instance-new', hostname: hostname(), pid: process.pid, processStartedAt: (await readStartTime(process.pid)) ?? null, startedAt: now, lastHeartbeat: now });
          await store.runs.claimNext({ instanceId: 'instance-new', now, agingMs: 1000 });
        }
        return out;
      };
    const instances = Object.assign(Object.create(store.instances) as SqliteStore['instances'], { listInstances: thenArrive(() => store.instances.listInstances()) });
    const runs = Object.assign(Object.create(store.runs) as SqliteStore['runs'], { runningJobs: thenArrive(() => store.runs.runningJobs()) });
    const scan = new OrphanRecovery({ config, logger: createLogger('silent'), instances, runs, instanceId: ME, logs: new JobLogs({ store: store.logs, logger: createLogger('silent') }), runningHere: () => [] });
    expect(await scan.scan()).toEqual({ requeued: 0, failed: 0, killed: 0 });
    expect(arrived).toBe(true);
    expect(await store.jobs.get('newcomer')).toMatchObject({ status: 'running', ownerInstanceId: 'instance-new', errorCode: null });
  });

  it('never touches what runs here', async () => {
    await store.jobs.create(newJob({ id: 'here' }));
    await store.runs.claimNext({ instanceId: ME, now: Date.now() - 10_000, agingMs: 1000 });
    expect((await recovery(['here']).scan()).requeued).toBe(0);
    expect((await store.jobs.get('here'))?.status).toBe('running');
  });
});
