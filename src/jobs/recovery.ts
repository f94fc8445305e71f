import { hostname } from 'node:os';
import type { Config } from '../config/index.js';
import type { Logger } from '../logger.js';
import { killGroup, readStartTime } from '../os/index.js';
import type { InstanceRecord, InstanceStore, JobRunStore } from '../store/index.js';
import type { JobLogs } from './job-log.js';
import type { Job } from './model.js';

export interface RecoveryOptions {
  config: Config;
  logger: Logger;
  instances: InstanceStore;
  runs: JobRunStore;
  instanceId: string;
  logs: JobLogs;
  /** Jobs this instance is running right now (never orphans). */
  runningHere: () => string[];
}

export interface RecoveryReport {
  requeued: number;
  failed: number;
  killed: number;
}

/** `12 s`: how long since `then`. */
function silentFor(then: number, now: number): string {
  return `${Math.round((now - then) / 1000)} s`;
}

/** Is `pid` alive and still the process that started at `startedAt` (not a reused pid)? */
async function sameProcessAlive(pid: number, startedAt: number | null): Promise<boolean> {
  const now = await readStartTime(pid);
  return now !== undefined && (startedAt === null || now === startedAt);
}

/**
 * Finds jobs left running by a server that died (or hung) and puts them back:
 * its process, if still alive and still the same process (pid plus start
 * time), is killed with its tree; the job goes back to the queue while it has
 * attempts left, else fails with ORPHANED. Reads only the store and /proc, so
 * it works the same after any crash, and each orphan is recovered once even
 * when several instances scan at the same time (guarded UPDATEs).
 */
export class OrphanRecovery {
  private timer: NodeJS.Timeout | undefined;
  readonly host = hostname();
  totals = { recovered: 0, killed: 0 };

  constructor(private readonly o: RecoveryOptions) {}

  start(): void {
    this.timer = setInterval(() => {
      this.scan().catch((err: unknown) => this.o.logger.error({ err }, 'orphan scan failed'));
    }, this.o.config.ORPHAN_SCAN_SECONDS * 1000);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /**
   * Instances that are gone, with why: on this host with a dead (or reused)
   * pid, or silent for 3 heartbeats anywhere.
   */
  private async deadInstances(instances: InstanceRecord[], now: number): Promise<Map<string, string>> {
    const staleBefore = now - 3 * this.o.config.HEARTBEAT_SECONDS * 1000;
    const dead = new Map<string, string>();
    for (const i of instances) {
      if (i.id === this.o.instanceId) continue;
      if (i.hostname === this.host && !(await sameProcessAlive(i.pid, i.processStartedAt))) dead.set(i.id, `process ${i.pid} has ended`);
      else if (i.lastHeartbeat < staleBefore) dead.set(i.id, `no heartbeat from ${i.hostname} for ${silentFor(i.lastHeartbeat, now)}`);
    }
    return dead;
  }

  async scan(now = Date.now()): Promise<RecoveryReport> {
    const { runs, config, logger } = this.o;
    // Jobs before instances: an instance registers before it claims, so every owner of a job read
    // here is in the list read next unless it has gone since. Read the other way round, an instance
    // started between the reads (a rolling restart) owns jobs the scan knows no owner of.
    const running = await runs.runningJobs();
    const instances = await this.o.instances.listInstances();
    const byId = new Map(instances.map((i) => [i.id, i]));
    const dead = await this.deadInstances(instances, now);
    const staleBefore = now - 3 * config.HEARTBEAT_SECONDS * 1000;
    const here = new Set(this.o.runningHere());
    const report: RecoveryReport = { requeued: 0, failed: 0, killed: 0 };

    for (const job of running) {
      if (here.has(job.id)) continue;
      const owner = job.ownerInstanceId === null ? undefined : byId.get(job.ownerInstanceId);
      // Ours but not running here is not enough: a job claimed while this scan was
      // reading is in the store before the runner lists it. Ours and truly lost goes
      // stale (the heartbeat refreshes only what runs here), as does a hung one.
      const ours = job.ownerInstanceId === this.o.instanceId;
      const reason = ours
        ? undefined
        : owner === undefined
          ? 'it is no longer registered: it stopped, or another server found it gone'
          : dead.get(owner.id);
      const why = reason ?? ((job.lastHeartbeat ?? 0) < staleBefore ? `no heartbeat for this job for ${silentFor(job.lastHeartbeat ?? 0, now)}` : undefined);
      if (why === undefined) continue;
      if (await this.killJobProcess(job, owner)) report.killed++;
      const outcome = await runs.recoverOrphan(job, config.MAX_ATTEMPTS, now);
      if (outcome === 'gone') continue;
      report[outcome === 'requeued' ? 'requeued' : 'failed']++;
      this.totals.recovered++;
      this.o.logs.append(
        job.id,
        outcome === 'requeued'
          ? `its server was lost (${why}; attempt ${job.attempts}); queued again`
          : `its server was lost (${why}; attempt ${job.attempts} of ${config.MAX_ATTEMPTS}); failed (ORPHANED)`,
      );
      logger.warn({ jobId: job.id, outcome, attempts: job.attempts, owner: job.ownerInstanceId, reason: why }, 'recovered orphaned job');
    }
    for (const id of dead.keys()) await this.o.instances.removeInstance(id);
    await this.o.logs.flush();
    return report;
  }

  /** Kills the job's process tree if it still runs on this host and is the same process. */
  private async killJobProcess(job: Job, owner: InstanceRecord | undefined): Promise<boolean> {
    const pid = job.processId;
    if (pid === null || pid === process.pid) return false;
    if (owner !== undefined && owner.hostname !== this.host) return false; // not ours to reach
    if (!(await sameProcessAlive(pid, job.processStartedAt))) return false; // gone, or the pid now belongs to someone else
    // Workers lead their own process group (the group takes what they started);
    // any other process (an in-process job's old server) is killed by pid.
    killGroup(pid, 'SIGKILL');
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone with its group
    }
    this.totals.killed++;
    this.o.logger.warn({ jobId: job.id, pid }, 'killed the process of an orphaned job');
    return true;
  }
}
