import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tally, wer } from './support/eval/index.js';
import { describeViolations, seriousA11yViolations, startServerAndBrowser, watchPage, type AxeViolation, type PageWatch, type TestBrowser } from './support/browser.js';
import type { ChildServer } from './support/child-server.js';
import { clip } from './support/corpus.js';
import { createKeyWithCli, keysCli } from './support/keys-cli.js';

const REFERENCE = clip('1089-134686-0000');

let server: ChildServer;
let browser: TestBrowser;
let key: string;
let watch: PageWatch;

/** The key dialog, open (a closed <dialog> is hidden, so the role matches only an open one). */
const prompt = (page: Page) => page.getByRole('dialog', { name: /API key/ });

/** Types a key the server accepts: the page reloads with it. */
async function enterKey(page: Page, value: string, button = 'Use this key'): Promise<void> {
  await prompt(page).getByLabel('API key').fill(value);
  await Promise.all([page.waitForEvent('load'), prompt(page).getByRole('button', { name: button }).click()]);
}

/** Whether the dialog is a native modal (the rest of the page inert) and holds the focus. */
const modalState = (page: Page) =>
  page.evaluate(`(() => {
    const d = document.querySelector('dialog[open]');
    return { modal: d?.matches(':modal') ?? false, focusInside: d?.contains(document.activeElement) ?? false };
  })()`) as Promise<{ modal: boolean; focusInside: boolean }>;

/** Every axe violation inside the open dialog, whatever its impact. */
async function dialogViolations(page: Page): Promise<string> {
  await seriousA11yViolations(page); // loads axe
  const result = (await page.evaluate('window.axe.run("dialog[open]", { resultTypes: ["violations"] })')) as { violations: AxeViolation[] };
  return describeViolations(result.violations);
}

beforeAll(async () => {
  [server, browser] = await startServerAndBrowser({ AUTH_MODE: 'api_key', WORKER_COUNT: '1', IN_PROCESS_CONCURRENCY: '1', KEEP_JOB_AUDIO: 'true', LOG_LEVEL: 'warn' });
  key = await createKeyWithCli(server.dataDir, 'browser', 'transcribe,jobs');
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe('the web page with AUTH_MODE=api_key', () => {
  it('asks for a key, says when one is refused, and with a good one uploads, follows the live log, plays the audio and downloads', async () => {
    const page = await browser.context.newPage();
    watch = watchPage(page, server.url);
    await page.goto(server.url);
    await prompt(page).waitFor();
    await expect.poll(() => prompt(page).textContent()).toContain('This server needs an API key.');
    expect(await modalState(page)).toEqual({ modal: true, focusInside: true });
    expect(await page.evaluate('document.activeElement.id')).toBe('api-key');
    for (const colorScheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme });
      expect(describeViolations(await seriousA11yViolations(page)), `page with the key dialog (${colorScheme})`).toBe('');
      expect(await dialogViolations(page), `key dialog (${colorScheme})`).toBe('');
    }
    await page.emulateMedia({ colorScheme: 'light' });
    // The keyboard stays in the dialog, and without a key Escape does not close it.
    for (let i = 0; i < 5; i++) {
      await page.keyboard.press('Tab');
      expect((await modalState(page)).focusInside, `after Tab ${i + 1}`).toBe(true);
    }
    await page.keyboard.press('Escape');
    await page.keyboard.press('Escape');
    await page.waitForTimeout(200);
    expect(await modalState(page)).toEqual({ modal: true, focusInside: true });

    // A wrong key is reported in the dialog, which stays open for another try.
    await page.locator('#api-key').fill('hark_not-a-key-anyone-made');
    await page.getByRole('button', { name: 'Use this key' }).click();
    await expect.poll(() => prompt(page).getByRole('alert').textContent()).toContain('The server refused this key');
    expect(await page.locator('#api-key').getAttribute('aria-invalid')).toBe('true');
    expect(await modalState(page)).toEqual({ modal: true, focusInside: true });

    await enterKey(page, key);
    await page.locator('h1', { hasText: 'Transcribe audio' }).waitFor();
    expect(await prompt(page).count()).toBe(0);
    // The session cookie is HttpOnly: the page's scripts cannot read it.
    expect(await page.evaluate('document.cookie')).not.toContain('hark_session');
    const cookies = await browser.context.cookies(server.url);
    expect(cookies.find((c) => c.name === 'hark_session')).toMatchObject({ httpOnly: true, sameSite: 'Strict', secure: false });

    await page.locator('#file-input').setInputFiles([REFERENCE.path]);
    await page.getByRole('button', { name: 'Upload 1 file' }).click();
    // One file accepted: its job page opens by itself.
    await page.waitForURL(/#\/jobs\/[\w-]+$/, { timeout: 30_000 });
    await page.locator('.status-line .badge', { hasText: 'Completed' }).waitFor({ timeout: 60_000 });
    const text = (await page.locator('.seg-text').allTextContents()).join(' ');
    expect(wer([tally(REFERENCE.transcript, text)])).toBeLessThan(0.35);

    // What the browser fetches by itself, with no header the page could add: the live log
    // (EventSource), the audio player and the download links all pass on the session cookie.
    await page.locator('.conn', { hasText: 'Ended' }).waitFor();
    expect((await page.locator('.log-line').allTextContents()).join('\n')).toMatch(/completed in/);
    await page.waitForFunction('document.querySelector("audio.player").readyState >= 1');
    const href = (await page.locator('.downloads a').first().getAttribute('href'))!;
    expect(await page.evaluate(`fetch(${JSON.stringify(href)}).then((r) => r.status)`)).toBe(200);
    // Without the cookie (or a key) the same link is refused.
    expect((await fetch(`${server.url}${href}`)).status).toBe(401);
    await page.close();
  });

  it('the session cookie authorises reads only, and ends with its key', async () => {
    const [cookie] = (await browser.context.cookies(server.url)).filter((c) => c.name === 'hark_session');
    const headers = { cookie: `hark_session=${cookie!.value}` };
    expect((await fetch(`${server.url}/api/v1/jobs`, { headers })).status).toBe(200);
    // A write with only the cookie: refused, so another page cannot act with it.
    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(44)]), 'x.wav');
    expect((await fetch(`${server.url}/api/v1/jobs`, { method: 'POST', body: form, headers })).status).toBe(401);
    // Tampered: refused.
    const forged = cookie!.value.replace(/\.(\d+)\./, (_m, exp: string) => `.${Number(exp) + 3600}.`);
    expect((await fetch(`${server.url}/api/v1/jobs`, { headers: { cookie: `hark_session=${forged}` } })).status).toBe(401);
    // Revoking the key ends every session made with it, at once.
    const id = /^(\S+) {2}browser /m.exec((await keysCli(['list'], server.dataDir)).stdout)![1]!;
    expect((await keysCli(['revoke', id], server.dataDir)).code).toBe(0);
    expect((await fetch(`${server.url}/api/v1/jobs`, { headers })).status).toBe(401);
  });

  it('polls no faster than Retry-After says once the key is rate-limited', async () => {
    const page = await browser.context.newPage();
    const asked: number[] = [];
    // The server's answer when a key passes RATE_LIMIT_PER_MINUTE, given at once here.
    await page.route('**/api/v1/capacity', (route) => {
      asked.push(Date.now());
      return route.fulfill({
        status: 429,
        headers: { 'content-type': 'application/json', 'retry-after': '4' },
        body: JSON.stringify({ error: { code: 'RATE_LIMITED', message: 'more than 120 requests in a minute; retry in 4 s (RATE_LIMIT_PER_MINUTE)', details: { retry_after_seconds: 4 } } }),
      });
    });
    await page.goto(`${server.url}/#/system`);
    await expect.poll(() => asked.length).toBeGreaterThanOrEqual(1);
    // The view polls every 2 s; held by Retry-After, the next call waits 4 s.
    await page.waitForTimeout(3000);
    expect(asked.length).toBe(1);
    await expect.poll(() => asked.length, { timeout: 5000 }).toBe(2);
    expect(asked[1]! - asked[0]!).toBeGreaterThanOrEqual(3900);
    await page.close();
  });

  it('stops polling a job that is gone (404), and backs off from /debug/pool once the key is refused it (403)', async () => {
    // A key without the admin scope that /debug/pool needs.
    const viewer = await createKeyWithCli(server.dataDir, 'viewer', 'jobs');
    const page = await browser.context.newPage();
    const asked = new Map<string, number[]>();
    page.on('request', (r) => {
      const path = new URL(r.url()).pathname;
      asked.set(path, [...(asked.get(path) ?? []), Date.now()]);
    });
    const times = (path: string) => asked.get(path) ?? [];
    await page.goto(server.url);
    await prompt(page).waitFor();
    await enterKey(page, viewer);
    // Rendered, so the router hears the hash change below.
    await page.locator('h1', { hasText: 'Transcribe audio' }).waitFor();
    await page.waitForTimeout(100);

    // The job page polls every second while a job runs; an unknown job answers 404 once, and that is all.
    await page.goto(`${server.url}/#/jobs/no-such-job`);
    await page.locator('.note-title', { hasText: 'There is no such job.' }).waitFor();
    await page.waitForTimeout(3000);
    expect(times('/api/v1/jobs/no-such-job')).toHaveLength(1);

    asked.clear();
    await page.goto(`${server.url}/#/system`);
    await page.locator('.note-title', { hasText: 'The worker pool cannot be loaded.' }).waitFor();
    await page.waitForTimeout(7000);
    // Every 2 s would be 4 calls by now; refused, it waits 4 s, then 8 s.
    const pool = times('/debug/pool');
    expect(pool).toHaveLength(2);
    expect(pool[1]! - pool[0]!).toBeGreaterThanOrEqual(3900);
    // What the key may read is still polled every 2 s.
    expect(times('/api/v1/capacity').length).toBeGreaterThanOrEqual(3);
    await page.close();
  });

  it('changes the key from the header, and forgets it: the server ends its sessions and the page asks again', async () => {
    const first = await createKeyWithCli(server.dataDir, 'changer', 'jobs');
    const second = await createKeyWithCli(server.dataDir, 'changed', 'jobs');
    // A fresh start: the earlier tests' session cookies would let this tab read without a key.
    await browser.context.clearCookies();
    const page = await browser.context.newPage();
    await page.goto(`${server.url}/#/jobs`);
    await enterKey(page, first);
    await page.locator('h1', { hasText: 'History' }).waitFor();

    // The header's button opens the dialog; with a key set, Escape closes it and nothing changes.
    const keyButton = page.getByRole('banner').getByRole('button', { name: 'API key' });
    await keyButton.click();
    await prompt(page).waitFor();
    expect(await modalState(page)).toEqual({ modal: true, focusInside: true });
    for (const colorScheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme });
      expect(await dialogViolations(page), `key dialog with a key set (${colorScheme})`).toBe('');
    }
    await page.keyboard.press('Escape');
    await prompt(page).waitFor({ state: 'hidden' });
    expect(await page.evaluate('sessionStorage.getItem("hark.apiKey")')).toBe(first);

    // Change key: a wrong one is refused in the dialog, the stored key kept; a right one replaces it.
    await keyButton.click();
    await page.locator('#api-key').fill('hark_wrong');
    await prompt(page).getByRole('button', { name: 'Change key' }).click();
    await expect.poll(() => prompt(page).getByRole('alert').textContent()).toContain('The server refused this key');
    expect(await page.evaluate('sessionStorage.getItem("hark.apiKey")')).toBe(first);
    await enterKey(page, second, 'Change key');
    expect(await page.evaluate('sessionStorage.getItem("hark.apiKey")')).toBe(second);
    const cookie = (await browser.context.cookies(server.url)).find((c) => c.name === 'hark_session')!;
    expect((await fetch(`${server.url}/api/v1/jobs`, { headers: { cookie: `hark_session=${cookie.value}` } })).status).toBe(200);

    // Forget key: DELETE /api/v1/session with the key, which ends the session on the server too.
    await page.locator('h1', { hasText: 'History' }).waitFor();
    await keyButton.click();
    const [deleted] = await Promise.all([
      page.waitForRequest((r) => r.method() === 'DELETE' && new URL(r.url()).pathname === '/api/v1/session'),
      page.waitForEvent('load'),
      prompt(page).getByRole('button', { name: 'Forget key' }).click(),
    ]);
    expect(deleted.headers()['authorization']).toBe(`Bearer ${second}`);
    expect(await page.evaluate('sessionStorage.getItem("hark.apiKey")')).toBeNull();
    expect((await browser.context.cookies(server.url)).find((c) => c.name === 'hark_session')).toBeUndefined();
    expect((await fetch(`${server.url}/api/v1/jobs`, { headers: { cookie: `hark_session=${cookie.value}` } })).status).toBe(401);
    // The page's next API call is refused, and the dialog asks for a key again; no header button.
    await prompt(page).waitFor();
    await expect.poll(() => prompt(page).textContent()).toContain('This server needs an API key.');
    expect(await keyButton.count()).toBe(0);
    await page.close();
  });

  it('sent no request outside the server, opened no dialog and threw nothing', () => {
    expect(watch).toMatchObject({ external: [], dialogs: [], errors: [] });
  });
});
