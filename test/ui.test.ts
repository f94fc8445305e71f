import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify from 'fastify';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uiRoutes } from '../src/http/routes/ui.js';
import { tally, wer } from './support/eval/index.js';
import { joinWavs } from './support/audio.js';
import { expectAccessible, openPage, startServerAndBrowser, UI_DIR, type PageWatch, type TestBrowser } from './support/browser.js';
import { alive, startChildServer, waitFor, type ChildServer } from './support/child-server.js';
import { clip, devClips } from './support/corpus.js';
import { poolView } from './support/http.js';
import { getJob, submitJob, waitFinished, waitForJob } from './support/jobs.js';
import { startTestServer, type TestServer } from './support/server.js';
import { freePort } from './support/net.js';

/** `npm run screenshots:ui` sets this to docs/img; otherwise the pictures go to the test's temp folder, removed at the end. */
const SHOTS = process.env['UI_SCREENSHOT_DIR'];
const XSS_NAME = '<img src=x onerror=alert(1)>.wav';
const REFERENCE = clip('1089-134686-0000');

let server: ChildServer;
let browser: TestBrowser;
let work: string;
/** About 90 s of speech: long enough to stop while it runs. */
let long: string;
const watches: PageWatch[] = [];

const open = (path: string, viewport?: { width: number; height: number }) => openPage(browser, `${server.url}${path}`, watches, viewport);

async function shot(page: Page, name: string): Promise<void> {
  const dir = SHOTS ?? join(work, 'screenshots');
  await mkdir(dir, { recursive: true });
  // Let polled panels settle and fonts render before the picture. From the top: a full-page
  // picture of a scrolled page draws the sticky top bar where the view was, mid-page.
  await page.evaluate('window.scrollTo(0, 0)');
  await page.waitForTimeout(300);
  await page.screenshot({ path: join(dir, `ui-${name}.png`), fullPage: true, animations: 'disabled' });
}

const fact = (page: Page, name: string) => page.locator(`dd[data-fact="${name}"]`);
const badge = (page: Page, status: string) => page.locator('.status-line .badge', { hasText: status });
const item = (page: Page, name: string) => page.locator('.item', { has: page.locator('.item-name', { hasText: name }) });

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'hark-ui-test-'));
  long = join(work, 'long-recording.wav');
  joinWavs(devClips.slice(0, 12).map((c) => c.path), long);
  // Short utterances: a joined file shows several segments, a long one logs progress often.
  [server, browser] = await startServerAndBrowser({ WORKER_COUNT: '1', IN_PROCESS_CONCURRENCY: '1', KEEP_JOB_AUDIO: 'true', UTTERANCE_MAX_SECONDS: '10', LOG_LEVEL: 'warn' });
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

describe('web page', () => {
  it('serves the built page with a strict CSP, and nothing in it points outside', async () => {
    const res = await fetch(`${server.url}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('content-security-policy')).toContain("default-src 'self'");
    const html = await res.text();
    const assets = [...html.matchAll(/(?:src|href)="(\/ui\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    expect(assets.length).toBeGreaterThanOrEqual(2);
    // Names and transcripts reach the DOM as text only.
    const sources = readdirSync(fileURLToPath(new URL('../src/ui/', import.meta.url)), { recursive: true, withFileTypes: true }).filter((d) => d.isFile());
    for (const f of sources) expect(readFileSync(join(f.parentPath, f.name), 'utf8'), f.name).not.toMatch(/dangerouslySetInnerHTML|innerHTML|insertAdjacentHTML|document\.write/);
    for (const a of assets) expect((await fetch(`${server.url}${a}`)).status).toBe(200);
    // The routes the page added are in the OpenAPI document; the page itself is not.
    const doc = (await (await fetch(`${server.url}/docs/json`)).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/api/v1/system', '/api/v1/system/memory', '/api/v1/jobs/{id}/audio']));
    expect(Object.keys(doc.paths).filter((p) => p === '/' || p.startsWith('/ui'))).toEqual([]);
    const unknownAudio = await fetch(`${server.url}/api/v1/jobs/no-such-job/audio`);
    expect(unknownAudio.status).toBe(404);
    expect(((await unknownAudio.json()) as { error: { code: string } }).error.code).toBe('JOB_NOT_FOUND');
    const missing = await fetch(`${server.url}/ui/assets/nope.js`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('NOT_FOUND');

    // Every built file: no URL with a host, except the XML namespace names Preact
    // compares against (identifiers, never fetched).
    const namespaces = new Set(['http://www.w3.org/2000/svg', 'http://www.w3.org/1999/xhtml', 'http://www.w3.org/1998/Math/MathML', 'http://www.w3.org/1999/xlink', 'http://www.w3.org/XML/1998/namespace']);
    const files = readdirSync(UI_DIR, { recursive: true, withFileTypes: true }).filter((d) => d.isFile()).map((d) => join(d.parentPath, d.name));
    expect(files.some((f) => f.endsWith('.js'))).toBe(true);
    const outside: string[] = [];
    for (const f of files) {
      const text = readFileSync(f, 'utf8');
      for (const m of text.matchAll(/(?:https?:|wss?:)?\/\/[a-z0-9-]+(?:\.[a-z0-9-]+)+[^\s"'`)<>]*/gi)) {
        const url = m[0];
        if (!namespaces.has(url)) outside.push(`${f}: ${url}`);
      }
      if (f.endsWith('.css')) expect(text).not.toMatch(/@import|url\((?!["']?data:)/);
    }
    expect(outside).toEqual([]);
  });

  it('answers a page that says how to build it when dist/ui is missing', async () => {
    const app = Fastify();
    await app.register(uiRoutes, { uiDir: join(work, 'no-ui') });
    const res = await app.inject({ method: 'GET', url: '/' });
    await app.close();
    expect(res.statusCode).toBe(503);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.body).toContain('npm run build:ui');
  });

  it('uploads several files at once: jobs complete with the right transcript, a text file is refused', async () => {
    const interview = join(work, 'interview.wav');
    const parts = devClips.slice(1, 4);
    joinWavs(parts.map((c) => c.path), interview);
    const notes = join(work, 'notes.txt');
    await writeFile(notes, 'these are meeting notes, not audio\n'.repeat(20));

    const page = await open('/');
    await page.locator('h1', { hasText: 'Transcribe audio' }).waitFor();
    await expectAccessible(page, 'upload (empty)');
    // Drag and drop adds files like the picker does.
    const dropped = await page.evaluateHandle('(() => { const dt = new DataTransfer(); dt.items.add(new File(["RIFF"], "dropped.wav", { type: "audio/wav" })); return dt; })()');
    await page.dispatchEvent('.dropzone', 'drop', { dataTransfer: dropped });
    await page.getByRole('button', { name: 'Remove dropped.wav' }).click();
    expect(await page.locator('.item').count()).toBe(0);
    await page.locator('#file-input').setInputFiles([REFERENCE.path, interview, notes]);
    await page.getByRole('button', { name: 'Upload 2 files' }).click();

    await item(page, 'notes.txt').locator('.note-error').waitFor();
    expect(await item(page, 'notes.txt').locator('.note-title').textContent()).toBe('“notes.txt” is not audio hark can read. Choose a WAV, MP3, FLAC, Ogg/Opus, M4A or WebM file.');
    await item(page, REFERENCE.id).getByRole('link', { name: 'Open the job' }).waitFor();
    await item(page, 'interview.wav').getByRole('link', { name: 'Open the job' }).waitFor();
    await shot(page, 'upload');
    await expectAccessible(page, 'upload (results)');

    // The reference clip: its transcript, within the accuracy the engine has on it.
    await item(page, REFERENCE.id).getByRole('link', { name: 'Open the job' }).click();
    await badge(page, 'Completed').waitFor({ timeout: 60_000 });
    await page.locator('.seg-text').first().waitFor();
    const text = (await page.locator('.seg-text').allTextContents()).join(' ');
    expect(wer([tally(REFERENCE.transcript, text)])).toBeLessThan(0.35);
    // The log came over the stream, and the stream says the job ended.
    await page.locator('.conn', { hasText: 'Ended' }).waitFor();
    const log = await page.locator('.log-line').allTextContents();
    expect(log.length).toBeGreaterThanOrEqual(3);
    expect(log.join('\n')).toMatch(/completed in/);

    // Downloads: same-origin links with file names.
    const links = page.locator('.downloads a');
    const downloads = await links.evaluateAll((as) => as.map((a) => [a.getAttribute('href'), a.getAttribute('download')]));
    expect(downloads.map(([, name]) => name)).toEqual([`${REFERENCE.id}.txt`, `${REFERENCE.id}.json`, `${REFERENCE.id}.srt`, `${REFERENCE.id}.vtt`]);
    const srt = await (await fetch(`${server.url}${downloads[2]![0]}`)).text();
    expect(srt).toMatch(/^1\n00:00:0\d,\d{3} --> /);

    // The joined file: several segments; clicking one plays the audio from there.
    await page.goto(`${server.url}/#/jobs`);
    await page.getByRole('link', { name: 'interview.wav' }).click();
    await badge(page, 'Completed').waitFor({ timeout: 60_000 });
    await page.locator('button.seg').first().waitFor();
    const segments = page.locator('button.seg');
    expect(await segments.count()).toBeGreaterThanOrEqual(2);
    await page.waitForFunction('document.querySelector("audio.player").readyState >= 1');
    const target = segments.nth(1);
    const start = await target.locator('.seg-time').textContent();
    await target.click();
    const [m, s] = (start ?? '0:0').split(':').map(Number);
    const seconds = (m ?? 0) * 60 + (s ?? 0);
    await page.waitForFunction(`document.querySelector("audio.player").currentTime >= ${seconds - 0.05}`);
    await page.evaluate('document.querySelector("audio.player").pause()');
    const audio = await fetch(`${server.url}/api/v1/jobs/${page.url().split('/').pop()}/audio`, { headers: { range: 'bytes=0-99' } });
    expect(audio.status).toBe(206);
    expect(audio.headers.get('content-type')).toBe('audio/wav');
    await shot(page, 'job');
    await expectAccessible(page, 'job view');

    await page.emulateMedia({ colorScheme: 'dark' });
    await shot(page, 'job-dark');
    await page.emulateMedia({ colorScheme: 'light' });

    // A phone: everything fits the width (no sideways scrolling).
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(200);
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    await shot(page, 'phone');
    await expectAccessible(page, 'job view (phone)');
    await page.close();
  });

  it('follows a running job\'s live log and stops it after a confirmation: cancelled, worker gone', async () => {
    const page = await open('/');
    await page.locator('#file-input').setInputFiles(long);
    await page.getByRole('button', { name: 'Upload 1 file' }).click();
    // One file accepted: its job page opens by itself.
    await page.waitForURL(/#\/jobs\/[\w-]+$/, { timeout: 30_000 });

    await badge(page, 'Running').waitFor({ timeout: 60_000 });
    await page.locator('.log-line', { hasText: 'decoding in process' }).waitFor({ timeout: 30_000 });
    await page.locator('.conn', { hasText: 'Live' }).waitFor();
    const id = page.url().split('/').pop()!;
    const job = await getJob(server.url, id);
    expect(job.status).toBe('running');
    const pid = job.process_id!;
    expect(pid).toBeGreaterThan(0);
    await fact(page, 'Worker pid').filter({ hasText: String(pid) }).waitFor();
    expect(await page.locator('.log-line').count()).toBeGreaterThanOrEqual(3);

    // Escape keeps the job.
    await page.getByRole('button', { name: 'Stop job' }).click();
    const dialog = page.getByRole('dialog', { name: 'Stop this job?' });
    await dialog.waitFor();
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    expect((await getJob(server.url, id)).status).toBe('running');

    await page.getByRole('button', { name: 'Stop job' }).click();
    await dialog.getByRole('button', { name: 'Stop job' }).click();
    await badge(page, 'Cancelled').waitFor({ timeout: 15_000 });
    await page.locator('.conn', { hasText: 'Ended' }).waitFor({ timeout: 15_000 });
    expect((await getJob(server.url, id)).status).toBe('cancelled');
    await waitFor(() => !alive(pid), 10_000);
    await page.close();
  });

  it('shows a file name made of HTML as text, and runs none of it', async () => {
    const page = await open('/');
    await page.locator('#file-input').setInputFiles({ name: XSS_NAME, mimeType: 'audio/wav', buffer: await readFile(clip('1089-134686-0001').path) });
    expect(await page.locator('.item-name').first().textContent()).toBe(XSS_NAME);
    await page.locator('.advanced summary').click();
    await page.locator('input[name=isolation][value=in-process]').check();
    await page.getByRole('button', { name: 'Upload 1 file' }).click();
    await page.waitForURL(/#\/jobs\/[\w-]+$/, { timeout: 30_000 });
    await page.locator('h1', { hasText: XSS_NAME }).waitFor();
    expect(await page.locator('h1').textContent()).toBe(XSS_NAME);
    await badge(page, 'Completed').waitFor({ timeout: 60_000 });
    await page.goto(`${server.url}/#/jobs`);
    await page.getByRole('link', { name: XSS_NAME }).waitFor();
    expect(await page.locator('img').count()).toBe(0);
    expect(watches.flatMap((w) => w.dialogs)).toEqual([]);
    await page.close();
  });

  it('history: filters by status, searches file names and updates by itself', async () => {
    const page = await open('/#/jobs');
    await page.locator('.jobs-table tbody tr').first().waitFor();
    const statuses = () => page.locator('.jobs-table tbody .badge').allTextContents();
    const names = () => page.locator('.jobs-table tbody .cell-file a').allTextContents();

    await page.getByLabel('Status').selectOption('cancelled');
    await page.waitForFunction('[...document.querySelectorAll(".jobs-table tbody .badge")].every((b) => b.textContent === "Cancelled")');
    expect(await names()).toEqual(['long-recording.wav']);

    await page.getByLabel('Status').selectOption('completed');
    await page.waitForFunction('!document.querySelector(".jobs-table")?.textContent.includes("long-recording.wav")');
    expect(new Set(await statuses())).toEqual(new Set(['Completed']));
    expect(await names()).toEqual(expect.arrayContaining([`${REFERENCE.id}.wav`, 'interview.wav', XSS_NAME]));

    await page.getByLabel('Status').selectOption('');
    await page.getByLabel('Search file names').fill('INTERVIEW');
    await page.waitForFunction('document.querySelectorAll(".jobs-table tbody tr").length === 1');
    expect(await names()).toEqual(['interview.wav']);
    await page.getByLabel('Search file names').fill('');

    // A job submitted elsewhere shows up without a reload (the list polls every 2 s).
    const live = join(work, 'standup notes 2024-05-02.wav');
    joinWavs([clip('1089-134686-0004').path], live);
    const accepted = await submitJob(server.url, live);
    await page.getByRole('link', { name: 'standup notes 2024-05-02.wav' }).waitFor({ timeout: 10_000 });
    await page.getByLabel('Search file names').blur();
    await shot(page, 'history');
    await expectAccessible(page, 'history');
    await waitFinished(server.url, accepted.job_id);
    await page.close();
  });

  it('system view: capacity, the workers /debug/pool reports, and the memory chart', async () => {
    const page = await open('/#/system');
    await page.locator('.worker-pid').first().waitFor();
    // The page polls; the pool may have replaced the worker stopped above: compare until they agree.
    await waitFor(async () => {
      const shown = (await page.locator('.worker-pid').allTextContents()).map(Number).sort();
      const actual = (await poolView(server.url)).workers.map((w) => w.pid).sort();
      return actual.length > 0 && JSON.stringify(shown) === JSON.stringify(actual);
    }, 10_000, 250);
    expect(await page.locator('.lead').textContent()).toContain('Process isolation is on');
    expect(await page.locator('.card h3').allTextContents()).toEqual(['In-process', 'Worker processes']);
    // The chart: a line for the server and one for the worker slot, from the service's own samples.
    await page.waitForFunction('(document.querySelector(".chart path.series-server")?.getAttribute("d") ?? "").includes("L")');
    expect(await page.locator('.chart path.series-0').count()).toBe(1);
    expect(await page.locator('.legend').textContent()).toContain('Worker slot 0');
    await shot(page, 'system');
    await expectAccessible(page, 'system');
    await page.close();
  });

  it('explains refusals: process isolation off, a file too large, the queue full; /debug/pool off; audio not kept', async () => {
    const small: TestServer = await startTestServer({
      ENABLE_PROCESS_ISOLATED: 'false',
      MAX_FILE_SIZE_MB: '0.15',
      MAX_QUEUE_SIZE: '1',
      ENABLE_DEBUG_ENDPOINTS: 'false',
      // A cancelled in-process decode stops at the next utterance: keep them short.
      UTTERANCE_MAX_SECONDS: '5',
    });
    try {
      // One job runs (the only engine) and one waits: the queue of one is full.
      const short = clip('1089-134686-0001'); // ~105 kB
      // The long recording as 8 kb/s Opus, to fit under this server's 150 kB limit.
      const longOpus = join(work, 'long-recording.ogg');
      execFileSync('ffmpeg', ['-v', 'error', '-y', '-i', long, '-c:a', 'libopus', '-b:a', '8k', longOpus]);
      const running = await submitJob(small.url, longOpus);
      await waitForJob(small.url, running.job_id, (j) => j.status === 'running');
      const queued = await submitJob(small.url, short.path);

      const page = await openPage(browser, `${small.url}/`, watches);
      await page.locator('input[name=mode][value=sync]').check();
      await page.locator('.advanced summary').click();
      await page.locator('input[name=isolation][value=process]').check();
      await page.locator('#file-input').setInputFiles([short.path, REFERENCE.path]);
      await page.getByRole('button', { name: 'Upload 2 files' }).click();
      await item(page, REFERENCE.id).locator('.note-error').waitFor();
      expect(await item(page, REFERENCE.id).locator('.note-title').textContent()).toBe(`“${REFERENCE.id}.wav” is too large: this server accepts files up to 150 kB.`);
      expect(await item(page, short.id).locator('.note-title').textContent()).toMatch(/^Process isolation is turned off on this server/);
      // Sending the same too-large file again cannot help: no Retry for it.
      expect(await item(page, REFERENCE.id).getByRole('button', { name: /^Retry/ }).count()).toBe(0);

      await page.getByRole('button', { name: `Remove ${REFERENCE.id}.wav` }).click();
      await page.getByRole('button', { name: `Retry ${short.id}.wav` }).click();
      await page.locator('input[name=mode][value=job]').check();
      await page.locator('input[name=isolation][value=default]').check();
      await page.getByRole('button', { name: 'Upload 1 file' }).click();
      await page.locator('.note-title', { hasText: 'at capacity' }).waitFor();
      expect(await item(page, short.id).locator('.note-title').textContent()).toBe('The server is at capacity: its queue is full. Try again in 30 seconds.');
      await expectAccessible(page, 'upload (refusals)');

      await page.goto(`${small.url}/#/system`);
      await page.locator('.note-title', { hasText: 'Worker details are not served here.' }).waitFor();
      expect(await page.locator('.lead').textContent()).toContain('Process isolation is off');
      expect(await page.locator('.card h3').allTextContents()).toEqual(['In-process']);
      // The queued job waits in the store, not in the engine's line: the card counts it, apart.
      const figure = (label: string) => page.locator('.card dl.stats > div', { has: page.locator('dt', { hasText: label }) }).locator('dd');
      await expect.poll(() => figure('Jobs waiting').textContent()).toBe('1');
      expect(await figure('In line').textContent()).toBe('0 / 1');
      expect(await figure('Active').textContent()).toBe('1 / 1');

      // KEEP_JOB_AUDIO=false: the audio plays while the job is queued, and is gone once it ends.
      await page.goto(`${small.url}/#/jobs/${queued.job_id}`);
      await page.locator('audio.player').waitFor();
      expect((await fetch(`${small.url}/api/v1/jobs/${queued.job_id}/audio`)).status).toBe(200);
      await fetch(`${small.url}/api/v1/jobs/${running.job_id}/cancel`, { method: 'POST' });
      await badge(page, 'Completed').waitFor({ timeout: 60_000 });
      await page.locator('p', { hasText: 'The audio is not kept after a job ends' }).waitFor();
      expect(await page.locator('audio').count()).toBe(0);
      const gone = await fetch(`${small.url}/api/v1/jobs/${queued.job_id}/audio`);
      expect(gone.status).toBe(404);
      expect(await gone.json()).toEqual({ error: { code: 'JOB_NOT_FOUND', message: `the audio of job ${queued.job_id} was deleted (KEEP_JOB_AUDIO=false)` } });
      await page.close();
    } finally {
      await small.stop();
    }
  });

  it('the live log reconnects by itself after the server restarts, without repeating lines', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'hark-ui-restart-'));
    const port = await freePort();
    const origin = `http://127.0.0.1:${port}`;
    const env = { LOG_LEVEL: 'warn', WORKER_COUNT: '1', UTTERANCE_MAX_SECONDS: '10', SHUTDOWN_GRACE_SECONDS: '1' };
    // The same port and DATA_DIR across the restart: the page reconnects where it was.
    const start = () => startChildServer({ port, dataDir, env });
    let srv = await start();
    try {
      const accepted = await submitJob(origin, long);
      const page = await openPage(browser, `${origin}/#/jobs/${accepted.job_id}`, watches);
      await page.locator('.log-line', { hasText: 'decoding in process' }).waitFor({ timeout: 30_000 });
      await page.locator('.conn', { hasText: 'Live' }).waitFor();
      const before = await page.locator('.log-line').allTextContents();

      srv.signal('SIGKILL');
      await srv.exited;
      await page.locator('.conn', { hasText: 'Reconnecting' }).waitFor();
      await page.locator('.note-title', { hasText: 'The server cannot be reached' }).waitFor();

      // The next server finds the job orphaned, queues it again and runs it: the same stream goes on.
      srv = await start();
      await page.locator('.conn', { hasText: 'Live' }).waitFor({ timeout: 15_000 });
      await page.locator('.log-line', { hasText: 'queued again' }).waitFor({ timeout: 15_000 });
      await page.locator('.log-line', { hasText: 'attempt 2 started' }).waitFor({ timeout: 15_000 });
      const after = await page.locator('.log-line').allTextContents();
      expect(after.slice(0, before.length)).toEqual(before);
      expect(after.filter((l) => l.includes('accepted:'))).toHaveLength(1);
      await fetch(`${origin}/api/v1/jobs/${accepted.job_id}/cancel`, { method: 'POST' });
      await page.locator('.conn', { hasText: 'Ended' }).waitFor({ timeout: 15_000 });
      await page.close();
    } finally {
      await srv.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('sent no request outside the server, opened no dialog and threw nothing', () => {
    expect(watches.length).toBeGreaterThan(0);
    expect(watches.flatMap((w) => w.external)).toEqual([]);
    expect(watches.flatMap((w) => w.dialogs)).toEqual([]);
    expect(watches.flatMap((w) => w.errors)).toEqual([]);
  });
});
