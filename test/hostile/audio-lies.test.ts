import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageMeter } from '../../src/auth/usage.js';
import { expectError, expectHealthy } from '../support/hostile-http.js';
import { postAudio } from '../support/http.js';
import { createKeyWithCli } from '../support/keys-cli.js';
import { startTestServer, type TestServer } from '../support/server.js';

/*
 * A container that lies about its length (issue 18, finding 10): a Matroska
 * file whose Segment Duration says 10 s around 200 s of audio. ffprobe (and so
 * the submit-time checks) believe the header; only decoding finds the truth.
 * Decoding must stop soon after the stated length, refuse the file, and charge
 * the key for what was decoded, on the sync route and as a job.
 */

const CLAIMED = 10;
const REAL = 200;
/** Below REAL, so that before the fix a decode ran on to this cap (AUDIO_TOO_LONG) instead of stopping near CLAIMED. */
const MAX_AUDIO_SECONDS = 120;
/** Where decoding must stop: the stated length plus hark's margin, max(1.5 x, +30 s). */
const STOP = Math.max(CLAIMED * 1.5, CLAIMED + 30);

/** Usage is per UTC day: the server's clock is pinned to a fixed noon (see test/quota.test.ts). */
const NOON = Date.UTC(2030, 0, 15, 12);
const started = Date.now();
const clock = () => NOON + (Date.now() - started);

let server: TestServer;
let liar: string;

/** REAL seconds of a tone in Matroska (Opus), then its Segment Duration (EBML 0x4489, 8-byte float, ms) rewritten to CLAIMED. */
async function lyingMatroska(dir: string): Promise<string> {
  const honest = join(dir, 'honest.mka');
  await promisify(execFile)('ffmpeg', [
    '-nostdin', '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', `sine=frequency=440:duration=${REAL}:sample_rate=16000`,
    '-ac', '1', '-c:a', 'libopus', '-b:a', '8k', honest,
  ]);
  const bytes = await readFile(honest);
  const at = bytes.indexOf(Buffer.from([0x44, 0x89, 0x88]));
  expect(at, 'no 8-byte Duration element').toBeGreaterThan(0);
  expect(bytes.readDoubleBE(at + 3)).toBeCloseTo(REAL * 1000, -2);
  bytes.writeDoubleBE(CLAIMED * 1000, at + 3);
  const out = join(dir, 'lying.mka');
  await writeFile(out, bytes);
  return out;
}

beforeAll(async () => {
  server = await startTestServer({ AUTH_MODE: 'api_key', MAX_AUDIO_SECONDS: String(MAX_AUDIO_SECONDS) }, { now: clock });
  liar = await lyingMatroska(server.dataDir);
  const probe = await promisify(execFile)('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', liar]);
  expect(Number(probe.stdout.trim())).toBeCloseTo(CLAIMED, 0); // the lie works on ffprobe
}, 30_000);
afterAll(async () => server?.stop());

/** A key's audio seconds today, as `hark keys list` counts them. */
async function usedSeconds(name: string): Promise<number> {
  const key = (await server.jobs.store.keys.listApiKeys()).find((k) => k.name === name);
  return new UsageMeter(server.jobs.store.usage, 0, clock).usedToday(key!.id);
}

/** Polls the job (with its key) until it has ended. */
async function waitEnded(id: string, key: string): Promise<{ status: string; error: { code: string; message: string } | null }> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const job = (await (await fetch(`${server.url}/api/v1/jobs/${id}`, { headers: { authorization: `Bearer ${key}` } })).json()) as {
      status: string;
      error: { code: string; message: string } | null;
    };
    if (!['queued', 'running'].includes(job.status)) return job;
    if (Date.now() > deadline) throw new Error(`job ${id} did not end: ${JSON.stringify(job)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('a container that states a shorter length than it holds', () => {
  it('is refused on the sync route (400 INVALID_AUDIO) after decoding at most its stated length plus the margin, and the decoded seconds are charged', async () => {
    const key = await createKeyWithCli(server.dataDir, 'sync-liar', 'transcribe');
    const t0 = performance.now();
    const res = await postAudio(`${server.url}/transcriptions`, liar, {}, { headers: { authorization: `Bearer ${key}` } });
    await expectError(res, 400, 'INVALID_AUDIO', server, /longer than the 10\.0 s its header states/);
    expect(performance.now() - t0).toBeLessThan(20_000);
    const used = await usedSeconds('sync-liar');
    expect(used).toBeGreaterThanOrEqual(STOP);
    expect(used).toBeLessThan(STOP + 2);
    await expectHealthy(server);
  }, 30_000);

  it('fails as a job with INVALID_AUDIO, and the job\'s key is charged what was decoded', async () => {
    const key = await createKeyWithCli(server.dataDir, 'job-liar', 'jobs');
    const res = await postAudio(`${server.url}/api/v1/jobs`, liar, {}, { headers: { authorization: `Bearer ${key}` } });
    expect(res.status, await res.clone().text()).toBe(202);
    const { job_id } = (await res.json()) as { job_id: string };
    const job = await waitEnded(job_id, key);
    expect(job.status).toBe('failed');
    expect(job.error).toMatchObject({ code: 'INVALID_AUDIO', message: expect.stringMatching(/10\.0 s its header states/) });
    const used = await usedSeconds('job-liar');
    expect(used).toBeGreaterThanOrEqual(STOP);
    expect(used).toBeLessThan(STOP + 2);
  }, 40_000);
});
