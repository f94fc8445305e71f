import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startServerAndBrowser, tabTo, watchPage, type PageWatch, type TestBrowser } from './support/browser.js';
import type { ChildServer } from './support/child-server.js';
import { clip } from './support/corpus.js';
import { submitJob, waitFinished } from './support/jobs.js';

/*
 * Issue 24, defects 3 and 11: keyboard focus follows what the user did (job page,
 * upload, Stop), and form controls and the microphone panel are drawn so they can be
 * told apart (3:1 outlines in both themes, no panel or hint touching its neighbour).
 */

/** The fake microphone plays this clip (Chromium loops it); it is also the uploaded file. */
const SPOKEN = clip('1089-134686-0000');

let server: ChildServer;
let browser: TestBrowser;
const watches: PageWatch[] = [];
/** Pages a test opened, closed after it even when it failed (a live stream left open would hold the engine). */
let pages: Page[] = [];

async function open(path: string): Promise<Page> {
  const page = await browser.context.newPage();
  pages.push(page);
  watches.push(watchPage(page, server.url));
  await page.goto(`${server.url}${path}`);
  return page;
}

/** What has focus, in words a failure message can show: its tag, id, class and first text. */
async function focused(page: Page): Promise<string> {
  return (await page.evaluate(`(() => {
    const a = document.activeElement;
    if (a === null || a === document.body) return 'the document';
    return a.tagName.toLowerCase() + '#' + a.id + '.' + a.className + ' "' + (a.textContent ?? '').trim().slice(0, 40) + '"';
  })()`)) as string;
}

/** Waits for `selector`, and on a timeout says what the page shows instead. */
async function shown(page: Page, selector: string): Promise<void> {
  await page
    .locator(selector)
    .first()
    .waitFor({ timeout: 15_000 })
    .catch(async (err: unknown) => {
      throw new Error(`${selector} never showed; ${page.url()} says: ${(await page.locator('body').innerText()).slice(0, 500)}`, { cause: err });
    });
}

/** WCAG 2.x contrast ratio of two colours given as CSS rgb()/rgba() strings (alpha ignored: the page's are opaque). */
function contrast(a: string, b: string): number {
  const luminance = (css: string): number => {
    const m = /rgba?\(([\d.]+),? ([\d.]+),? ([\d.]+)/.exec(css);
    if (m === null) throw new Error(`not an rgb colour: ${css}`);
    const [r, g, b] = [m[1], m[2], m[3]].map((v) => {
      const c = Number(v) / 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    }) as [number, number, number];
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number];
  return (hi + 0.05) / (lo + 0.05);
}

interface Outline {
  control: string;
  border: string;
  /** The control's own fill, then the first opaque fill behind it. */
  fills: string[];
}

/** Every visible text field, select and self-drawn (appearance: none) checkbox or radio: its border colour and the fills around it. */
async function outlines(page: Page): Promise<Outline[]> {
  return (await page.evaluate(`(() => {
    const opaque = (c) => c !== 'transparent' && !/rgba\\(.*, 0\\)$/.test(c);
    const out = [];
    for (const el of document.querySelectorAll('input, select, textarea')) {
      const style = getComputedStyle(el);
      const type = el instanceof HTMLInputElement ? el.type : el.tagName.toLowerCase();
      if (el.offsetParent === null || type === 'hidden' || type === 'file') continue;
      // A native checkbox or radio is drawn by the browser, not by its CSS border.
      if ((type === 'checkbox' || type === 'radio') && style.appearance !== 'none') continue;
      const fills = [];
      for (let node = el; node !== null && fills.length < 2; node = node.parentElement) {
        const bg = getComputedStyle(node).backgroundColor;
        if (opaque(bg)) fills.push(bg);
      }
      if (fills.length < 2) fills.push(getComputedStyle(document.body).backgroundColor);
      out.push({ control: type + '#' + el.id, border: style.borderTopColor, fills });
    }
    return out;
  })()`)) as Outline[];
}

beforeAll(async () => {
  [server, browser] = await startServerAndBrowser(
    { WORKER_COUNT: '1', IN_PROCESS_CONCURRENCY: '1', LOG_LEVEL: 'warn' },
    // A fake microphone that plays a dev clip, with the permission granted without a prompt.
    { extraArgs: ['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', `--use-file-for-fake-audio-capture=${SPOKEN.path}`] },
  );
}, 60_000);

afterEach(async () => {
  await Promise.all(pages.map((p) => p.close()));
  pages = [];
});

afterAll(async () => {
  for (const w of watches) expect(w.errors).toEqual([]);
  await browser?.close();
  await server?.stop();
});

describe('keyboard focus goes to the new content (issue 24, defect 3)', () => {
  it('a job opened from History with Enter keeps focus on its heading once the job has loaded', async () => {
    const { job_id: id } = await submitJob(server.url, SPOKEN.path);
    expect((await waitFinished(server.url, id)).status).toBe('completed');
    const page = await open('/#/jobs');
    await page.locator(`a[href="#/jobs/${id}"]`).waitFor();
    await tabTo(page, `a[href="#/jobs/${id}"]`, { what: 'the job link' });
    await page.keyboard.press('Enter');
    await page.locator('.status-line .badge', { hasText: 'Completed' }).waitFor();
    await page.locator('.transcript').first().waitFor();
    expect(await focused(page)).toMatch(/^h1#job-title\b/);
    // Still there after a few polls of the job.
    await page.waitForTimeout(1500);
    expect(await focused(page)).toMatch(/^h1#job-title\b/);
  }, 90_000);

  it('Upload pressed with Enter opens the one accepted job with focus on its heading', async () => {
    const page = await open('/#/');
    await page.locator('#file-input').setInputFiles(SPOKEN.path);
    const upload = page.getByRole('button', { name: 'Upload 1 file' });
    await upload.waitFor();
    await tabTo(page, 'button[type="submit"]', { what: 'the Upload button' });
    await page.keyboard.press('Enter');
    // One file accepted as a job: its page opens by itself (issue 24, defect 4).
    await page.waitForURL(/#\/jobs\/[\w-]+$/, { timeout: 30_000 });
    // The live stream of the next test needs the one engine this job holds.
    await waitFinished(server.url, decodeURIComponent(new URL(page.url()).hash.replace('#/jobs/', '')));
    expect(await focused(page)).toMatch(/^h1#job-title\b/);
  }, 60_000);

  it('Stop pressed with Enter puts focus on the captions once the stream has ended', async () => {
    const page = await open('/#/');
    await tabTo(page, '.live-mic button', { what: 'the microphone button' });
    await page.keyboard.press('Enter');
    const stop = page.getByRole('button', { name: /^Stop live transcription$/ });
    await stop.waitFor({ timeout: 15_000 }).catch(async (err: unknown) => {
      throw new Error(`no Stop button; the panel says: ${await page.locator('.live-mic').textContent()}`, { cause: err });
    });
    await page.getByRole('list', { name: 'Captions' }).getByRole('listitem').first().waitFor({ timeout: 45_000 });
    await stop.focus();
    await page.keyboard.press('Enter');
    await page.getByRole('button', { name: 'Start the microphone' }).waitFor({ timeout: 20_000 });
    // The page's own effect runs after the render that brought the Start button back.
    await page.waitForTimeout(200);
    expect(await focused(page)).toMatch(/^ol#\.captions /);
  }, 90_000);
});

describe('controls and panels can be told apart (issue 24, defect 11)', () => {
  it('text fields and selects have outlines of at least 3:1 against their fills, in light and dark', async () => {
    const page = await open('/#/');
    await shown(page, '.live-mic');
    await page.getByRole('checkbox', { name: /Label speakers/ }).check();
    await page.locator('#num-speakers').waitFor();
    const history = await open('/#/jobs');
    await history.locator('#search').waitFor();
    for (const colorScheme of ['light', 'dark'] as const) {
      const seen: string[] = [];
      for (const p of [page, history]) {
        await p.emulateMedia({ colorScheme });
        for (const o of await outlines(p)) {
          seen.push(o.control);
          for (const fill of o.fills) expect(contrast(o.border, fill), `${o.control} border ${o.border} on ${fill} (${colorScheme})`).toBeGreaterThanOrEqual(3);
        }
      }
      expect(seen, colorScheme).toEqual(expect.arrayContaining(['select#num-speakers', 'select#priority', 'search#search', 'select#status-filter']));
    }
  }, 30_000);

  it('the microphone panel and its hint keep a gap to their neighbours', async () => {
    const page = await open('/#/');
    await shown(page, '.live-mic');
    const box = async (selector: string) => {
      const b = await page.locator(selector).first().boundingBox();
      if (b === null) throw new Error(`${selector} is not shown`);
      return { top: b.y, bottom: b.y + b.height };
    };
    for (const viewport of [{ width: 1280, height: 800 }, { width: 360, height: 740 }]) {
      await page.setViewportSize(viewport);
      const grid = await box('.upload-grid');
      const panel = await box('.live-mic');
      const heading = await box('#live-mic-title');
      const hint = await box('#live-mic-hint');
      const button = await box('.live-mic button');
      expect.soft(panel.top - grid.bottom, `panel under the upload form (${viewport.width} px)`).toBeGreaterThan(0);
      expect.soft(hint.top - heading.bottom, `hint under the heading (${viewport.width} px)`).toBeGreaterThan(0);
      expect.soft(button.top - hint.bottom, `button under the hint (${viewport.width} px)`).toBeGreaterThan(0);
    }
  });
});
