import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { joinWavs } from './support/audio.js';
import { expectAccessible, openPage, startServerAndBrowser, type PageWatch, type TestBrowser } from './support/browser.js';
import type { ChildServer } from './support/child-server.js';
import { devClips } from './support/corpus.js';
import { getJob, submitJob, waitForJob } from './support/jobs.js';

let server: ChildServer;
let browser: TestBrowser;
let work: string;
const watches: PageWatch[] = [];

/** What a user sees of the job at one moment. */
interface Seen {
  status: string;
  /** The status panel's text, e.g. "Running 20 of 45 s decoded 44 % about 15 s left Audio 0:45 …". */
  panel: string;
  /** The "Transcript so far" list's utterances. */
  partial: string[];
  /** The transcript panel's text. */
  transcript: string;
  /** When (Date.now()). */
  t: number;
}

/** Read in the page (a string: the tests' TypeScript has no DOM types); spaces collapsed as a reader sees them. */
const LOOK = `(() => {
  const text = (el) => (el?.innerText ?? '').replace(/\\s+/g, ' ').trim();
  return {
    status: document.querySelector('.status-line .badge')?.textContent ?? '',
    panel: text(document.querySelector('.status-panel')),
    partial: [...document.querySelectorAll('[aria-label="Transcript so far"] li')].map(text),
    transcript: text(document.querySelector('.job-grid .panel')),
  };
})()`;

async function look(page: Page): Promise<Seen> {
  return { ...((await page.evaluate(LOOK)) as Omit<Seen, 't'>), t: Date.now() };
}

const DECODED = /(\d+) of (\d+) s decoded/;
const ESTIMATE = /(about \d+ (?:s|min)|a few seconds) left/;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'hark-ui-progress-'));
  // One worker process, so the segments cross the pool's IPC as they do by default; utterances of at
  // most 6 s, so the page has several steps to show.
  [server, browser] = await startServerAndBrowser({ WORKER_COUNT: '1', IN_PROCESS_CONCURRENCY: '1', DEFAULT_ISOLATION: 'process', UTTERANCE_MAX_SECONDS: '6', LOG_LEVEL: 'warn' });
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

describe('a running job\'s page', () => {
  it('shows how much is decoded, an estimate of the time left and the transcript so far, which the final one replaces', async () => {
    // 50 s of speech: PocketSphinx takes several seconds over it (more on a busy machine), long enough to watch.
    const clips = [];
    let seconds = 0;
    for (const c of devClips) {
      if (seconds >= 50) break;
      clips.push(c.path);
      seconds += c.durationSeconds;
    }
    const file = join(work, 'minute.wav');
    joinWavs(clips, file);
    const { job_id: id } = await submitJob(server.url, file);
    const page = await openPage(browser, `${server.url}/#/jobs/${id}`, watches);

    const seen: Seen[] = [];
    let accessibleWhileRunning: boolean | undefined;
    const deadline = Date.now() + 50_000;
    for (;;) {
      const s = await look(page);
      seen.push(s);
      if ((s.status === 'Completed' && !s.transcript.includes('Loading the transcript')) || Date.now() > deadline) break;
      if (accessibleWhileRunning === undefined && s.status === 'Running' && s.partial.length > 0) {
        await expectAccessible(page, 'running job with its transcript so far');
        accessibleWhileRunning = (await look(page)).status === 'Running';
      }
      await page.waitForTimeout(100);
    }

    const running = seen.filter((s) => s.status === 'Running');
    /** What the status panel said while running, for failure messages. */
    const panels = [...new Set(running.map((s) => s.panel))].join('\n');
    const last = seen[seen.length - 1]!;
    expect(last.status, 'the job did not complete in time').toBe('Completed');

    // "x of y s decoded" grows, against the audio's own length.
    const decoded = running.map((s) => DECODED.exec(s.panel)).filter((m) => m !== null);
    expect(decoded.length, panels).toBeGreaterThan(0);
    const { duration_seconds: duration } = await getJob(server.url, id);
    for (const m of decoded) expect(Number(m[2])).toBe(Math.floor(duration!));
    const values = decoded.map((m) => Number(m[1]));
    expect(new Set(values).size, `decoded figures seen: ${values.join(', ')}`).toBeGreaterThanOrEqual(2);
    expect(values).toEqual([...values].sort((a, b) => a - b));

    // "estimating…" until there is enough to go on, then an estimate, never far above the time the
    // job then took to complete (the load of a shared machine changes as it goes, so no closer than that).
    const estimates = running.map((s) => ESTIMATE.exec(s.panel)?.[1]).filter((e) => e !== undefined);
    expect(estimates.length, panels).toBeGreaterThan(0);
    const firstEstimate = running.findIndex((s) => ESTIMATE.test(s.panel));
    expect(running.slice(0, firstEstimate).every((s) => s.panel.includes('estimating…'))).toBe(true);
    for (const s of running) {
      const m = /about (\d+) (s|min) left/.exec(s.panel);
      const actual = (last.t - s.t) / 1000;
      if (m !== null) expect(Number(m[1]) * (m[2] === 'min' ? 60 : 1), `${m[0]}, done in ${actual.toFixed(1)} s`).toBeLessThanOrEqual(4 * actual + 15);
    }

    // The transcript so far grows utterance by utterance while the job runs, with the decoder's own text.
    const counts = running.map((s) => s.partial.length);
    expect(Math.max(...counts), 'no utterance was shown while the job ran').toBeGreaterThan(0);
    expect(new Set(counts.filter((n) => n > 0)).size, `utterances shown: ${counts.join(', ')}`).toBeGreaterThanOrEqual(2);
    const result = (await (await fetch(`${server.url}/api/v1/jobs/${id}/result?format=json`)).json()) as { segments: { text: string }[] };
    const shown = running[running.length - 1]!.partial;
    expect(shown.length).toBeLessThanOrEqual(result.segments.length);
    shown.forEach((line, i) => expect(line).toContain(result.segments[i]!.text));

    // Once completed, the final transcript takes its place.
    expect(last.partial).toEqual([]);
    expect(last.panel).not.toMatch(DECODED);
    expect(last.transcript).toContain(result.segments[0]!.text);
    expect(last.transcript).toContain(result.segments[result.segments.length - 1]!.text);
    expect(watches.flatMap((w) => w.errors)).toEqual([]);
    expect(accessibleWhileRunning, 'the job ended before axe was done: the audio is too short to watch').toBe(true);
    await page.close();
  }, 70_000);

  it('says it waits while the job is queued, and shows no figures it does not have', async () => {
    // The only worker is busy with a long job, so the next one waits in the queue.
    const long = join(work, 'long.wav');
    joinWavs(devClips.slice(0, 12).map((c) => c.path), long);
    const busy = await submitJob(server.url, long);
    await waitForJob(server.url, busy.job_id, (j) => j.status === 'running');
    const { job_id: id } = await submitJob(server.url, devClips[0]!.path);
    const page = await openPage(browser, `${server.url}/#/jobs/${id}`, watches);
    await page.getByText('Waiting for a free engine').waitFor();
    const s = await look(page);
    expect(s.panel).not.toMatch(DECODED);
    expect(s.partial).toEqual([]);
    expect(s.transcript).toContain('The transcript appears here, utterance by utterance, as the job runs.');
    for (const j of [id, busy.job_id]) await fetch(`${server.url}/api/v1/jobs/${j}/cancel`, { method: 'POST' });
    await page.close();
  }, 30_000);
});
