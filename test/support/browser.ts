import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

/** Debian's Chromium (`apt-get install chromium`); never a browser download. */
export const CHROMIUM = '/usr/bin/chromium';

const AXE_PATH = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

export interface TestBrowser {
  context: BrowserContext;
  close(): Promise<void>;
}

/**
 * Headless Chromium with a fresh profile that `close()` removes. Everything that
 * would reach out on its own (component updates, sync, safe-browsing lists, QUIC
 * probes) is switched off: the tests check that the page itself asks nothing of
 * the internet.
 */
export async function launchBrowser(options: { colorScheme?: 'light' | 'dark'; extraArgs?: readonly string[] } = {}): Promise<TestBrowser> {
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

/** A readable line per violation, for assertion messages. */
export function describeViolations(vs: readonly AxeViolation[]): string {
  return vs.map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`).join('\n');
}
