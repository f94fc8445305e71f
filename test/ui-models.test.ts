import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { expectAccessible, startServerAndBrowser, watchPage, type PageWatch, type TestBrowser } from './support/browser.js';
import type { ChildServer } from './support/child-server.js';
import { startFakeModelHost, type FakeModelHost } from './support/fake-model-host.js';
import { createKeyWithCli } from './support/keys-cli.js';

/*
 * Issue 23, item 4: the page's Models view. A catalogue of two copies of the test model
 * (test-a, test-b) served slowly by a local stand-in for the model host; the whisper default
 * is the test model under its catalogue name tiny.en in MODELS_DIR, so it is a model file the
 * view could offer to delete, and must not.
 */

const TEST_MODEL = join(import.meta.dirname, '../../shared/models/for-tests-ggml-tiny.en.bin');
const MODEL_BYTES = readFileSync(TEST_MODEL);
const SHA1 = createHash('sha1').update(MODEL_BYTES).digest('hex');
const DEFAULT_ID = 'whisper-tiny.en';

let work: string;
let modelsDir: string;
let host: FakeModelHost;
let server: ChildServer;
let browser: TestBrowser;
/** Scopes transcribe and admin: lists, downloads, deletes. */
let adminKey: string;
/** Scope transcribe only: lists, but may not download or delete. */
let readerKey: string;
let pages: Page[] = [];
const watches: PageWatch[] = [];

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'hark-ui-models-'));
  modelsDir = join(work, 'models');
  await mkdir(modelsDir);
  await symlink(TEST_MODEL, join(modelsDir, 'ggml-tiny.en.bin'));
  const catalogue = join(work, 'catalogue.json');
  const entry = { bytes: MODEL_BYTES.length, sha1: SHA1 };
  // test-huge: a petabyte, more than any disk here has.
  await writeFile(catalogue, JSON.stringify({ 'test-a': entry, 'test-b': entry, 'test-huge': { bytes: 1e15, sha1: null } }));
  host = await startFakeModelHost({ 'ggml-test-a.bin': MODEL_BYTES, 'ggml-test-b.bin': MODEL_BYTES });
  // 64 KB pieces this far apart: the 587 kB file takes about 4 s, and the page, reading progress once a
  // second, sees several values.
  host.set({ pieceDelayMs: 450 });
  [server, browser] = await startServerAndBrowser({
    ENGINES: 'pocketsphinx,whisper',
    WHISPER_MODEL_PATH: join(modelsDir, 'ggml-tiny.en.bin'),
    MODELS_DIR: modelsDir,
    MODELS_CATALOGUE: catalogue,
    MODELS_BASE_URL: host.baseUrl,
    WORKER_COUNT: '1',
    AUTH_MODE: 'api_key',
    LOG_LEVEL: 'warn',
  });
  [adminKey, readerKey] = await Promise.all([
    createKeyWithCli(server.dataDir, 'admin', 'transcribe,admin'),
    createKeyWithCli(server.dataDir, 'reader', 'transcribe'),
  ]);
}, 90_000);

afterEach(async () => {
  for (const p of pages) await p.close();
  pages = [];
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  await host?.close();
  if (work !== undefined) await rm(work, { recursive: true, force: true });
  // The page did nothing behind the user's back.
  expect(watches.flatMap((w) => [...w.errors, ...w.external, ...w.dialogs])).toEqual([]);
});

/** The page at `hash`, its tab holding `key` as the key prompt leaves it. */
async function open(key: string, hash = '#/', viewport = { width: 1280, height: 800 }): Promise<Page> {
  const p = await browser.context.newPage();
  pages.push(p);
  await p.setViewportSize(viewport);
  watches.push(watchPage(p, server.url));
  await p.addInitScript({ content: `sessionStorage.setItem('hark.apiKey', ${JSON.stringify(key)})` });
  await p.goto(`${server.url}/${hash}`);
  return p;
}

/** Opens Models from the navigation, as a user would, and waits for the list. */
async function toModels(p: Page): Promise<void> {
  await p.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Models' }).click();
  await p.getByRole('heading', { level: 1, name: 'Models' }).waitFor();
  await row(p, 'whisper-test-a').waitFor();
}

interface Sample {
  value: number;
  text: string;
}

const row = (p: Page, id: string): Locator => p.locator(`tr[data-model="${id}"]`);
const state = (p: Page, id: string): Locator => row(p, id).locator('.badge');
/** Presses a model's Download as `key`'s user would, expecting a refusal: the note's title, and whether the model host was asked anything. */
async function refusedDownload(key: string, id: string): Promise<{ p: Page; title: string | null; asked: boolean }> {
  const p = await open(key);
  await toModels(p);
  const before = host.requests.length;
  await row(p, id).getByRole('button', { name: `Download ${id}` }).click();
  const note = p.locator('.model-failure .note-title');
  await note.waitFor();
  return { p, title: await note.textContent(), asked: host.requests.length !== before };
}

const focusedRow = (p: Page) => p.evaluate<string | undefined>('document.activeElement?.closest("tr")?.getAttribute("data-model") ?? document.activeElement?.tagName');

describe('web page: models', () => {
  it('lists engines and whisper models with state, size and where each is loaded; the default has no Delete', async () => {
    const p = await open(adminKey);
    await toModels(p);
    expect(await p.evaluate('document.title')).toBe('Models · hark');
    expect(await p.getByRole('link', { name: 'Models' }).getAttribute('aria-current')).toBe('page');

    expect(await state(p, 'whisper-test-a').textContent()).toBe('Not downloaded');
    expect(await row(p, 'whisper-test-a').getByRole('button', { name: 'Download whisper-test-a' }).count()).toBe(1);
    expect(await row(p, 'whisper-test-a').locator('td[data-label="Size"]').textContent()).toBe('587 kB to download');

    // The default model: marked, loaded in the server and in the worker, with pids and memory; nothing to delete.
    const def = row(p, DEFAULT_ID);
    expect(await def.locator('.model-tag').textContent()).toBe('default model');
    expect(await state(p, DEFAULT_ID).textContent()).toBe('Loaded');
    const places = (await def.locator('.model-places li').allTextContents()).join('\n');
    expect(places).toMatch(/^Server \(in-process\) · pid \d+ · \d+(\.\d)? MB$/m);
    expect(places).toMatch(/^Worker slot 0 · pid \d+ · \d+(\.\d)? MB$/m);
    expect(await def.getByRole('button').count()).toBe(0);

    // Engines apart, the default one marked; OpenAI's names are one line, not rows.
    expect(await row(p, 'pocketsphinx').locator('.model-tag').textContent()).toBe('default engine');
    expect(await row(p, 'whisper').textContent()).toContain(`default model: ${DEFAULT_ID}`);
    expect(await row(p, 'whisper-1').count()).toBe(0);
    expect(await p.getByText(/whisper-1, .* are OpenAI’s names/).count()).toBe(1);
    await expectAccessible(p, 'models');
  });

  it('downloads a model with a live progress bar, then shows it available', async () => {
    const p = await open(adminKey);
    await toModels(p);
    const download = row(p, 'whisper-test-a').getByRole('button', { name: 'Download whisper-test-a' });
    await download.click();

    // Sample the bar until it goes: it moves while the file comes in.
    const bar = p.getByRole('progressbar', { name: 'Downloading whisper-test-a' });
    await bar.waitFor();
    const seen: number[] = [];
    const texts = new Set<string>();
    // One read of bar and figures at a time, which never waits for an element gone meanwhile.
    const sample = `(() => {
      const bar = document.querySelector('tr[data-model="whisper-test-a"] progress');
      return bar === null ? null : { value: Number(bar.getAttribute('value')), text: bar.closest('td').querySelector('.model-progress-text').textContent };
    })()`;
    for (let now = await p.evaluate<Sample | null>(sample); now !== null; now = await p.evaluate<Sample | null>(sample)) {
      seen.push(now.value);
      texts.add(now.text);
      await p.waitForTimeout(100);
    }
    const partial = [...new Set(seen.filter((v) => v > 0 && v < 1))];
    expect(partial.length, `bar values ${seen.join(', ')}`).toBeGreaterThanOrEqual(2);
    expect(partial).toEqual([...partial].sort((a, b) => a - b));
    expect([...texts].some((t) => /^\d+(\.\d)? kB of 587 kB · \d+\u00a0% · \d+(\.\d)? kB\/s · about .+ left$/.test(t)), [...texts].join('\n')).toBe(true);

    await state(p, 'whisper-test-a').filter({ hasText: 'Available' }).waitFor();
    expect(await row(p, 'whisper-test-a').locator('td[data-label="Size"]').textContent()).toBe('587 kB');
    await row(p, 'whisper-test-a').getByRole('button', { name: 'Delete whisper-test-a' }).waitFor();
    // The button that was pressed has gone: focus is on the model's row, not lost to the document.
    expect(await focusedRow(p)).toBe('whisper-test-a');
    expect(host.requests.some((r) => r.path === '/models/ggml-test-a.bin')).toBe(true);
    expect(createHash('sha1').update(await readFile(join(modelsDir, 'ggml-test-a.bin'))).digest('hex')).toBe(SHA1);
    await expectAccessible(p, 'models (downloaded)');
  });

  it('deletes a model with the keyboard through a confirmation; Escape keeps it', async () => {
    const p = await open(adminKey);
    await toModels(p);
    const file = join(modelsDir, 'ggml-test-a.bin');
    const del = row(p, 'whisper-test-a').getByRole('button', { name: 'Delete whisper-test-a' });
    const dialog = p.getByRole('dialog', { name: 'Delete whisper-test-a?' });

    await del.focus();
    await p.keyboard.press('Enter');
    await dialog.waitFor();
    // The safe choice has focus; Escape keeps the model.
    expect(await p.evaluate('document.activeElement?.textContent')).toBe('Keep it');
    await expectAccessible(p, 'models (delete dialog)');
    await p.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    await p.waitForTimeout(300);
    expect(existsSync(file)).toBe(true);
    expect(await state(p, 'whisper-test-a').textContent()).toBe('Available');

    await del.focus();
    await p.keyboard.press('Enter');
    await dialog.waitFor();
    await p.keyboard.press('Tab');
    expect(await p.evaluate('document.activeElement?.textContent')).toBe('Delete');
    await p.keyboard.press('Enter');
    await state(p, 'whisper-test-a').filter({ hasText: 'Not downloaded' }).waitFor();
    expect(existsSync(file)).toBe(false);
    await row(p, 'whisper-test-a').getByRole('button', { name: 'Download whisper-test-a' }).waitFor();
    expect(await focusedRow(p)).toBe('whisper-test-a');
  });

  it('a key without the admin scope is told the action needs an admin key, with nothing to retry', async () => {
    const { p, title, asked } = await refusedDownload(readerKey, 'whisper-test-b');
    expect(title).toBe('Downloading a model needs an admin key: this API key lacks the “admin” scope.');
    // No Download or Delete is left to press again with this key; another key can be entered.
    expect(await p.locator('.models-table').getByRole('button').count()).toBe(0);
    expect(await p.getByRole('button', { name: 'Change the API key' }).count()).toBe(1);
    expect(await p.evaluate('document.activeElement?.className')).toBe('model-failure');
    expect(asked).toBe(false);
    expect(await state(p, 'whisper-test-b').textContent()).toBe('Not downloaded');
    await expectAccessible(p, 'models (403)');
  });

  it('says a model does not fit the disk, with what it needs and what to do, and downloads nothing', async () => {
    const { p, title, asked } = await refusedDownload(adminKey, 'whisper-test-huge');
    expect(title).toMatch(
      /^whisper-test-huge does not fit on the server’s disk: it needs 1000 TB and \d[\d.]* [kMGT]?B is free\. Delete a model you no longer use, or ask the server’s operator for room, then download it again\.$/,
    );
    expect(asked).toBe(false);
    expect(await state(p, 'whisper-test-huge').textContent()).toBe('Not downloaded');
  });

  it('fits a phone screen', async () => {
    const p = await open(adminKey, '#/models', { width: 390, height: 844 });
    await row(p, DEFAULT_ID).locator('.model-places li').first().waitFor();
    expect(await p.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    await expectAccessible(p, 'models (phone)');
  });
});
