import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { joinWavs, wavHeader } from './support/audio.js';
import { expectAccessible, isFocused, openPage, startServerAndBrowser, tabTo, type PageWatch, type TestBrowser } from './support/browser.js';
import { waitFor, type ChildServer } from './support/child-server.js';
import { devClips } from './support/corpus.js';
import { waitFinished, waitForJob } from './support/jobs.js';

/*
 * Issue 24, "What to build" item 3, on the page: History filters by the day a job was
 * submitted and sorts either way (kept in the URL), selects several jobs to export their
 * transcripts as one ZIP or delete them (asked first; unfinished ones are kept and said so),
 * and renames a job in place. Jobs are seeded through the HTTP API; two are then backdated
 * in the store, since no API sets when a job was submitted.
 */

const DAY_MS = 86_400_000;
/** Half a second of silence: a job that completes at once with an empty transcript. */
const SILENCE = Buffer.concat([wavHeader(16_000), Buffer.alloc(16_000)]);

let server: ChildServer;
let browser: TestBrowser;
let work: string;
const watches: PageWatch[] = [];
let pages: Page[] = [];
const ids = new Map<string, string>();

/** A local calendar day (`2026-12-05`), `days` from today, as a date input and the page's URL write it. */
function day(days: number): string {
  const d = new Date(Date.now() + days * DAY_MS);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

async function submit(name: string, audio: Buffer = SILENCE): Promise<string> {
  const form = new FormData();
  form.append('isolation', 'in-process');
  form.append('file', new Blob([audio], { type: 'audio/wav' }), name);
  const res = await fetch(`${server.url}/api/v1/jobs`, { method: 'POST', body: form });
  if (res.status !== 202) throw new Error(`submit answered ${res.status}: ${await res.text()}`);
  const id = ((await res.json()) as { job_id: string }).job_id;
  ids.set(name, id);
  return id;
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'hark-ui-manage-'));
  [server, browser] = await startServerAndBrowser({ IN_PROCESS_CONCURRENCY: '1', WORKER_COUNT: '1', LOG_LEVEL: 'warn' });
  for (const name of ['older-notes.wav', 'old-notes.wav', 'alpha.wav', 'beta.wav', 'gamma.wav', 'delta.wav']) await submit(name);
  for (const id of ids.values()) expect((await waitFinished(server.url, id)).status).toBe('completed');
  // Noon of a day 10 (and 15) days ago, local time: far from midnight whatever the time zone.
  const db = new Database(join(server.dataDir, 'hark.db'));
  const noon = (days: number) => new Date(`${day(days)}T12:00:00`).getTime();
  const backdate = db.prepare('UPDATE transcription_jobs SET created_at = ? WHERE id = ?');
  backdate.run(noon(-10), ids.get('old-notes.wav'));
  backdate.run(noon(-15), ids.get('older-notes.wav'));
  db.close();
}, 60_000);

afterEach(async () => {
  for (const p of pages) await p.close();
  pages = [];
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  if (work !== undefined) await rm(work, { recursive: true, force: true });
  for (const w of watches) expect(w.errors, 'uncaught errors in the page').toEqual([]);
});

async function open(path: string, viewport?: { width: number; height: number }): Promise<Page> {
  const p = await openPage(browser, `${server.url}${path}`, watches, viewport);
  pages.push(p);
  return p;
}

const fileLinks = (p: Page) => p.locator('.jobs-table .job-name a');
const rowBox = (p: Page, name: string) => p.getByRole('checkbox', { name: `Select ${name}`, exact: true });
const bar = (p: Page) => p.getByRole('group', { name: 'Selected jobs' });

/** The file names the table shows once it settles on `expected`. */
async function expectRows(p: Page, expected: string[]): Promise<void> {
  let last: string[] = [];
  await waitFor(async () => {
    last = await fileLinks(p).allTextContents();
    return JSON.stringify(last) === JSON.stringify(expected);
  }, 10_000, 50).catch(() => {
    throw new Error(`the table shows ${JSON.stringify(last)}, not ${JSON.stringify(expected)}`);
  });
}

/** The files of a ZIP and their text, as Python's zipfile (a reader other than ours) sees them. */
async function zipFiles(bytes: Buffer): Promise<Record<string, string>> {
  const file = join(work, `export-${Date.now()}.zip`);
  await writeFile(file, bytes);
  const script = 'import sys, zipfile, json\nz = zipfile.ZipFile(sys.argv[1])\nassert z.testzip() is None\nprint(json.dumps({i.filename: z.read(i).decode() for i in z.infolist()}))\n';
  const { stdout } = await promisify(execFile)('python3', ['-c', script, file]);
  return JSON.parse(stdout) as Record<string, string>;
}

describe('web page: managing jobs in History', () => {
  it('narrows the list to the days asked, sorts oldest first, and Back restores both', async () => {
    const p = await open('/#/jobs');
    await fileLinks(p).first().waitFor();
    expect(await fileLinks(p).count()).toBe(6);

    await p.getByLabel('Submitted to').fill(day(-9));
    await expectRows(p, ['old-notes.wav', 'older-notes.wav']);
    await p.getByLabel('Order').selectOption('oldest');
    await expectRows(p, ['older-notes.wav', 'old-notes.wav']);
    await p.getByLabel('Submitted from').fill(day(-11));
    await expectRows(p, ['old-notes.wav']);
    // The `to` day is included: a window of that one day keeps the job.
    await p.getByLabel('Submitted to').fill(day(-10));
    await p.getByLabel('Submitted from').fill(day(-10));
    await expectRows(p, ['old-notes.wav']);
    await waitFor(async () => new URL(p.url()).hash === `#/jobs?from=${day(-10)}&to=${day(-10)}&order=oldest`, 5_000, 50);

    await fileLinks(p).first().click();
    await p.locator('h1', { hasText: 'old-notes.wav' }).waitFor();
    await p.goBack();
    await expectRows(p, ['old-notes.wav']);
    expect(await p.getByLabel('Submitted from').inputValue()).toBe(day(-10));
    expect(await p.getByLabel('Submitted to').inputValue()).toBe(day(-10));
    expect(await p.getByLabel('Order').inputValue()).toBe('oldest');

    // A day with no job says so in words.
    await p.getByLabel('Submitted from').fill(day(-12));
    await p.getByLabel('Submitted to').fill(day(-11));
    await p.locator('.empty', { hasText: `No jobs submitted from ${day(-12)} to ${day(-11)}.` }).waitFor();
  }, 30_000);

  it('exports two selected jobs as one ZIP in the format chosen', async () => {
    const p = await open('/#/jobs');
    await fileLinks(p).first().waitFor();
    await expect.poll(() => bar(p).textContent()).toContain('None selected');
    await rowBox(p, 'alpha.wav').check();
    await rowBox(p, 'beta.wav').check();
    await expect.poll(() => bar(p).locator('.selection-count').textContent()).toBe('2 selected');
    await bar(p).getByLabel('Format').selectOption('json');
    const [download] = await Promise.all([p.waitForEvent('download'), bar(p).getByRole('button', { name: 'Export' }).click()]);
    expect(download.suggestedFilename()).toBe('hark-transcripts-json.zip');
    const bytes = await readFile(await download.path());
    expect(bytes.subarray(0, 2).toString()).toBe('PK');
    const files = await zipFiles(bytes);
    expect(Object.keys(files).sort()).toEqual(['alpha.json', 'beta.json']);
    expect((JSON.parse(files['alpha.json']!) as { id: string; file_name: string }).id).toBe(ids.get('alpha.wav'));
    await p.getByRole('status').filter({ hasText: 'Saved hark-transcripts-json.zip: 2 transcripts as JSON.' }).waitFor();
  }, 30_000);

  it('deletes the selected jobs after asking, keeps an unfinished one and says why', async () => {
    // The only engine is busy with a long job (minutes of speech, cancelled as soon as the deletion
    // is answered), so the next one waits in the queue.
    const long = join(work, 'long.wav');
    joinWavs(devClips.slice(0, 20).map((c) => c.path), long);
    const busy = await submit('busy.wav', await readFile(long));
    await waitForJob(server.url, busy, (j) => j.status === 'running');
    const waiting = await submit('waiting.wav');
    try {
      const p = await open('/#/jobs');
      await rowBox(p, 'waiting.wav').check();
      await rowBox(p, 'gamma.wav').check();
      await bar(p).getByRole('button', { name: 'Delete' }).click();
      const dialog = p.getByRole('dialog', { name: 'Delete 2 jobs?' });
      await dialog.waitFor();
      expect(await dialog.textContent()).toContain('“waiting.wav” has not finished and will be kept');
      await dialog.getByRole('button', { name: 'Delete' }).click();

      const notice = p.locator('.history-notice');
      await notice.filter({ hasText: 'Deleted 1 job. 1 job kept:' }).waitFor();
      await fetch(`${server.url}/api/v1/jobs/${busy}/cancel`, { method: 'POST' });
      expect(await notice.textContent()).toContain('“waiting.wav” has not finished: stop it on its page first');
      // The rows and the buttons it acted from are gone: focus is on what it says.
      expect(await isFocused(p, notice)).toBe(true);
      await expect.poll(() => fileLinks(p).allTextContents()).not.toContain('gamma.wav');
      expect(await fileLinks(p).allTextContents()).toContain('waiting.wav');
      expect((await fetch(`${server.url}/api/v1/jobs/${ids.get('gamma.wav')}`)).status).toBe(404);
      expect((await fetch(`${server.url}/api/v1/jobs/${waiting}`)).status).toBe(200);
      await expectAccessible(p, 'history after a deletion');
    } finally {
      for (const id of [waiting, busy]) await fetch(`${server.url}/api/v1/jobs/${id}/cancel`, { method: 'POST' });
    }
  }, 30_000);

  it('renames a job in place with the keyboard, and shows the server refusing a name', async () => {
    const p = await open('/#/jobs');
    const rename = p.getByRole('button', { name: 'Rename delta.wav' });
    await rename.focus();
    await p.keyboard.press('Enter');
    const field = p.getByRole('textbox', { name: 'New name for delta.wav' });
    expect(await isFocused(p, field)).toBe(true);
    await p.keyboard.press('ControlOrMeta+a');
    await p.keyboard.type('minutes/draft');
    await p.keyboard.press('Enter');
    await p.getByRole('alert').filter({ hasText: 'without “/”' }).waitFor();
    expect(await field.getAttribute('aria-invalid')).toBe('true');
    expect(await isFocused(p, field)).toBe(true);
    // Escape gives up: the old name stays, focus goes back to Rename.
    await p.keyboard.press('Escape');
    expect(await isFocused(p, rename)).toBe(true);
    expect(await fileLinks(p).allTextContents()).toContain('delta.wav');

    await p.keyboard.press('Enter');
    await p.keyboard.press('ControlOrMeta+a');
    await p.keyboard.type('Board minutes.wav');
    await p.keyboard.press('Enter');
    const renamed = p.getByRole('button', { name: 'Rename Board minutes.wav' });
    await renamed.waitFor();
    expect(await isFocused(p, renamed)).toBe(true);
    const job = (await (await fetch(`${server.url}/api/v1/jobs/${ids.get('delta.wav')}`)).json()) as { file_name: string };
    expect(job.file_name).toBe('Board minutes.wav');
  }, 30_000);

  it("renames a job under its page's heading: the heading shows the new name, focus back on Rename", async () => {
    const id = ids.get('alpha.wav')!;
    const p = await open(`/#/jobs/${id}`);
    await p.getByRole('heading', { level: 1, name: 'alpha.wav' }).waitFor();
    const rename = p.getByRole('button', { name: 'Rename alpha.wav' });
    await rename.click();
    const field = p.getByRole('textbox', { name: 'New name for alpha.wav' });
    expect(await isFocused(p, field)).toBe(true);
    await field.fill('Standup 4 December');
    await p.keyboard.press('Enter');
    await p.getByRole('heading', { level: 1, name: 'Standup 4 December' }).waitFor();
    expect(await isFocused(p, p.getByRole('button', { name: 'Rename Standup 4 December' }))).toBe(true);
    const job = (await (await fetch(`${server.url}/api/v1/jobs/${id}`)).json()) as { file_name: string };
    expect(job.file_name).toBe('Standup 4 December');
    await expectAccessible(p, 'a job page after a rename');
  }, 30_000);

  it('selects with the keyboard alone, stays accessible in both themes, and Clear selection empties it', async () => {
    const p = await open('/#/jobs?q=notes');
    await expectRows(p, ['old-notes.wav', 'older-notes.wav']);
    await p.getByRole('searchbox').focus();
    const first = rowBox(p, 'old-notes.wav');
    await tabTo(p, first, { max: 25 });
    await p.keyboard.press('Space');
    // Past its link and its Rename button, to the next row's box.
    await tabTo(p, rowBox(p, 'older-notes.wav'), { max: 3 });
    await p.keyboard.press('Space');
    await expect.poll(() => bar(p).locator('.selection-count').textContent()).toBe('2 selected');
    expect(await bar(p).getByRole('checkbox', { name: 'Select all shown' }).isChecked()).toBe(true);
    await expectAccessible(p, 'history with a selection');

    // Back up the page, past the first row, to the bar above the table.
    const clear = bar(p).getByRole('button', { name: 'Clear selection' });
    await tabTo(p, clear, { max: 6, key: 'Shift+Tab' });
    await p.keyboard.press('Enter');
    await expect.poll(() => bar(p).locator('.selection-count').textContent()).toBe('None selected');
    expect(await first.isChecked()).toBe(false);
  }, 30_000);

  it('fits the selection bar on a phone', async () => {
    const p = await open('/#/jobs', { width: 360, height: 740 });
    await bar(p).getByRole('checkbox', { name: 'Select all shown' }).check();
    await bar(p).getByRole('button', { name: 'Delete' }).waitFor();
    for (const control of await bar(p).locator('button:visible, select:visible, input:visible').all()) {
      const box = (await control.boundingBox())!;
      expect(box.x).toBeGreaterThanOrEqual(0);
      expect(box.x + box.width).toBeLessThanOrEqual(360);
    }
    expect(await p.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(360);
  }, 30_000);
});
