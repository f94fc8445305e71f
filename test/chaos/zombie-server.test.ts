import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { joinWavs } from '../support/audio.js';
import { childPids, MAIN_JS, waitFor } from '../support/child-server.js';
import { spawnHark, type HarkProcess } from '../support/chaos-server.js';
import { devClips } from '../support/corpus.js';
import { getJob, submitJob, waitForJob } from '../support/jobs.js';
import { freePort } from '../support/net.js';

/*
 * A server killed -9 is a zombie until its parent reaps it: the kernel has
 * ended it, but /proc still lists the pid with its start time. A new server
 * starting on the same DATA_DIR in that moment must see it as gone, or the jobs
 * it was running stay "running" until the next ORPHAN_SCAN_SECONDS (10 minutes
 * by default). Found by the chaos test: its first server's workers are zombies
 * for a second or two after the kill, until init reaps them.
 */

function processState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0];
  } catch {
    return undefined;
  }
}

let parent: ChildProcess | undefined;
let second: HarkProcess | undefined;
let dataDir: string | undefined;
afterAll(async () => {
  // Ending the parent lets init reap the zombie.
  parent?.kill('SIGKILL');
  second?.signal('SIGKILL');
  await second?.exited;
  if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
});

describe('a server left a zombie by its parent', () => {
  it('counts as gone: the next server requeues its running job at start-up and completes it', async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'hark-zombie-'));
    const port = await freePort();
    const env = { PATH: process.env['PATH'] ?? '', HOST: '127.0.0.1', PORT: String(port), DATA_DIR: dataDir, ENV_FILE: '/nonexistent', WORKER_COUNT: '1' };
    // `sleep` takes over the shell's pid and so becomes hark's parent, one that never reaps it.
    parent = spawn('sh', ['-c', '"$0" "$1" >/dev/null 2>&1 & exec sleep 600', process.execPath, MAIN_JS], { env, stdio: 'ignore' });
    let harkPid = 0;
    await waitFor(() => {
      harkPid = childPids(parent!.pid!)[0] ?? 0;
      return harkPid > 0;
    });
    const url = `http://127.0.0.1:${port}`;
    await waitFor(async () => (await fetch(`${url}/readyz`)).status === 200, 60_000);

    const long = join(dataDir, 'long.wav');
    joinWavs(devClips.slice(0, 8).map((c) => c.path), long);
    const { job_id: id } = await submitJob(url, long);
    await waitForJob(url, id, (j) => j.status === 'running' && j.process_id !== null, 30_000);

    process.kill(harkPid, 'SIGKILL');
    await waitFor(() => processState(harkPid) === 'Z');

    second = await spawnHark(await freePort(), dataDir, { WORKER_COUNT: '1' });
    expect(processState(harkPid), 'the first server is still a zombie').toBe('Z');
    // The start-up scan has run before the port opened: the job is no longer the dead server's.
    const after = await getJob(second.url, id);
    const log = ((await (await fetch(`${second.url}/api/v1/jobs/${id}/logs`)).json()) as { lines: string[] }).lines.join('\n');
    expect(log).toContain('its server was lost');
    expect(after.status).not.toBe('failed');
    const done = await waitForJob(second.url, id, (j) => j.status === 'completed', 90_000);
    expect(done.attempts).toBe(2);
  }, 180_000);
});
