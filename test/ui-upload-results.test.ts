import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { expectAccessible, openPage, startServerAndBrowser, type PageWatch, type TestBrowser } from './support/browser.js';
import type { ChildServer } from './support/child-server.js';
import { clip } from './support/corpus.js';
import { getJob, waitFinished } from './support/jobs.js';

/*
 * Issue 24, defect 4: upload answers stay on the upload view until the user dismisses
 * them (adding files no longer clears them), one file accepted as a job opens its page,
 * several each link to theirs, and a sync transcript can be kept as a job.
 */

const FIRST = clip('1089-134686-0000');
const SECOND = clip('1089-134686-0001');
const THIRD = clip('1089-134686-0002');

let server: ChildServer;
let browser: TestBrowser;
const watches: PageWatch[] = [];
let pages: Page[] = [];

beforeAll(async () => {
  [server, browser] = await startServerAndBrowser({ WORKER_COUNT: '1', IN_PROCESS_CONCURRENCY: '1', LOG_LEVEL: 'warn' });
}, 60_000);

afterEach(async () => {
  for (const p of pages) await p.close();
  pages = [];
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

async function open(viewport?: { width: number; height: number }): Promise<Page> {
  const page = await openPage(browser, `${server.url}/#/`, watches, viewport);
  pages.push(page);
  await page.locator('h1', { hasText: 'Transcribe audio' }).waitFor();
  return page;
}

const item = (page: Page, name: string) => page.locator('.item', { has: page.locator('.item-name', { hasText: name }) });
const jobLink = (page: Page, name: string) => item(page, name).getByRole('link', { name: `Open the job for ${name}` });

/** The job id a row's link points at. */
async function linkedJob(page: Page, name: string): Promise<string> {
  const href = (await jobLink(page, name).getAttribute('href')) ?? '';
  return decodeURIComponent(href.replace('#/jobs/', ''));
}

/** What has focus: the row's file name for a row, else its tag and text. */
function focused(page: Page): Promise<string> {
  return page.evaluate(`(() => {
    const a = document.activeElement;
    if (a === null || a === document.body) return 'the document';
    const name = a.matches('.item') ? a.querySelector('.item-name')?.textContent : null;
    return name ? 'row ' + name : a.tagName.toLowerCase() + ' "' + (a.textContent ?? '').trim().slice(0, 40) + '"';
  })()`) as Promise<string>;
}

describe('web page: upload answers', () => {
  it('keeps answers when more files are added, each linking to its job, until each is dismissed', async () => {
    const page = await open();
    await page.locator('#file-input').setInputFiles([FIRST.path, SECOND.path]);
    await page.getByRole('button', { name: 'Upload 2 files' }).focus();
    await page.keyboard.press('Enter');
    await jobLink(page, `${SECOND.id}.wav`).waitFor({ timeout: 30_000 });
    // Two jobs: the page stays, each answer says where its job is, and focus is on the first answer.
    expect(new URL(page.url()).hash).toBe('#/');
    await expect.poll(() => focused(page)).toBe(`row ${FIRST.id}.wav`);
    // Tab goes through that answer: its Dismiss, then its job.
    await page.keyboard.press('Tab');
    expect(await focused(page)).toBe(`button "Dismiss ${FIRST.id}.wav"`);
    await page.keyboard.press('Tab');
    expect(await focused(page)).toBe(`a "Open the job for ${FIRST.id}.wav"`);
    const ids = [await linkedJob(page, `${FIRST.id}.wav`), await linkedJob(page, `${SECOND.id}.wav`)];
    expect(new Set(ids).size).toBe(2);
    for (const [i, id] of ids.entries()) expect((await getJob(server.url, id)).file_name).toBe(`${[FIRST, SECOND][i]!.id}.wav`);

    // Another file: the two answers stay (they used to be cleared here).
    await page.locator('#file-input').setInputFiles([THIRD.path]);
    await item(page, `${THIRD.id}.wav`).locator('.item-phase', { hasText: 'Ready' }).waitFor();
    await jobLink(page, `${FIRST.id}.wav`).waitFor({ timeout: 2000 });
    await jobLink(page, `${SECOND.id}.wav`).waitFor({ timeout: 2000 });
    await expectAccessible(page, 'upload with kept answers');

    // Dismissed with the keyboard: the row goes, focus moves to the next row.
    await item(page, `${FIRST.id}.wav`).getByRole('button', { name: `Dismiss ${FIRST.id}.wav` }).focus();
    await page.keyboard.press('Enter');
    await item(page, `${FIRST.id}.wav`).waitFor({ state: 'detached' });
    expect(await focused(page)).toBe(`row ${SECOND.id}.wav`);
    expect(await jobLink(page, `${SECOND.id}.wav`).count()).toBe(1);
    // A file not sent yet has no Dismiss, only Remove.
    expect(await item(page, `${THIRD.id}.wav`).getByRole('button', { name: /^Dismiss/ }).count()).toBe(0);
    await item(page, `${SECOND.id}.wav`).getByRole('button', { name: `Dismiss ${SECOND.id}.wav` }).click();
    await item(page, `${SECOND.id}.wav`).waitFor({ state: 'detached' });
    expect(await page.locator('.item').count()).toBe(1);
    for (const id of ids) await waitFinished(server.url, id);
  }, 90_000);

  it('opens the job of a single accepted file, and keeps its answer for Back', async () => {
    const page = await open();
    await page.locator('#file-input').setInputFiles([FIRST.path]);
    await page.getByRole('button', { name: 'Upload 1 file' }).click();
    await page.waitForURL(/#\/jobs\/[\w-]+$/, { timeout: 30_000 });
    const id = decodeURIComponent(new URL(page.url()).hash.replace('#/jobs/', ''));
    expect((await getJob(server.url, id)).file_name).toBe(`${FIRST.id}.wav`);
    await page.locator('h1#job-title').waitFor();
    expect(await focused(page)).toMatch(/^h1 /);
    // Back: the answer is still on the upload view, pointing at the same job.
    await page.goBack();
    await jobLink(page, `${FIRST.id}.wav`).waitFor();
    expect(await linkedJob(page, `${FIRST.id}.wav`)).toBe(id);
    await waitFinished(server.url, id);
  }, 60_000);

  it('keeps a sync transcript when files are added, and as a job when asked', async () => {
    const page = await open({ width: 390, height: 844 });
    await page.getByRole('radio', { name: /^Sync/ }).check();
    await page.locator('#file-input').setInputFiles([SECOND.path]);
    await page.getByRole('button', { name: 'Upload 1 file' }).click();
    const answer = item(page, `${SECOND.id}.wav`);
    await answer.locator('.transcript').waitFor({ timeout: 30_000 });
    const shown = (await answer.locator('.transcript').innerText()).trim();
    expect(shown.length).toBeGreaterThan(10);
    // A sync answer has no job: the page does not move.
    expect(new URL(page.url()).hash).toBe('#/');

    await page.locator('#file-input').setInputFiles([THIRD.path]);
    await item(page, `${THIRD.id}.wav`).waitFor();
    expect((await answer.locator('.transcript').innerText()).trim()).toBe(shown);

    await answer.getByRole('button', { name: `Keep as a job ${SECOND.id}.wav` }).click();
    await jobLink(page, `${SECOND.id}.wav`).waitFor({ timeout: 30_000 });
    const id = await linkedJob(page, `${SECOND.id}.wav`);
    const job = await waitFinished(server.url, id);
    expect(job).toMatchObject({ status: 'completed', file_name: `${SECOND.id}.wav` });
    // The job holds the same transcript the sync answer showed.
    const kept = (await (await fetch(`${server.url}/api/v1/jobs/${id}/result?format=json`)).json()) as { text: string };
    const syncText = (await answer.locator('.transcript').innerText()).replace(/\s+/g, ' ');
    for (const word of kept.text.trim().split(/\s+/).slice(0, 5)) expect(syncText.toLowerCase()).toContain(word.toLowerCase());
    // Still shown here, on a phone, without a sideways scroll.
    expect(await answer.locator('.transcript').count()).toBe(1);
    expect(await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth')).toBe(true);
    await expectAccessible(page, 'sync answer kept as a job (phone)');
  }, 90_000);

  it('sent no request outside the server and threw nothing', () => {
    expect(watches.flatMap((w) => [...w.external, ...w.errors, ...w.dialogs])).toEqual([]);
  });
});
