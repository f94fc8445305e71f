import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import WebSocket from 'ws';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { describeViolations, launchBrowser, seriousA11yViolations, watchPage, type PageWatch, type TestBrowser } from './support/browser.js';
import { clip } from './support/corpus.js';
import { createKeyWithCli, keysCli } from './support/keys-cli.js';
import { startTestServer, type TestServer } from './support/server.js';

/*
 * Issue 24, defect 2: a refused key, a full server and a key at its share of streams each
 * say what happened, in the microphone panel and on upload; what a retry cannot fix (401,
 * 403) offers no Retry.
 */

const UI_DIR = fileURLToPath(new URL('../dist/ui/', import.meta.url));
/** The fake microphone plays this clip; it is also the uploaded file. */
const SPOKEN = clip('1089-134686-0000');

/** No keys, one live stream at most. */
let open: TestServer;
/** Keys, one live stream per key. */
let keyed: TestServer;
let browser: TestBrowser;
/** Scope `jobs` only: no live streams, no sync transcription. */
let jobsOnly: string;
/** Scope `transcribe` only: live streams, but no jobs. */
let transcribeOnly: string;
let pages: Page[] = [];
const watches: PageWatch[] = [];
const held: WebSocket[] = [];

beforeAll(async () => {
  if (!existsSync(join(UI_DIR, 'index.html'))) throw new Error('dist/ui is missing: run `npm run build:ui` (make test builds it)');
  [open, keyed, browser] = await Promise.all([
    startTestServer({ MAX_STREAMS: '1' }),
    startTestServer({ AUTH_MODE: 'api_key', KEY_MAX_STREAMS: '1', MAX_STREAMS: '4', IN_PROCESS_CONCURRENCY: '2' }),
    launchBrowser({
      extraArgs: ['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', `--use-file-for-fake-audio-capture=${SPOKEN.path}`],
    }),
  ]);
  jobsOnly = await createKeyWithCli(keyed.dataDir, 'jobs-only', 'jobs');
  transcribeOnly = await createKeyWithCli(keyed.dataDir, 'transcribe-only', 'transcribe');
}, 60_000);

afterEach(async () => {
  for (const p of pages) await p.close();
  pages = [];
  for (const ws of held.splice(0)) ws.terminate();
});

afterAll(async () => {
  await browser?.close();
  await Promise.all([open?.stop(), keyed?.stop()]);
});

/** A page of `server` whose tab holds `key` (as the key prompt leaves it). */
async function page(server: TestServer, key?: string): Promise<Page> {
  const p = await browser.context.newPage();
  pages.push(p);
  watches.push(watchPage(p, server.url));
  if (key !== undefined) await p.addInitScript({ content: `sessionStorage.setItem('hark.apiKey', ${JSON.stringify(key)})` });
  await p.goto(`${server.url}/#/`);
  await p.locator('h1', { hasText: 'Transcribe audio' }).waitFor();
  return p;
}

/** A live stream held open from outside the page (no config sent: it holds its place all the same). */
function holdStream(server: TestServer, key?: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${server.url.replace('http', 'ws')}/v1/audio/stream`, key === undefined ? {} : { headers: { authorization: `Bearer ${key}` } });
    held.push(ws);
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.once('error', reject);
  });
}

/** Clicks Start and returns the microphone panel's error title once it shows. */
async function startRefused(p: Page): Promise<string> {
  await p.getByRole('button', { name: 'Start the microphone' }).click();
  const title = p.locator('.live-mic .note-error .note-title');
  await title.waitFor({ timeout: 15_000 });
  return (await title.textContent()) ?? '';
}

async function expectAccessible(p: Page, view: string): Promise<void> {
  for (const colorScheme of ['light', 'dark'] as const) {
    await p.emulateMedia({ colorScheme });
    expect(describeViolations(await seriousA11yViolations(p)), `${view} (${colorScheme})`).toBe('');
  }
  await p.emulateMedia({ colorScheme: 'light' });
}

const retryButton = (p: Page, scope: string) => p.locator(scope).getByRole('button', { name: /^(try again|retry)/i });

describe('web page: why a live stream or an upload was refused', () => {
  it('a key without the transcribe scope is told so, with no Retry, and offered to change the key', async () => {
    const p = await page(keyed, jobsOnly);
    const title = await startRefused(p);
    expect(title).toMatch(/may not transcribe/);
    expect(title).not.toMatch(/busy|too many/i);
    expect(await p.locator('.live-mic .note-error').textContent()).toContain('transcribe');
    expect(await retryButton(p, '.live-mic').count()).toBe(0);
    await p.locator('.live-mic').getByRole('button', { name: 'Change the API key' }).click();
    await p.getByRole('dialog').waitFor();
    await p.keyboard.press('Escape');
    await expectAccessible(p, 'microphone refused (403)');
  }, 60_000);

  it('a key refused while the page is open (401) says so and asks for another, with no Retry', async () => {
    const doomed = await createKeyWithCli(keyed.dataDir, 'doomed', 'transcribe');
    const p = await page(keyed, doomed);
    const id = /^(\S+) {2}doomed /m.exec((await keysCli(['list'], keyed.dataDir)).stdout)![1]!;
    expect((await keysCli(['revoke', id], keyed.dataDir)).code).toBe(0);
    const title = await startRefused(p);
    expect(title).toMatch(/refused this API key/);
    expect(title).not.toMatch(/busy|too many/i);
    expect(await retryButton(p, '.live-mic').count()).toBe(0);
    await p.getByRole('dialog').waitFor();
  }, 60_000);

  it('a key at its share of live streams (429) is told so, and Try again works once one ends', async () => {
    const first = await holdStream(keyed, transcribeOnly);
    const p = await page(keyed, transcribeOnly);
    const title = await startRefused(p);
    expect(title).toMatch(/as many live streams as it may/);
    first.terminate();
    // The server sees the close, then the place is free.
    await new Promise((r) => setTimeout(r, 500));
    await retryButton(p, '.live-mic').click();
    await p.getByRole('button', { name: /^Stop live transcription$/ }).waitFor({ timeout: 15_000 });
    expect(await p.locator('.live-mic .note-error').count()).toBe(0);
    await p.getByRole('button', { name: /^Stop live transcription$/ }).click();
    await p.getByRole('button', { name: 'Start the microphone' }).waitFor({ timeout: 20_000 });
  }, 60_000);

  it('a server with every live stream in use (503) says it is busy and offers Try again', async () => {
    await holdStream(open);
    const p = await page(open);
    const title = await startRefused(p);
    expect(title).toMatch(/busy: all its live streams are in use/);
    expect(await retryButton(p, '.live-mic').count()).toBe(1);
    await expectAccessible(p, 'microphone refused (503)');
  }, 60_000);

  it('an upload refused for the key (403) says why and offers no Retry', async () => {
    const p = await page(keyed, transcribeOnly);
    // Jobs need the jobs scope, which this key lacks.
    await p.locator('#file-input').setInputFiles([SPOKEN.path]);
    await p.getByRole('button', { name: 'Upload 1 file' }).click();
    const item = p.locator('.item', { has: p.locator('.item-name', { hasText: SPOKEN.id }) });
    await item.locator('.note-error').waitFor({ timeout: 15_000 });
    expect(await item.locator('.note-title').textContent()).toMatch(/may not submit jobs/);
    expect(await item.getByRole('button', { name: /^Retry/ }).count()).toBe(0);
    expect(await item.getByRole('button', { name: /^Remove/ }).count()).toBe(1);
    await expectAccessible(p, 'upload refused (403)');
  }, 60_000);

  it('sent no request outside the server and threw nothing', () => {
    expect(watches.flatMap((w) => w.external)).toEqual([]);
    expect(watches.flatMap((w) => w.errors)).toEqual([]);
  });
});
