import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CDPSession, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { describeViolations, launchBrowser, seriousA11yViolations, watchPage, type PageWatch, type TestBrowser } from './support/browser.js';
import { clip } from './support/corpus.js';
import { startTestServer, type TestServer } from './support/server.js';

/*
 * Issue 24, defect 8: dragging files onto the upload view. The drags here are the
 * browser's own (Chrome DevTools Protocol, Input.dispatchDragEvent, with real files),
 * so what Chromium does by default, such as opening a file dropped on the page, happens.
 */

const UI_DIR = fileURLToPath(new URL('../dist/ui/', import.meta.url));
const SPOKEN = clip('1089-134686-0000');

let server: TestServer;
let browser: TestBrowser;
let work: string;
let notes: string;
let pages: Page[] = [];
const watches: PageWatch[] = [];

beforeAll(async () => {
  if (!existsSync(join(UI_DIR, 'index.html'))) throw new Error('dist/ui is missing: run `npm run build:ui` (make test builds it)');
  work = await mkdtemp(join(tmpdir(), 'hark-ui-drop-'));
  notes = join(work, 'notes.txt');
  await writeFile(notes, 'these are meeting notes, not audio\n');
  [server, browser] = await Promise.all([startTestServer(), launchBrowser()]);
}, 60_000);

afterEach(async () => {
  for (const p of pages) await p.close();
  pages = [];
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

async function open(): Promise<Page> {
  const p = await browser.context.newPage();
  pages.push(p);
  watches.push(watchPage(p, server.url));
  await p.goto(`${server.url}/#/`);
  await p.locator('h1', { hasText: 'Transcribe audio' }).waitFor();
  return p;
}

/** The middle of what `selector` matches, in the viewport's coordinates. */
async function middle(p: Page, selector: string): Promise<{ x: number; y: number }> {
  const box = await p.locator(selector).first().boundingBox();
  if (box === null) throw new Error(`${selector} is not shown`);
  return { x: box.x + box.width / 2, y: box.y + box.height / 2 };
}

/** A drag of real files from outside the browser, moved over points and then dropped (or cancelled). */
async function drag(cdp: CDPSession, files: string[], points: { x: number; y: number }[], end: 'drop' | 'dragCancel'): Promise<void> {
  const data = { items: [], files, dragOperationsMask: 1 };
  const [first, ...rest] = points;
  await cdp.send('Input.dispatchDragEvent', { type: 'dragEnter', ...first!, data });
  for (const at of [first!, ...rest]) await cdp.send('Input.dispatchDragEvent', { type: 'dragOver', ...at, data });
  const last = points.at(-1)!;
  await cdp.send('Input.dispatchDragEvent', end === 'drop' ? { type: 'drop', ...last, data } : { type: 'dragCancel', ...last, data });
}

const zoneActive = (p: Page) => p.evaluate('document.querySelector(".dropzone").classList.contains("dropzone-active")') as Promise<boolean>;

describe('web page: drag and drop', () => {
  it('keeps the highlight while the pointer moves over the zone\'s own text and button', async () => {
    const p = await open();
    // Each time the highlight goes off while the pointer is inside the zone counts.
    await p.evaluate(`(() => {
      window.flicker = 0;
      const zone = document.querySelector('.dropzone');
      new MutationObserver(() => { if (!zone.classList.contains('dropzone-active') && window.dragging) window.flicker++; })
        .observe(zone, { attributes: true, attributeFilter: ['class'] });
    })()`);
    const cdp = await p.context().newCDPSession(p);
    const zone = await p.locator('.dropzone').boundingBox();
    const data = { items: [], files: [SPOKEN.path], dragOperationsMask: 1 };
    const edge = { x: zone!.x + 8, y: zone!.y + 8 };
    await cdp.send('Input.dispatchDragEvent', { type: 'dragEnter', ...edge, data });
    await cdp.send('Input.dispatchDragEvent', { type: 'dragOver', ...edge, data });
    expect(await zoneActive(p)).toBe(true);
    await p.evaluate('window.dragging = true');
    for (const over of ['.dropzone-title', '#formats-hint', '.dropzone .button', '.dropzone-icon', '.dropzone-title']) {
      await cdp.send('Input.dispatchDragEvent', { type: 'dragOver', ...(await middle(p, over)), data });
      expect(await zoneActive(p), `over ${over}`).toBe(true);
    }
    await cdp.send('Input.dispatchDragEvent', { type: 'dragOver', ...edge, data });
    expect(await p.evaluate('window.flicker')).toBe(0);
    await p.evaluate('window.dragging = false');
    // Out of the zone: the highlight goes.
    await cdp.send('Input.dispatchDragEvent', { type: 'dragOver', ...(await middle(p, 'h1')), data });
    expect(await zoneActive(p)).toBe(false);
    await cdp.send('Input.dispatchDragEvent', { type: 'dragCancel', ...(await middle(p, 'h1')), data });
    // Back in and dropped on the text: the file is added, the highlight goes.
    await drag(cdp, [SPOKEN.path], [edge, await middle(p, '.dropzone-title')], 'drop');
    await p.locator('.item-name', { hasText: SPOKEN.id }).waitFor();
    expect(await zoneActive(p)).toBe(false);
  }, 60_000);

  it('a file dropped outside the zone leaves the page where it is', async () => {
    const p = await open();
    const cdp = await p.context().newCDPSession(p);
    const before = p.url();
    // Chromium opens a dropped file in the tab unless the page cancels the drag's events; headless
    // Chromium does not, so what the page told the browser is read after its own listeners ran.
    await p.evaluate(`(() => {
      window.outside = [];
      for (const type of ['dragover', 'drop']) addEventListener(type, (e) => window.outside.push(type + ' ' + (e.defaultPrevented ? 'cancelled' : 'not cancelled') + ' ' + e.dataTransfer.dropEffect));
    })()`);
    await drag(cdp, [notes], [await middle(p, 'h1'), await middle(p, '.live-mic')], 'drop');
    await drag(cdp, [SPOKEN.path], [await middle(p, '.options')], 'drop');
    const seen = (await p.evaluate('window.outside')) as string[];
    expect(seen.length).toBeGreaterThanOrEqual(3);
    // Cancelled, and marked as no drop (the pointer says so); a drop, if the browser sends one, cancelled too.
    expect(seen.filter((s) => !/^dragover cancelled none$|^drop cancelled /.test(s))).toEqual([]);
    expect(p.url()).toBe(before);
    // Nothing was added: only the zone takes files.
    expect(await p.locator('.item').count()).toBe(0);
  }, 60_000);

  it('refuses empty and non-audio files on the page, naming each, and uploads only the rest', async () => {
    const p = await open();
    const posts: string[] = [];
    p.on('request', (r) => {
      if (r.method() === 'POST') posts.push(new URL(r.url()).pathname);
    });
    await p.locator('#file-input').setInputFiles([
      { name: 'empty.wav', mimeType: 'audio/wav', buffer: Buffer.alloc(0) },
      { name: 'slides.pdf', mimeType: 'application/pdf', buffer: Buffer.from('%PDF-1.4\n') },
      { name: 'photo.png', mimeType: 'image/png', buffer: Buffer.from([0x89, 0x50, 0x4e, 0x47]) },
      { name: SPOKEN.id + '.wav', mimeType: 'audio/wav', buffer: await readFile(SPOKEN.path) },
    ]);
    // And by drag and drop: a text file.
    const cdp = await p.context().newCDPSession(p);
    await drag(cdp, [notes], [await middle(p, '.dropzone-title')], 'drop');

    const refusal = (name: string) => p.locator('.item', { has: p.locator('.item-name', { hasText: name }) }).locator('.note-error');
    await refusal('notes.txt').waitFor();
    expect(await refusal('empty.wav').textContent()).toMatch(/“empty\.wav” is empty/);
    for (const name of ['slides.pdf', 'photo.png', 'notes.txt']) expect(await refusal(name).locator('.note-title').textContent()).toContain(`“${name}” is not audio`);
    // A refused file cannot be retried, only removed.
    expect(await p.locator('.items').getByRole('button', { name: /^Retry/ }).count()).toBe(0);
    await expectAccessibleBothThemes(p);

    await p.getByRole('button', { name: 'Upload 1 file' }).click();
    // One file accepted: its job page opens by itself; Back shows the upload view as it was left.
    await p.waitForURL(/#\/jobs\/[\w-]+$/, { timeout: 20_000 });
    await p.goBack();
    await p.locator('.item', { hasText: SPOKEN.id }).getByRole('link', { name: /Open the job/ }).waitFor({ timeout: 20_000 });
    expect(posts).toEqual(['/api/v1/jobs']);
    await p.getByRole('button', { name: 'Remove empty.wav' }).click();
    expect(await p.locator('.item-name', { hasText: 'empty.wav' }).count()).toBe(0);
  }, 60_000);

  it('sent no request outside the server and threw nothing', () => {
    expect(watches.flatMap((w) => w.external)).toEqual([]);
    expect(watches.flatMap((w) => w.errors)).toEqual([]);
  });
});

async function expectAccessibleBothThemes(p: Page): Promise<void> {
  for (const colorScheme of ['light', 'dark'] as const) {
    await p.emulateMedia({ colorScheme });
    expect(describeViolations(await seriousA11yViolations(p)), `upload with refused files (${colorScheme})`).toBe('');
  }
  await p.emulateMedia({ colorScheme: 'light' });
}
