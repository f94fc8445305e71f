import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Transcript } from '../src/engines/index.js';
import { writeSilence, joinWavs } from './support/audio.js';
import { expectAccessible, openPage, startServerAndBrowser, tabTo, type PageWatch, type TestBrowser } from './support/browser.js';
import { parseTimes } from './support/captions.js';
import type { ChildServer } from './support/child-server.js';
import { clip } from './support/corpus.js';
import { waitFinished } from './support/jobs.js';

/*
 * Issue 24, what to build 6: live captions that last. A fake microphone says "go forward ten
 * meters" every 4 s; the page shows the time and the level while it records, keeps the captions
 * (with their times) after Stop, copies and downloads them, and saves the recording as a job.
 * The server takes 4 s of audio a file at most, so the page keeps only the first 4 s of a
 * longer recording, says so, and the job made of them is accepted.
 */

const SPOKEN = clip('cmu-goforward');
const WORDS = new Set(SPOKEN.transcript.toLowerCase().split(' '));
const MAX_AUDIO_SECONDS = 4;

let work: string;
let server: ChildServer;
let browser: TestBrowser;
let page: Page;
const watches: PageWatch[] = [];

/** "0:04" -> 4 */
const seconds = (clock: string) => {
  const [m, s] = clock.split(':').map(Number);
  return m! * 60 + s!;
};
const words = (text: string) => text.toLowerCase().split(/\s+/).filter((w) => w !== '');

/** Each caption line as shown: its time and its text. */
async function shownCaptions(): Promise<{ time: string; text: string }[]> {
  const items = page.getByRole('list', { name: 'Captions' }).getByRole('listitem');
  return Promise.all(
    (await items.all()).map(async (li) => ({ time: (await li.locator('time').textContent()) ?? '', text: ((await li.textContent()) ?? '').replace(/^\s*\d+:\d\d\s*/, '').trim() })),
  );
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'hark-ui-live-'));
  const pause = join(work, 'pause.wav');
  const mic = join(work, 'mic.wav');
  writeSilence(pause, 4 - SPOKEN.durationSeconds);
  joinWavs([SPOKEN.path, pause], mic);
  [server, browser] = await startServerAndBrowser(
    { ENABLE_PROCESS_ISOLATED: 'false', IN_PROCESS_CONCURRENCY: '1', MAX_AUDIO_SECONDS: String(MAX_AUDIO_SECONDS), LOG_LEVEL: 'warn' },
    // Chromium loops the file: a fake microphone that speaks, pauses, and speaks again.
    { extraArgs: ['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', `--use-file-for-fake-audio-capture=${mic}`] },
  );
  await browser.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
  page = await openPage(browser, `${server.url}/#/`, watches);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

describe('live captions that last', () => {
  it('shows the elapsed time, a moving input level and timed captions while recording', async () => {
    await page.getByRole('button', { name: 'Start the microphone' }).click();
    await page.getByRole('button', { name: /^Stop live transcription$/ }).waitFor({ timeout: 15_000 });

    const timer = page.getByRole('timer');
    expect(await timer.textContent()).toMatch(/^0:0[01]$/);
    // A <meter> with its name, read from the element itself (what a screen reader reads when asked).
    await page.getByRole('meter', { name: 'Input level' }).waitFor();
    // Ten readings a second that follow the voice: high while it speaks, near empty in its pause.
    const levels = new Set<number>();
    await expect
      .poll(
        async () => {
          levels.add((await page.evaluate('document.querySelector(".live-mic meter").value')) as number);
          return levels.size >= 4 && Math.max(...levels) > 0.3 && Math.min(...levels) < 0.1;
        },
        { timeout: 8000, interval: 100 },
      )
      .toBe(true);

    // Past the server's 4 s, the page says that it keeps no more audio; the captions go on.
    const cut = page.locator('.live-mic [role="status"]', { hasText: 'of audio is kept for saving' });
    await cut.waitFor({ timeout: 10_000 });
    expect(await cut.textContent()).toMatch(/^Only the first 0:0[34] of audio is kept for saving: this server takes up to 4\.0\s+s of audio a file\. The captions go on\.$/);
    await page.getByRole('list', { name: 'Captions' }).getByRole('listitem').first().waitFor({ timeout: 15_000 });
    await expectAccessible(page, 'recording');
    // The second "go forward" starts 4 s in: its caption carries a later time than the first.
    await expect.poll(async () => seconds(await timer.textContent() ?? '0:00'), { timeout: 10_000 }).toBeGreaterThanOrEqual(5);
  }, 40_000);

  it('keeps the captions with their times after Stop, and asks before a new recording replaces them', async () => {
    await page.getByRole('button', { name: /^Stop live transcription$/ }).click();
    const start = page.getByRole('button', { name: 'Start the microphone' });
    await start.waitFor({ timeout: 15_000 });

    const captions = await shownCaptions();
    expect(captions.length).toBeGreaterThanOrEqual(2);
    for (const c of captions) {
      expect(c.time).toMatch(/^\d+:\d\d$/);
      expect(words(c.text).some((w) => WORDS.has(w)), c.text).toBe(true);
    }
    const times = captions.map((c) => seconds(c.time));
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(times.at(-1)).toBeGreaterThanOrEqual(3);
    expect(await page.locator('.mic-elapsed').textContent()).toMatch(/^Recorded 0:0[5-9]$/);
    expect(await page.getByRole('meter').count()).toBe(0);
    expect(await page.locator('.live-mic .note-warn').textContent()).toMatch(/a file\.$/);
    await expectAccessible(page, 'stopped');

    // Nothing was copied, downloaded or saved yet: Start asks first, and "Keep it" keeps all.
    await start.click();
    const dialog = page.getByRole('dialog', { name: 'Delete the last recording?' });
    await dialog.waitFor();
    await dialog.getByRole('button', { name: 'Keep it' }).click();
    await dialog.waitFor({ state: 'hidden' });
    expect(await shownCaptions()).toEqual(captions);
    expect(await start.isEnabled()).toBe(true);
  }, 30_000);

  it('copies the captions with their times, and downloads them as WebVTT with cues from the word times', async () => {
    const captions = await shownCaptions();
    // With the keyboard alone: from the microphone's button, Tab reaches Copy, and Enter copies.
    await page.getByRole('button', { name: 'Start the microphone' }).focus();
    await tabTo(page, page.getByRole('button', { name: 'Copy with times' }), { max: 15 });
    await page.keyboard.press('Enter');
    await page.getByRole('status').filter({ hasText: `Copied ${captions.length} lines` }).waitFor();
    const lines = captions.map((c) => `[${String(Math.floor(seconds(c.time) / 60)).padStart(2, '0')}:${c.time.split(':')[1]}] ${c.text}`);
    expect(await page.evaluate('navigator.clipboard.readText()')).toBe(lines.join('\n'));

    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download the captions as WebVTT' }).click()]);
    expect(download.suggestedFilename()).toMatch(/^live-\d{4}-\d\d-\d\d-\d{4}\.vtt$/);
    const vtt = await readFile(await download.path(), 'utf8');
    expect(vtt.startsWith('WEBVTT\n\n')).toBe(true);
    // The cues hold the captions' words in order, timed within the recording, starting where the first caption does.
    const cueText = vtt.split('\n').filter((l) => l !== '' && l !== 'WEBVTT' && !l.includes(' --> '));
    expect(words(cueText.join(' '))).toEqual(words(captions.map((c) => c.text).join(' ')));
    const cueTimes = parseTimes(vtt, '.');
    expect(cueTimes.length).toBeGreaterThanOrEqual(2 * captions.length);
    expect(cueTimes).toEqual([...cueTimes].sort((a, b) => a - b));
    expect(Math.floor(cueTimes[0]!)).toBeGreaterThanOrEqual(seconds(captions[0]!.time));
    expect(cueTimes[0]!).toBeLessThan(seconds(captions[0]!.time) + 2);
    expect(cueTimes.at(-1)!).toBeLessThan(10);
  }, 20_000);

  it('saves the recording as a job with speakers labelled, which completes with the words said, and the captions outlive a visit to it', async () => {
    const facts = page.locator('#live-audio-facts');
    expect(await facts.textContent()).toMatch(/^Audio: [\d.]+\s+kB, 0:0[34] \(this server takes up to 500\s+MB and 4\.0\s+s a file\)\.$/);
    await page.getByRole('checkbox', { name: /^Label speakers in the saved job/ }).check();
    await page.getByRole('button', { name: 'Save as a job' }).click();
    const open = page.getByRole('link', { name: 'Open the job' });
    await open.waitFor({ timeout: 15_000 });
    expect(await page.evaluate('document.activeElement.className')).toBe('live-saved');

    const id = decodeURIComponent(((await open.getAttribute('href')) ?? '').replace('#/jobs/', ''));
    const job = await waitFinished(server.url, id, 20_000);
    expect(job.status).toBe('completed');
    expect(job.file_name).toMatch(/^live-\d{4}-\d\d-\d\d-\d{4}\.webm$/);
    const result = (await (await fetch(`${server.url}/api/v1/jobs/${id}/result?format=json`)).json()) as Transcript;
    // Only the first 4 s were kept: the server's limit, which a whole 5 s recording would break.
    expect(result.duration_seconds).toBeGreaterThan(3);
    expect(result.duration_seconds).toBeLessThanOrEqual(MAX_AUDIO_SECONDS);
    expect(words(result.text).filter((w) => WORDS.has(w)).length).toBeGreaterThanOrEqual(2);
    // "Label speakers" went with it: the job asked for diarization and its lines have speakers.
    expect(job.diarize).toEqual({ num_speakers: null, min_speakers: null, max_speakers: null });
    expect(result.segments.length).toBeGreaterThan(0);
    for (const seg of result.segments) expect(seg.speaker).toMatch(/^[A-Z]$/);

    const captions = await shownCaptions();
    await open.click();
    await page.locator('h1#job-title').waitFor();
    await page.goBack();
    await page.getByRole('link', { name: 'Open the job' }).waitFor();
    expect(await shownCaptions()).toEqual(captions);
    await expectAccessible(page, 'saved');
  }, 40_000);

  it('fits a phone, and Clear removes the recording', async () => {
    await page.setViewportSize({ width: 360, height: 740 });
    await page.locator('.live-actions').scrollIntoViewIfNeeded();
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(360);
    for (const name of ['Copy with times', 'Download the captions as SRT', 'Clear the recording']) {
      const box = await page.getByRole('button', { name }).boundingBox();
      expect(box, name).not.toBeNull();
      expect(box!.x + box!.width, name).toBeLessThanOrEqual(360);
    }
    await page.getByRole('button', { name: 'Clear the recording' }).click();
    expect(await page.getByRole('list', { name: 'Captions' }).getByRole('listitem').count()).toBe(0);
    expect(await page.evaluate('document.activeElement.textContent')).toContain('Start the microphone');
    for (const w of watches) {
      expect(w.errors).toEqual([]);
      expect(w.external).toEqual([]);
    }
  }, 20_000);
});
