import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Transcript } from '../src/engines/index.js';
import { joinWavs } from './support/audio.js';
import { expectAccessible, openPage, startServerAndBrowser, type PageWatch, type TestBrowser } from './support/browser.js';
import type { ChildServer } from './support/child-server.js';
import { clip } from './support/corpus.js';
import { submitJob, waitFinished } from './support/jobs.js';

/**
 * Issue 24, item 1 in real Chromium: the transcript of a finished job follows its audio (the word
 * being heard marked, its line kept in view), a click on a word plays from it, search marks and
 * steps through its hits, Copy puts the transcript (or the selected lines, with times) on the
 * clipboard, and the keyboard reaches the transcript in one Tab and moves in it with the arrows.
 * Four LibriSpeech clips of speaker 1089 joined (52 s, "pound" four times in the reference),
 * decoded by PocketSphinx in short utterances so the transcript has more lines than its box shows.
 */

const CLIPS = ['1089-134686-0000', '1089-134686-0020', '1089-134686-0018', '1089-134686-0005'].map(clip);
/** A word of the reference transcript that PocketSphinx recognises there. */
const QUERY = 'pound';

let server: ChildServer;
let browser: TestBrowser;
let work: string;
let page: Page;
let jobId: string;
let diarizedId: string;
let result: Transcript;
const watches: PageWatch[] = [];

const audioTime = async () => (await page.evaluate('document.querySelector("audio").currentTime')) as number;
const pause = () => page.evaluate('document.querySelector("audio").pause()');
const clipboard = async () => (await page.evaluate('navigator.clipboard.readText()')) as string;
/** The line of the element with focus, null outside the transcript. */
const focusedLine = async () => (await page.evaluate('document.activeElement?.closest(".segments > li")?.getAttribute("data-line") ?? null')) as string | null;
const activeLines = () => page.locator('.segments > li.seg-active').evaluateAll((els) => els.map((el) => Number(el.getAttribute('data-line'))));
const nowWords = () => page.locator('.w-now').allTextContents();
const list = () => page.locator('.segments');

/** Moves the player as playing would (the element's own seek: `seeking`, `timeupdate` and `seeked` events), without sound. */
async function playTo(seconds: number): Promise<void> {
  await page.evaluate(`new Promise((resolve) => {
    const audio = document.querySelector('audio');
    audio.addEventListener('seeked', resolve, { once: true });
    audio.currentTime = ${seconds};
  })`);
}

/** The word that `seconds` falls in, as the result's own times say, and its segment's number. */
function wordAt(seconds: number): { word: string; segment: number } {
  const w = result.words.find((x) => seconds >= x.start && seconds < x.end)!;
  return { word: w.word, segment: result.segments.findIndex((s) => w.start >= s.start - 0.02 && w.start < s.end) };
}

/** Is the element wholly inside the transcript's scrolling box? */
async function inBox(selector: string): Promise<boolean> {
  return (await page.evaluate(`(() => {
    const box = document.querySelector('.segments').getBoundingClientRect();
    const r = document.querySelector(${JSON.stringify(selector)}).getBoundingClientRect();
    return r.top >= box.top - 1 && r.bottom <= box.bottom + 1;
  })()`)) as boolean;
}

const tag = (s: number) => `[${String(Math.floor(s / 60)).padStart(2, '0')}:${String(Math.floor(s % 60)).padStart(2, '0')}]`;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'hark-ui-transcript-'));
  const reading = join(work, 'reading.wav');
  const interview = join(work, 'interview.wav');
  joinWavs(CLIPS.map((c) => c.path), reading);
  joinWavs([CLIPS[0]!.path, clip('1221-135766-0002').path], interview);
  [server, browser] = await startServerAndBrowser({ ENABLE_PROCESS_ISOLATED: 'false', IN_PROCESS_CONCURRENCY: '1', KEEP_JOB_AUDIO: 'true', UTTERANCE_MAX_SECONDS: '6', LOG_LEVEL: 'warn' });
  jobId = (await submitJob(server.url, reading)).job_id;
  diarizedId = (await submitJob(server.url, interview, { diarize: 'true', num_speakers: '2' })).job_id;
  expect((await waitFinished(server.url, jobId)).status).toBe('completed');
  result = (await (await fetch(`${server.url}/api/v1/jobs/${jobId}/result?format=json`)).json()) as Transcript;
  await browser.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
  page = await openPage(browser, `${server.url}/#/jobs/${jobId}`, watches);
  await page.locator('button.seg').first().waitFor({ timeout: 30_000 });
  await page.waitForFunction('document.querySelector("audio").readyState >= 1');
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

describe('the transcript viewer', () => {
  it('has more lines than its box shows, and word times that match the text', () => {
    expect(result.segments.length).toBeGreaterThanOrEqual(8);
    expect(result.words.map((w) => w.word).join(' ')).toBe(result.segments.map((s) => s.text.trim()).join(' '));
  });

  it('marks the word being heard and its line as the audio plays, and none between lines', async () => {
    expect(await nowWords()).toEqual([]);
    // The middle of a word in the first line, in the third, and in the last.
    const last = result.segments.length - 1;
    for (const w of [result.words[2]!, result.words[Math.floor(result.words.length / 2)]!, result.words.at(-2)!]) {
      const t = (w.start + w.end) / 2;
      const expected = wordAt(t);
      await playTo(t);
      await expect.poll(nowWords).toEqual([expected.word]);
      expect(await activeLines()).toEqual([expected.segment]);
    }
    expect(await activeLines()).toEqual([last]);
    // Between two lines: nothing marked.
    const gap = result.segments.findIndex((s, i) => (result.segments[i + 1]?.start ?? 0) - s.end > 0.05);
    expect(gap).toBeGreaterThanOrEqual(0);
    await playTo((result.segments[gap]!.end + result.segments[gap + 1]!.start) / 2);
    await expect.poll(activeLines).toEqual([]);
    expect(await nowWords()).toEqual([]);
  });

  it('scrolls its own box to the line being heard only when that line is out of view, never the page', async () => {
    await list().evaluate((el) => el.scrollTo({ top: 0 }));
    await page.evaluate('window.scrollTo({ top: 0 })');
    const pageTop = await page.evaluate('window.scrollY');
    await playTo(result.segments.at(-1)!.start + 0.05);
    await expect.poll(() => inBox('.segments > li.seg-active')).toBe(true);
    const scrolled = await list().evaluate((el) => el.scrollTop);
    expect(scrolled).toBeGreaterThan(0);
    expect(await page.evaluate('window.scrollY')).toBe(pageTop);
    // The line before it is in view too: playing it moves nothing.
    await playTo(result.segments.at(-2)!.start + 0.05);
    await expect.poll(activeLines).toEqual([result.segments.length - 2]);
    expect(await inBox('.segments > li.seg-active')).toBe(true);
    expect(await list().evaluate((el) => el.scrollTop)).toBe(scrolled);
    // Back to the start: the first line is out of view again, so the box follows.
    await playTo(result.segments[0]!.start + 0.05);
    await expect.poll(() => inBox('.segments > li.seg-active')).toBe(true);
  });

  it('plays from a word when it is clicked, and from a line when its time is', async () => {
    const line = 3;
    const word = page.locator(`.segments > li[data-line="${line}"] .w`).nth(2);
    const inLine = result.words.filter((w) => w.start >= result.segments[line]!.start - 0.02 && w.start < result.segments[line]!.end);
    expect(await word.textContent()).toBe(inLine[2]!.word);
    await word.click();
    await expect.poll(audioTime).toBeGreaterThanOrEqual(inLine[2]!.start - 0.01);
    expect(await audioTime()).toBeLessThan(inLine[2]!.start + 0.5);
    await pause();
    await page.locator(`.segments > li[data-line="${line + 1}"] .seg-time`).click();
    await expect.poll(audioTime).toBeGreaterThanOrEqual(result.segments[line + 1]!.start - 0.01);
    expect(await audioTime()).toBeLessThan(result.segments[line + 1]!.start + 0.5);
    await pause();
  });

  it(`finds "${QUERY}", marks every hit, says which of them is current and steps through them`, async () => {
    expect(CLIPS.some((c) => c.transcript.toLowerCase().split(' ').includes(QUERY))).toBe(true);
    const expected = result.segments.flatMap((s, i) => [...s.text.matchAll(new RegExp(QUERY, 'gi'))].map(() => i));
    expect(expected.length).toBeGreaterThanOrEqual(3);
    const status = page.locator('.hit-count');
    const current = () => page.locator('mark.hit-now').evaluateAll((els) => els.map((el) => [Number(el.getAttribute('data-hit')), Number(el.closest('li')!.getAttribute('data-line'))]));

    const box = page.getByLabel('Search the transcript');
    await box.fill(QUERY.toUpperCase());
    await expect.poll(() => status.textContent()).toBe(`1 of ${expected.length}`);
    const marks = await page.locator('.segments mark').evaluateAll((els) => els.map((el) => [el.textContent!.toLowerCase(), Number(el.closest('li')!.getAttribute('data-line'))]));
    expect(marks).toEqual(expected.map((line) => [QUERY, line]));
    expect(await current()).toEqual([[0, expected[0]]]);

    await box.press('Enter');
    await expect.poll(current).toEqual([[1, expected[1]]]);
    expect(await status.textContent()).toBe(`2 of ${expected.length}`);
    await box.press('Shift+Enter');
    await expect.poll(current).toEqual([[0, expected[0]]]);
    // Previous from the first goes round to the last, which is scrolled into view.
    await page.getByRole('button', { name: 'Previous match' }).click();
    await expect.poll(() => status.textContent()).toBe(`${expected.length} of ${expected.length}`);
    expect(await current()).toEqual([[expected.length - 1, expected.at(-1)]]);
    await expect.poll(() => inBox('mark.hit-now')).toBe(true);
    await page.getByRole('button', { name: 'Next match' }).click();
    await expect.poll(current).toEqual([[0, expected[0]]]);
    await expect.poll(() => inBox('mark.hit-now')).toBe(true);

    await expectAccessible(page, 'transcript with search hits');
    await page.setViewportSize({ width: 390, height: 844 });
    await expect.poll(() => page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    await expectAccessible(page, 'transcript with search hits (phone)');
    await page.setViewportSize({ width: 1280, height: 800 });

    await box.fill('zebra crossing');
    await expect.poll(() => status.textContent()).toBe('No matches');
    expect(await page.locator('.segments mark').count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Next match' }).isDisabled()).toBe(true);
    await box.fill('');
    expect(await status.textContent()).toBe('');
  });

  it('copies the transcript, and the lines a selection touches with their times', async () => {
    await page.getByRole('button', { name: 'Copy all' }).click();
    await expect.poll(clipboard).toBe(result.segments.map((s) => s.text.trim()).join('\n'));
    expect(await page.locator('.copy-note').textContent()).toBe('Copied the transcript');

    // A drag with the mouse from the middle of line 1 into line 2 selects text in both.
    const from = await page.locator('.segments > li[data-line="1"] .w').nth(1).boundingBox();
    const to = await page.locator('.segments > li[data-line="2"] .w').nth(1).boundingBox();
    await page.mouse.move(from!.x + 2, from!.y + from!.height / 2);
    await page.mouse.down();
    await page.mouse.move(to!.x + to!.width - 2, to!.y + to!.height / 2, { steps: 5 });
    await page.mouse.up();
    expect(await page.evaluate('document.getSelection().toString()')).toContain(result.segments[2]!.text.split(' ')[0]);
    await page.getByRole('button', { name: 'Copy with times' }).click();
    const lines = [1, 2].map((i) => `${tag(result.segments[i]!.start)} ${result.segments[i]!.text.trim()}`);
    await expect.poll(clipboard).toBe(lines.join('\n'));
    expect(await page.locator('.copy-note').textContent()).toBe('Copied 2 lines with times');
  });

  it('copies a diarized transcript a turn to a paragraph, each headed by its speaker', async () => {
    expect((await waitFinished(server.url, diarizedId)).status).toBe('completed');
    const diarized = (await (await fetch(`${server.url}/api/v1/jobs/${diarizedId}/result?format=json&speaker_names=false`)).json()) as Transcript;
    const turns: string[] = [];
    diarized.segments.forEach((s, i) => {
      if (s.speaker !== diarized.segments[i - 1]?.speaker) turns.push(`Speaker ${s.speaker}: ${s.text.trim()}`);
      else turns[turns.length - 1] += ` ${s.text.trim()}`;
    });
    expect(turns.length).toBeGreaterThanOrEqual(2);
    await page.goto(`${server.url}/#/jobs/${diarizedId}`);
    await page.locator('.seg-speaker').first().waitFor({ timeout: 30_000 });
    await page.getByRole('button', { name: 'Copy all' }).click();
    await expect.poll(() => clipboard()).toBe(turns.join('\n\n'));
    // The speakers' filter still works, and search looks only at the lines shown.
    const saidA = diarized.segments.filter((s) => s.speaker === 'A').map((s) => s.text);
    const onlyB = diarized.segments.find((s) => s.speaker === 'B')!.text.split(' ').find((w) => w.length > 3 && !saidA.some((t) => t.includes(w)))!;
    await page.getByLabel('Search the transcript').fill(onlyB);
    await expect.poll(() => page.locator('.hit-count').textContent()).toMatch(/^1 of \d+$/);
    await page.getByLabel('Show Speaker B in the transcript').uncheck();
    expect(await page.locator('.segments > li.spk-1').count()).toBe(0);
    await expect.poll(() => page.locator('.hit-count').textContent()).toBe('No matches');
    await page.getByRole('button', { name: 'Show all' }).click();
    await expect.poll(() => page.locator('.hit-count').textContent()).toMatch(/^1 of \d+$/);
    await page.getByLabel('Search the transcript').fill('');
  });

  it('gives each of several sync transcripts on the upload view a search of its own', async () => {
    await page.goto(server.url);
    await page.getByRole('radio', { name: /^Sync/ }).check();
    await page.locator('#file-input').setInputFiles([CLIPS[0]!.path, CLIPS[1]!.path]);
    await page.getByRole('button', { name: 'Upload 2 files' }).click();
    await expect.poll(() => page.locator('.transcript .segments').count(), { timeout: 60_000 }).toBe(2);
    const ids = (await page.evaluate('[...document.querySelectorAll("[id]")].map((el) => el.id)')) as string[];
    expect(ids.length - new Set(ids).size).toBe(0);
    const [first, second] = [page.locator('.transcript').nth(0), page.locator('.transcript').nth(1)];
    // "pound" is said only in the second clip.
    await second.getByLabel('Search the transcript').fill(QUERY);
    await expect.poll(() => second.locator('.hit-count').textContent()).toMatch(/^1 of [1-9]\d*$/);
    expect(await first.locator('mark').count()).toBe(0);
    expect(await first.locator('.hit-count').textContent()).toBe('');
    await expectAccessible(page, 'two sync transcripts, one searched');
  });

  it('is one Tab stop: the arrows move between lines and Enter plays from the one with focus', async () => {
    await page.goto(`${server.url}/#/jobs/${jobId}`);
    await page.locator('button.seg').first().waitFor();
    await page.waitForFunction('document.querySelector("audio").readyState >= 1');
    let tabs = 0;
    while ((await focusedLine()) === null && tabs++ < 60) await page.keyboard.press('Tab');
    expect(await focusedLine()).toBe('0');
    expect(await page.locator('.segments .seg[tabindex="0"]').count()).toBe(1);
    // One more Tab leaves the transcript; Shift+Tab comes back to the same line.
    await page.keyboard.press('Tab');
    expect(await focusedLine()).toBeNull();
    await page.keyboard.press('Shift+Tab');
    expect(await focusedLine()).toBe('0');

    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowUp');
    await page.keyboard.press('ArrowDown');
    expect(await focusedLine()).toBe('2');
    expect(await page.locator('.segments .seg[tabindex="0"]').evaluate((el) => el.closest('li')!.getAttribute('data-line'))).toBe('2');
    await page.keyboard.press('Enter');
    await expect.poll(audioTime).toBeGreaterThanOrEqual(result.segments[2]!.start - 0.01);
    expect(await audioTime()).toBeLessThan(result.segments[2]!.start + 0.5);
    await pause();
    await page.keyboard.press('End');
    expect(await focusedLine()).toBe(String(result.segments.length - 1));
    expect(await inBox('.segments > li:last-child')).toBe(true);
    await page.keyboard.press('Home');
    expect(await focusedLine()).toBe('0');
    await expectAccessible(page, 'transcript with keyboard focus');
    expect(watches.flatMap((w) => w.errors)).toEqual([]);
  });
});
