import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { expect } from 'vitest';
import { spawnServer, type ChildServer } from './child-server.js';

/** Debian's Chromium (`apt-get install chromium`); never a browser download. */
export const CHROMIUM = '/usr/bin/chromium';

/** The built page (`npm run build:ui`), as the server serves it. */
export const UI_DIR = fileURLToPath(new URL('../../dist/ui/', import.meta.url));

const AXE_PATH = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

export interface TestBrowser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** How `launchBrowser` sets Chromium up for a test. */
export interface BrowserOptions {
  colorScheme?: 'light' | 'dark';
  /** Chromium switches on top of the ones that keep it offline. */
  extraArgs?: readonly string[];
}

/**
 * Headless Chromium with a fresh profile that `close()` removes. Everything that
 * would reach out on its own (component updates, sync, safe-browsing lists, QUIC
 * probes) is switched off: the tests check that the page itself asks nothing of
 * the internet.
 */
export async function launchBrowser(options: BrowserOptions = {}): Promise<TestBrowser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run \`scripts/setup.sh --test\` (apt-get install chromium)`);
  const profile = await mkdtemp(join(tmpdir(), 'hark-chromium-'));
  // Playwright passes the profile as --user-data-dir itself.
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      ...(options.extraArgs ?? []),
    ],
    viewport: { width: 1280, height: 800 },
    colorScheme: options.colorScheme ?? 'light',
    reducedMotion: 'reduce',
    // hark's CSP forbids eval and inline scripts, which Playwright's waitForFunction and
    // axe-core's injection need. Off in tests, the page's own escaping is what keeps a
    // hostile file name inert (the CSP header itself is checked over HTTP).
    bypassCSP: true,
  });
  return {
    context,
    close: async () => {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/** Throws, saying what to run, when the page has not been built. */
export function requireBuiltPage(): void {
  if (!existsSync(join(UI_DIR, 'index.html'))) throw new Error('dist/ui is missing: run `npm run build:ui` (make test builds it)');
}

/** What the Chromium tests of the page start first: a hark server in a child process (`env`) and Chromium, side by side. */
export async function startServerAndBrowser(env: Record<string, string>, options?: BrowserOptions): Promise<[ChildServer, TestBrowser]> {
  requireBuiltPage();
  return Promise.all([spawnServer(env), launchBrowser(options)]);
}

/** A new page of `viewport`'s size at `url`, what it does kept in `watches`. */
export async function openPage(browser: TestBrowser, url: string, watches: PageWatch[], viewport = { width: 1280, height: 800 }): Promise<Page> {
  const page = await browser.context.newPage();
  await page.setViewportSize(viewport);
  watches.push(watchPage(page, new URL(url).origin));
  await page.goto(url);
  return page;
}

/** What a page did that a test wants to know about afterwards. */
export interface PageWatch {
  /** Requests to anywhere but `origin` (and data:/blob: URLs). */
  external: string[];
  /** alert/confirm/prompt dialogs opened by script. */
  dialogs: string[];
  /** Uncaught exceptions in the page. */
  errors: string[];
}

export function watchPage(page: Page, origin: string): PageWatch {
  const watch: PageWatch = { external: [], dialogs: [], errors: [] };
  page.on('request', (r) => {
    const url = r.url();
    if (!url.startsWith(`${origin}/`) && url !== origin && !url.startsWith('data:') && !url.startsWith('blob:')) watch.external.push(url);
  });
  page.on('dialog', (d) => {
    watch.dialogs.push(`${d.type()}: ${d.message()}`);
    void d.dismiss();
  });
  page.on('pageerror', (e) => watch.errors.push(e.message));
  return watch;
}

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[]; failureSummary?: string }[];
}

/** Runs axe-core (from npm, injected from disk) on the page; returns the serious and critical violations. */
export async function seriousA11yViolations(page: Page): Promise<AxeViolation[]> {
  if (!(await page.evaluate('typeof window.axe !== "undefined"'))) await page.addScriptTag({ path: AXE_PATH });
  const result = (await page.evaluate('window.axe.run(document, { resultTypes: ["violations"] })')) as { violations: AxeViolation[] };
  return result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

/** No serious or critical axe-core violation on `page`, in the light and the dark theme (`view` names it in a failure). */
export async function expectAccessible(page: Page, view: string): Promise<void> {
  for (const colorScheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme });
    expect(describeViolations(await seriousA11yViolations(page)), `${view} (${colorScheme})`).toBe('');
  }
  await page.emulateMedia({ colorScheme: 'light' });
}

/** A readable line per violation, for assertion messages. */
export function describeViolations(vs: readonly AxeViolation[]): string {
  return vs.map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`).join('\n');
}

/** Whether `target` (a locator of one element, or any element matching a CSS selector) has the page's focus. */
export async function isFocused(page: Page, target: Locator | string): Promise<boolean> {
  if (typeof target === 'string') return (await page.evaluate(`document.activeElement?.matches(${JSON.stringify(target)}) === true`)) as boolean;
  // Typed by hand: the tests compile without the DOM's types.
  return target.evaluate((el: { ownerDocument: { activeElement: unknown } }) => el === el.ownerDocument.activeElement);
}

/** Presses `key` (Tab, or Shift+Tab) until `target` has focus, `max` times at most: the way a keyboard user gets there. */
export async function tabTo(page: Page, target: Locator | string, { max = 60, key = 'Tab', what }: { max?: number; key?: string; what?: string } = {}): Promise<void> {
  for (let presses = 0; !(await isFocused(page, target)); presses++) {
    if (presses === max) throw new Error(`${max} presses of ${key} never reached ${what ?? target.toString()}`);
    await page.keyboard.press(key);
  }
}
