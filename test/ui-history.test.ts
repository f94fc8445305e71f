import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { wavHeader } from './support/audio.js';
import { describeViolations, launchBrowser, seriousA11yViolations, watchPage, type PageWatch, type TestBrowser } from './support/browser.js';
import { waitFor } from './support/child-server.js';
import { clip } from './support/corpus.js';
import { waitFinished } from './support/jobs.js';
import { createKeyWithCli } from './support/keys-cli.js';
import { startTestServer, type TestServer } from './support/server.js';

/*
 * Issue 24, defect 7: History searches every job on the server (file names and
 * transcripts), keeps its filter and search in the URL so Back restores them, and
 * never says "No jobs yet" beside "cannot be loaded".
 */

const UI_DIR = fileURLToPath(new URL('../dist/ui/', import.meta.url));
const SPOKEN = clip('1089-134686-0000');
/** More jobs than the page's first load (25): the spoken one is older than all of them. */
const FILLERS = 30;

let server: TestServer;
let keyed: TestServer;
let browser: TestBrowser;
/** A key that may transcribe but not read jobs. */
let noJobs: string;
/** A word the engine heard in the spoken job, and that no file name holds. */
let heard: string;
let pages: Page[] = [];
const watches: PageWatch[] = [];

async function submit(name: string, audio: Buffer): Promise<string> {
  const form = new FormData();
  form.append('isolation', 'in-process');
  form.append('file', new Blob([audio], { type: 'audio/wav' }), name);
  const res = await fetch(`${server.url}/api/v1/jobs`, { method: 'POST', body: form });
  if (res.status !== 202) throw new Error(`submit answered ${res.status}: ${await res.text()}`);
  return ((await res.json()) as { job_id: string }).job_id;
}

beforeAll(async () => {
  if (!existsSync(join(UI_DIR, 'index.html'))) throw new Error('dist/ui is missing: run `npm run build:ui` (make test builds it)');
  [server, keyed, browser] = await Promise.all([startTestServer(), startTestServer({ AUTH_MODE: 'api_key' }), launchBrowser()]);
  noJobs = await createKeyWithCli(keyed.dataDir, 'no-jobs', 'transcribe');
  const spoken = await submit('Quarterly Review.wav', await readFile(SPOKEN.path));
  const done = await waitFinished(server.url, spoken);
  expect(done.status).toBe('completed');
  const result = (await (await fetch(`${server.url}/api/v1/jobs/${spoken}/result?format=json`)).json()) as { text: string };
  heard = result.text.split(/\s+/).sort((a, b) => b.length - a.length)[0]!;
  expect(heard.length).toBeGreaterThanOrEqual(5);
  // Half a second of silence each: quick to run, nothing heard.
  const silence = Buffer.concat([wavHeader(16_000), Buffer.alloc(16_000)]);
  const fillers: string[] = [];
  for (let i = 0; i < FILLERS; i++) fillers.push(await submit(`filler-${String(i).padStart(2, '0')}.wav`, silence));
  for (const id of fillers) await waitFinished(server.url, id);
}, 120_000);

afterEach(async () => {
  for (const p of pages) await p.close();
  pages = [];
});

afterAll(async () => {
  await browser?.close();
  await Promise.all([server?.stop(), keyed?.stop()]);
});

async function open(base: string, path: string, key?: string): Promise<Page> {
  const p = await browser.context.newPage();
  pages.push(p);
  watches.push(watchPage(p, base));
  if (key !== undefined) await p.addInitScript({ content: `sessionStorage.setItem('hark.apiKey', ${JSON.stringify(key)})` });
  await p.goto(`${base}${path}`);
  return p;
}

async function expectAccessible(p: Page, view: string): Promise<void> {
  for (const colorScheme of ['light', 'dark'] as const) {
    await p.emulateMedia({ colorScheme });
    expect(describeViolations(await seriousA11yViolations(p)), `${view} (${colorScheme})`).toBe('');
  }
  await p.emulateMedia({ colorScheme: 'light' });
}

const fileLinks = (p: Page) => p.locator('.jobs-table .cell-file a');

/** The file names the table shows once it settles on `expected` (polled: the search waits for typing to pause). */
async function expectRows(p: Page, expected: string[]): Promise<void> {
  let last: string[] = [];
  await waitFor(async () => {
    last = await fileLinks(p).allTextContents();
    return JSON.stringify(last) === JSON.stringify(expected);
  }, 10_000, 100).catch(() => {
    throw new Error(`the table shows ${JSON.stringify(last)}, not ${JSON.stringify(expected)}`);
  });
}

describe('web page: History', () => {
  it('searches every job on the server, by file name and by transcript, whatever the loaded pages', async () => {
    const p = await open(server.url, '/#/jobs');
    await fileLinks(p).first().waitFor();
    expect(await fileLinks(p).count()).toBe(25);
    expect(await fileLinks(p).allTextContents()).not.toContain('Quarterly Review.wav');

    const search = p.getByRole('searchbox');
    // Case does not matter; the job is older than every loaded one.
    await search.fill('quarterly');
    await expectRows(p, ['Quarterly Review.wav']);
    // A word of its transcript, in capitals.
    await search.fill(heard.toUpperCase());
    await expectRows(p, ['Quarterly Review.wav']);
    await expectAccessible(p, 'history (search)');
    // LIKE's wildcards are plain characters: "filler_0" names no job ("filler-0x" do).
    await search.fill('filler_0');
    await expectRows(p, []);
    await p.locator('.empty', { hasText: 'filler_0' }).waitFor();
    expect(await p.locator('.empty').textContent()).not.toContain('No jobs yet');
    await search.fill('filler-0');
    await expectRows(p, Array.from({ length: 10 }, (_, i) => `filler-0${9 - i}.wav`));
  }, 60_000);

  it('keeps the filter and the search in the URL, so Back restores them', async () => {
    const p = await open(server.url, '/#/jobs');
    await fileLinks(p).first().waitFor();
    await p.getByLabel('Status').selectOption('completed');
    await p.getByRole('searchbox').fill('review');
    await expectRows(p, ['Quarterly Review.wav']);
    await waitFor(async () => new URL(p.url()).hash.includes('q=review'), 5_000, 50);
    expect(new URL(p.url()).hash).toMatch(/^#\/jobs\?/);

    await fileLinks(p).first().click();
    await p.locator('h1', { hasText: 'Quarterly Review.wav' }).waitFor();
    await p.goBack();
    await expectRows(p, ['Quarterly Review.wav']);
    expect(await p.getByRole('searchbox').inputValue()).toBe('review');
    expect(await p.getByLabel('Status').inputValue()).toBe('completed');

    // The URL alone opens the same list (a bookmark, a reload).
    const again = await open(server.url, '/#/jobs?status=completed&q=filler-07');
    await expectRows(again, ['filler-07.wav']);
    expect(await again.getByRole('searchbox').inputValue()).toBe('filler-07');
    // The navigation's History link starts over.
    await again.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'History' }).click();
    await waitFor(async () => (await fileLinks(again).count()) === 25, 10_000, 100);
    expect(await again.getByRole('searchbox').inputValue()).toBe('');
  }, 60_000);

  it('a list that cannot be loaded says so, and not that there are no jobs', async () => {
    // This key may not read jobs: the list answers 403.
    const p = await open(keyed.url, '/#/jobs', noJobs);
    await p.locator('.note-error', { hasText: 'cannot be loaded' }).waitFor({ timeout: 15_000 });
    // Give every view's first poll time to answer.
    await p.waitForTimeout(500);
    expect(await p.locator('main').textContent()).not.toContain('No jobs yet');
    expect(await p.locator('.jobs-table').count()).toBe(0);
    await expectAccessible(p, 'history (refused)');
  }, 60_000);

  it('sent no request outside the server and threw nothing', () => {
    expect(watches.flatMap((w) => w.external)).toEqual([]);
    expect(watches.flatMap((w) => w.errors)).toEqual([]);
  });
});
