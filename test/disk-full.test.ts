import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, statfsSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, openPage, requireBuiltPage } from './support/browser.js';
import {
  BOUNDARY,
  beginHeldUpload,
  chunk,
  expectAnsweredBeforeBody,
  expectError,
  expectRawError,
  multipartBody,
  noise,
  rawConnect,
  requestHead,
  withTimeout,
} from './support/hostile-http.js';
import { pullModel } from '../src/models/index.js';
import { clip } from './support/corpus.js';
import { startFakeModelHost } from './support/fake-model-host.js';
import { postAudio } from './support/http.js';
import { getJob, submitJob, waitFinished } from './support/jobs.js';
import { scrape } from './support/prometheus.js';
import { startTestServer, type TestServer } from './support/server.js';

/*
 * A full disk under DATA_DIR, for real: a 4 MB tmpfs mounted for this file
 * (the suite runs as root, as its setup does; without the right to mount, the
 * file is skipped, saying why). Whatever write meets it (the
 * upload, its decoded audio, in the server or in a worker, or a job's run), the
 * answer is 507 INSUFFICIENT_STORAGE with Retry-After, nothing half-written is
 * left, and the server goes on serving what fits.
 */

const run = promisify(execFile);
const VOLUME_BYTES = 4 * 1024 * 1024;
const SHORT = clip('1089-134686-0001'); // 3.3 s of speech, 105 KB

async function bytesUnder(dir: string): Promise<number> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const sizes = await Promise.all(entries.filter((e) => e.isFile()).map(async (e) => (await stat(join(e.parentPath, e.name))).size));
  return sizes.reduce((a, b) => a + b, 0);
}

/**
 * Mounting takes CAP_SYS_ADMIN: root, as the suite's setup runs, outside a locked-down container.
 * Without it this file is skipped and says why, rather than failing on the machine.
 */
function mountRefusal(): string | undefined {
  const probe = mkdtempSync(join(tmpdir(), 'hark-mount-probe-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'hark-mount-probe', probe], { stdio: 'pipe' });
    execFileSync('umount', [probe], { stdio: 'pipe' });
    return undefined;
  } catch (err) {
    return String((err as { stderr?: Buffer }).stderr ?? err).trim();
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
}
const refusal = mountRefusal();
if (refusal !== undefined) console.warn(`test/disk-full.test.ts skipped: it mounts a small tmpfs, which this machine refused (${refusal})`);

describe.skipIf(refusal !== undefined)('a full disk under DATA_DIR', () => {
  let server: TestServer;
  let work: string;
  let volume: string;
  /** 6 MB of noise: more than the whole volume. */
  let tooBig: string;
  /** 3 minutes of tone as a 360 KB MP3: its upload fits, its 5.8 MB of decoded audio does not. */
  let expands: string;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'hark-disk-full-'));
    [volume, tooBig, expands] = [join(work, 'volume'), join(work, 'too-big.wav'), join(work, 'expands.mp3')];
    await mkdir(volume);
    await run('mount', ['-t', 'tmpfs', '-o', `size=${VOLUME_BYTES}`, 'hark-disk-full', volume]);
    writeFileSync(tooBig, noise(6 * 1024 * 1024));
    await run('ffmpeg', ['-nostdin', '-loglevel', 'error', '-f', 'lavfi', '-i', 'sine=frequency=300:duration=180', '-ac', '1', '-ar', '16000', '-b:a', '16k', expands]);
    server = await startTestServer({ ENABLE_PROCESS_ISOLATED: 'true', WORKER_COUNT: '1' }, { dataDirIn: volume });
  });

  afterAll(async () => {
    await server?.stop();
    await run('umount', [volume]).catch(() => undefined);
    await rm(work, { recursive: true, force: true });
  });

  async function expectFull(res: Response): Promise<void> {
    const message = await expectError(res, 507, 'INSUFFICIENT_STORAGE', server, /disk space/);
    expect(message).toMatch(/try again later/);
    expect(res.headers.get('retry-after')).toBe('60');
    expect(await server.tempFiles()).toEqual([]);
  }

  it('refuses an upload that declares more than the room left before its body is read', async () => {
    const held = await beginHeldUpload(server.url, '/transcriptions/sync');
    try {
      const res = await withTimeout(held.response, 5000, 'the early 507');
      expectRawError(res, 507, 'INSUFFICIENT_STORAGE', server, /^the upload is 50\.0 MB and the server has \d+\.\d MB of disk space left; try again later/);
      expect(res.headers['retry-after']).toBe('60');
      expectAnsweredBeforeBody(held);
    } finally {
      held.socket.destroy();
    }
    await expectFull(await postAudio(`${server.url}/v1/audio/transcriptions`, tooBig, { model: 'whisper-1' }));
  });

  it('refuses an upload of no declared length when the disk fills while it is stored, and keeps nothing of it', async () => {
    // Transfer-Encoding: chunked, as a client streaming a recording sends it: only the write can tell.
    const conn = await rawConnect(server.url);
    try {
      await conn.write(requestHead('/transcriptions/sync', { 'Content-Type': `multipart/form-data; boundary=${BOUNDARY}`, 'Transfer-Encoding': 'chunked' }));
      const body = multipartBody([{ headers: 'Content-Disposition: form-data; name="file"; filename="too-big.wav"\r\nContent-Type: audio/wav', body: readFileSync(tooBig) }]);
      for (let at = 0; at < body.length; at += 64 * 1024) if (!(await conn.write(chunk(body.subarray(at, at + 64 * 1024))))) break;
      await conn.write('0\r\n\r\n');
      const res = await withTimeout(conn.response, 10_000, 'the 507');
      expectRawError(res, 507, 'INSUFFICIENT_STORAGE', server, /^the server has no disk space left to store this request; try again later/);
      expect(res.headers['retry-after']).toBe('60');
    } finally {
      conn.socket.destroy();
    }
    expect(await server.tempFiles()).toEqual([]);
    // What fits still runs.
    const res = await postAudio(`${server.url}/transcriptions/sync`, SHORT.path);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { text: string }).text.length).toBeGreaterThan(0);
    expect(await server.tempFiles()).toEqual([]);
  });

  it('refuses a file whose decoded audio does not fit, decoded in the server or in a worker', async () => {
    await expectFull(await postAudio(`${server.url}/transcriptions/sync`, expands));
    await expectFull(await postAudio(`${server.url}/transcriptions/process-isolated`, expands));
    const res = await postAudio(`${server.url}/transcriptions/process-isolated`, SHORT.path);
    expect(res.status).toBe(200);
  });

  it('fails a job whose audio fits but not its decoded audio, once and with the reason; a job too big to store is never created', async () => {
    const accepted = await submitJob(server.url, expands);
    const job = await waitFinished(server.url, accepted.job_id);
    expect(job.status).toBe('failed');
    expect(job.error?.code).toBe('INSUFFICIENT_STORAGE');
    expect(job.attempts).toBe(1);
    // Its 360 KB upload was deleted when it ended (KEEP_JOB_AUDIO=false): only its log and record are left.
    expect(await bytesUnder(join(server.dataDir, 'jobs'))).toBeLessThan(50_000);

    const before = ((await (await fetch(`${server.url}/api/v1/jobs`)).json()) as { jobs: unknown[] }).jobs.length;
    await expectFull(await postAudio(`${server.url}/api/v1/jobs`, tooBig));
    expect(((await (await fetch(`${server.url}/api/v1/jobs`)).json()) as { jobs: unknown[] }).jobs).toHaveLength(before);

    const ok = await waitFinished(server.url, (await submitJob(server.url, SHORT.path)).job_id);
    expect(ok.status).toBe('completed');
    expect((await getJob(server.url, accepted.job_id)).status).toBe('failed');
  });

  it('the page says the disk is full and when to try again', async () => {
    requireBuiltPage();
    const browser = await launchBrowser();
    try {
      const page = await openPage(browser, `${server.url}/`, []);
      await page.locator('input[name=mode][value=sync]').check();
      // A file whose upload fits and whose decoded audio does not: the 507 comes after the whole body,
      // as the browser sent it (an early refusal closes the connection under a large upload).
      await page.locator('#file-input').setInputFiles([expands]);
      await page.getByRole('button', { name: 'Upload 1 file' }).click();
      const note = page.locator('.note-error .note-title');
      await note.waitFor();
      expect(await note.textContent()).toBe('The server\'s disk is full, so it could not take “expands.mp3”. Try again in 60 seconds. If it goes on, tell whoever runs the server.');
    } finally {
      await browser.close();
    }
  });

  it('reports the volume in hark_data_dir_bytes, as statfs sees it', async () => {
    const m = await scrape(server.url);
    const value = (type: string) => m.samples.find((s) => s.name === 'hark_data_dir_bytes' && s.labels['type'] === type)?.value;
    const fs = statfsSync(volume);
    expect(value('size')).toBe(VOLUME_BYTES);
    expect(value('size')).toBe(fs.blocks * fs.bsize);
    expect(Math.abs(value('available')! - fs.bavail * fs.bsize)).toBeLessThan(256 * 1024);
    expect(value('available')).toBeLessThan(VOLUME_BYTES);
    // The 507s were counted, for HarkDataDirFull.
    expect(m.samples.find((s) => s.name === 'hark_errors_total' && s.labels['code'] === 'INSUFFICIENT_STORAGE')?.value).toBe(7);
  });

  // Last: it fills the volume, then empties it again.
  it('fails a model download when the disk fills during it, keeping what it has for the next pull to resume', async () => {
    const file = noise(1024 * 1024);
    const host = await startFakeModelHost({ 'ggml-fills.bin': file });
    host.set({ pieceDelayMs: 50 });
    const dest = join(volume, 'models', 'ggml-fills.bin');
    const filler = join(volume, 'filler');
    const room = statfsSync(volume);
    expect(room.bavail * room.bsize).toBeGreaterThan(file.length);
    try {
      let filled = false;
      const err = await pullModel({
        url: `${host.baseUrl}/ggml-fills.bin`,
        dest,
        expected: { bytes: file.length, sha1: null },
        onProgress: () => {
          if (filled) return;
          filled = true;
          // Someone else takes the rest of the disk while the model comes in.
          try {
            writeFileSync(filler, Buffer.alloc(VOLUME_BYTES));
          } catch {
            // ENOSPC once the volume is full, as intended.
          }
        },
      }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'INSUFFICIENT_STORAGE' });
      expect((err as Error).message).toMatch(
        new RegExp(`^the disk holding ${join(volume, 'models')} filled up during the download: \\d+\\.\\d MB of 1\\.0 MB kept in ${dest}\\.part; run the same command again to resume once there is room$`),
      );
      expect(statSync(`${dest}.part`).size).toBeGreaterThan(0);
      expect(existsSync(dest)).toBe(false);
    } finally {
      await host.close();
      await rm(filler, { force: true });
      await rm(join(volume, 'models'), { recursive: true, force: true });
    }
  });
});
