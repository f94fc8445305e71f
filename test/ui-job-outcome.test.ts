import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { joinWavs, wavData, wavHeader } from './support/audio.js';
import { expectAccessible, openPage, startServerAndBrowser, type PageWatch, type TestBrowser } from './support/browser.js';
import type { ChildServer } from './support/child-server.js';
import { clip, devClips } from './support/corpus.js';
import { getJob, submitJob, waitFinished, waitForJob } from './support/jobs.js';

const REFERENCE = clip('1089-134686-0000');
const NBSP = '\u00a0';

let server: ChildServer;
let browser: TestBrowser;
let work: string;
const watches: PageWatch[] = [];

const open = (path: string, viewport?: { width: number; height: number }) => openPage(browser, `${server.url}${path}`, watches, viewport);

const fact = (page: Page, name: string) => page.locator(`dd[data-fact="${name}"]`);
const badge = (page: Page, status: string) => page.locator('.status-line .badge', { hasText: status });
const outcome = (page: Page) => page.locator('[data-outcome]');

/** Speech, then silence up to exactly `seconds`: a length whose fraction tells floor from round. */
function paddedWav(seconds: number, out: string): void {
  const speech = wavData(REFERENCE.path);
  const data = Buffer.concat([speech, Buffer.alloc(Math.round(seconds * 16_000) * 2 - speech.length)]);
  writeFileSync(out, Buffer.concat([wavHeader(data.length), data]));
}

/** 60 s of a tone in Matroska whose header states 10 s: accepted, then refused by the decoder (INVALID_AUDIO). */
async function lyingMatroska(dir: string): Promise<string> {
  const honest = join(dir, 'honest.mka');
  await promisify(execFile)('ffmpeg', ['-nostdin', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'sine=frequency=440:duration=60:sample_rate=16000', '-ac', '1', '-c:a', 'libopus', '-b:a', '8k', honest]);
  const bytes = await readFile(honest);
  const at = bytes.indexOf(Buffer.from([0x44, 0x89, 0x88]));
  expect(at, 'no 8-byte Duration element').toBeGreaterThan(0);
  bytes.writeDoubleBE(10_000, at + 3);
  const out = join(dir, 'damaged.mka');
  await writeFile(out, bytes);
  return out;
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'hark-ui-outcome-'));
  [server, browser] = await startServerAndBrowser(
    { WORKER_COUNT: '1', IN_PROCESS_CONCURRENCY: '1', KEEP_JOB_AUDIO: 'true', LOG_LEVEL: 'warn' },
    // A locale whose default clock is 12-hour, so a time written without the page's own choice shows.
    { extraArgs: ['--lang=en-US'] },
  );
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

describe('numbers on the job page', () => {
  it('floors 119.7 s the same way in the facts and the transcript, writes 24-hour times and keeps "%" with its number on a phone', async () => {
    const file = join(work, 'padded.wav');
    paddedWav(119.7, file);
    const { job_id: id } = await submitJob(server.url, file);
    expect((await waitFinished(server.url, id)).status).toBe('completed');
    const page = await open(`/#/jobs/${id}`, { width: 360, height: 740 });
    await badge(page, 'Completed').waitFor();
    expect(await fact(page, 'Audio').textContent()).toBe('1:59');
    const meta = (await page.locator('.meta-line').textContent()) ?? '';
    expect(meta).toContain(`1${NBSP}min 59${NBSP}s of audio`);
    expect(meta).toMatch(/ \d+ words? ·/);
    expect(meta).toMatch(new RegExp(`confidence \\d+${NBSP}%`));
    // Submitted today: a time of day, on the same 24-hour clock as the log's lines.
    expect(await fact(page, 'Submitted').textContent()).toMatch(/^\d{2}:\d{2}:\d{2}$/);
    await page.locator('.log-time').first().waitFor();
    for (const t of await page.locator('.log-time').allTextContents()) expect(t).toMatch(/^\d{2}:\d{2}:\d{2}\.\d{3}$/);
    expect(await page.locator('main').textContent()).not.toMatch(/\b[AP]M\b/);
    await page.close();
  }, 90_000);
});

describe('ended jobs', () => {
  it('shows a cancelled job as a neutral state that Retry runs again to completion', async () => {
    // The only engine is busy with a long job, so the second waits and is cancelled while queued.
    const long = join(work, 'long.wav');
    joinWavs(devClips.slice(0, 8).map((c) => c.path), long);
    const busy = await submitJob(server.url, long);
    await waitForJob(server.url, busy.job_id, (j) => j.status === 'running');
    const { job_id: id } = await submitJob(server.url, REFERENCE.path);
    const early = await fetch(`${server.url}/api/v1/jobs/${id}/retry`, { method: 'POST' });
    expect(early.status).toBe(409);
    expect(((await early.json()) as { error: { code: string } }).error.code).toBe('JOB_NOT_FINISHED');
    for (const j of [id, busy.job_id]) expect((await fetch(`${server.url}/api/v1/jobs/${j}/cancel`, { method: 'POST' })).status).toBe(200);

    const page = await open(`/#/jobs/${id}`);
    await badge(page, 'Cancelled').waitFor();
    await expect.poll(() => outcome(page).textContent()).toContain('Stopped before it finished');
    expect(await outcome(page).getAttribute('class')).not.toContain('note-error');
    expect(await page.getByRole('alert').count()).toBe(0);
    expect(await outcome(page).getByRole('button', { name: 'Delete' }).isVisible()).toBe(true);
    await expectAccessible(page, 'cancelled job');

    await outcome(page).getByRole('button', { name: 'Retry' }).click();
    await page.waitForURL((u) => /#\/jobs\/[\w-]+$/.test(u.hash) && !u.hash.endsWith(id));
    const next = page.url().split('/').pop()!;
    await badge(page, 'Completed').waitFor({ timeout: 60_000 });
    await page.locator('.seg-text').first().waitFor();
    const job = await getJob(server.url, next);
    expect(job).toMatchObject({ status: 'completed', file_name: `${REFERENCE.id}.wav`, engine: (await getJob(server.url, id)).engine });
    expect((await getJob(server.url, id)).status).toBe('cancelled');
    await page.close();
  }, 120_000);

  it('says in words why a job failed and what to do; Retry says when the audio is gone; Delete asks, removes it and goes back to History', async () => {
    const { job_id: id } = await submitJob(server.url, await lyingMatroska(work));
    const failed = await waitFinished(server.url, id);
    expect(failed.status).toBe('failed');
    expect(failed.error?.code).toBe('INVALID_AUDIO');

    const page = await open(`/#/jobs/${id}`);
    await badge(page, 'Failed').waitFor();
    const note = outcome(page);
    await expect.poll(() => note.textContent()).toContain('The audio could not be decoded');
    expect(await note.textContent()).toContain('convert it to WAV or FLAC, and upload it again');
    expect(await note.textContent()).toContain('INVALID_AUDIO');
    // A failed job is the job's news, not an error of the page.
    expect(await page.getByRole('alert').count()).toBe(0);
    await expectAccessible(page, 'failed job');

    // The audio goes (as KEEP_JOB_AUDIO=false does) while the page still offers Retry: it says so, and stops offering it.
    await rm(join(server.dataDir, 'jobs', id, 'audio'));
    await note.getByRole('button', { name: 'Retry' }).click();
    await expect.poll(() => note.textContent()).toContain('Its audio was not kept');
    expect(await note.getByRole('button', { name: 'Retry' }).count()).toBe(0);
    const gone = await fetch(`${server.url}/api/v1/jobs/${id}/retry`, { method: 'POST' });
    expect(gone.status).toBe(410);
    expect(((await gone.json()) as { error: { code: string } }).error.code).toBe('JOB_AUDIO_GONE');

    await note.getByRole('button', { name: 'Delete' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete this job?' });
    await dialog.getByRole('button', { name: 'Keep it' }).click();
    expect((await fetch(`${server.url}/api/v1/jobs/${id}`)).status).toBe(200);
    await note.getByRole('button', { name: 'Delete' }).click();
    await dialog.getByRole('button', { name: 'Delete' }).click();
    await page.waitForURL((u) => u.hash === '#/jobs');
    expect((await fetch(`${server.url}/api/v1/jobs/${id}`)).status).toBe(404);
    await page.close();
  }, 90_000);

  it('sent no request outside the server, opened no dialog and threw nothing', () => {
    for (const w of watches) expect(w).toEqual({ external: [], dialogs: [], errors: [] });
  });
});
