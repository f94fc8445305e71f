import type { BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeViolations, launchBrowser, requireBuiltPage, seriousA11yViolations, watchPage, type TestBrowser } from './support/browser.js';
import { clip } from './support/corpus.js';
import { createKeyWithCli } from './support/keys-cli.js';
import { startTestServer, type TestServer } from './support/server.js';

/** The fake microphone plays this clip (Chromium loops it). */
const SPOKEN = clip('1089-134686-0000');

let server: TestServer;
let keyed: TestServer;
let key: string;
let context: BrowserContext;
let browser: TestBrowser;

beforeAll(async () => {
  requireBuiltPage();
  [server, keyed, browser] = await Promise.all([
    startTestServer({ MAX_STREAMS: '2', IN_PROCESS_CONCURRENCY: '2' }),
    startTestServer({ AUTH_MODE: 'api_key' }),
    // A fake microphone that plays a dev clip, with the permission granted without a prompt.
    launchBrowser({
      extraArgs: ['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', `--use-file-for-fake-audio-capture=${SPOKEN.path}`],
    }),
  ]);
  context = browser.context;
  key = await createKeyWithCli(keyed.dataDir, 'mic', 'transcribe');
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await Promise.all([server?.stop(), keyed?.stop()]);
});

describe('web page: live microphone', () => {
  it("the page's CSP lets it open a WebSocket to its own host only", async () => {
    const res = await fetch(`${server.url}/`);
    const csp = res.headers.get('content-security-policy') ?? '';
    const host = new URL(server.url).host;
    const connect = csp.split(';').map((d) => d.trim()).find((d) => d.startsWith('connect-src'));
    expect(connect).toBe(`connect-src 'self' ws://${host} wss://${host}`);
    // A Host header that tries to smuggle a directive in gets the plain policy. (Asked of the server
    // with keys: without them, such a Host gets 403 HOST_NOT_ALLOWED before the page.)
    const { request } = await import('node:http');
    const hostile = await new Promise<string>((resolve, reject) => {
      const req = request(`${keyed.url}/`, { headers: { host: "evil.example; script-src 'unsafe-inline'" } }, (r) => {
        r.resume();
        resolve(String(r.headers['content-security-policy']));
      });
      req.on('error', reject);
      req.end();
    });
    expect(hostile).toContain("connect-src 'self';");
    expect(hostile).not.toContain('evil.example');
  });

  it('records, shows captions with words as they are heard, and stops', async () => {
    const page = await context.newPage();
    const watch = watchPage(page, server.url);
    const sockets: string[] = [];
    page.on('websocket', (ws) => sockets.push(ws.url()));
    await page.goto(`${server.url}/#/`);

    const start = page.getByRole('button', { name: 'Start the microphone' });
    await start.click();
    const stop = page.getByRole('button', { name: /^Stop live transcription$/ });
    await stop.waitFor({ timeout: 15_000 });

    // The captions list is a polite live region: finals are read out as they arrive.
    const captions = page.getByRole('list', { name: 'Captions' });
    expect(await captions.getAttribute('aria-live')).toBe('polite');
    const first = captions.getByRole('listitem').first();
    await first.waitFor({ timeout: 45_000 });
    const text = (await first.textContent()) ?? '';
    expect(text.split(/\s+/).filter((w) => /[a-z]/i.test(w)).length).toBeGreaterThanOrEqual(2);
    // Words of the clip the fake microphone plays, not noise.
    const spoken = new Set(SPOKEN.transcript.toLowerCase().split(/\s+/));
    expect(text.toLowerCase().split(/\s+/).some((w) => spoken.has(w))).toBe(true);

    expect(describeViolations(await seriousA11yViolations(page))).toBe('');

    await stop.click();
    // The stream ends cleanly: back to the start button, no error note.
    await start.waitFor({ timeout: 20_000 });
    expect(await page.locator('.live-mic .note-error').allTextContents()).toEqual([]);
    expect(await captions.getByRole('listitem').count()).toBeGreaterThanOrEqual(1);

    expect(sockets).toEqual([`${server.url.replace('http', 'ws')}/v1/audio/stream`]);
    expect(watch.external).toEqual([]);
    expect(watch.errors).toEqual([]);
    await page.close();
  }, 90_000);

  it('a stream the server refuses shows the error in the page', async () => {
    const page = await context.newPage();
    // An engine the server does not have: the config is refused with MODEL_NOT_FOUND.
    await page.routeWebSocket(/\/v1\/audio\/stream$/, (ws) => {
      const upstream = ws.connectToServer();
      ws.onMessage((m) => upstream.send(typeof m === 'string' && m.startsWith('{"encoding"') ? JSON.stringify({ encoding: 'webm', engine: 'no-such-engine' }) : m));
    });
    await page.goto(`${server.url}/#/`);
    await page.getByRole('button', { name: 'Start the microphone' }).click();
    const alert = page.locator('.live-mic [role="alert"]');
    await alert.waitFor({ timeout: 15_000 });
    expect(await alert.textContent()).toContain('MODEL_NOT_FOUND');
    await page.getByRole('button', { name: 'Start the microphone' }).waitFor();
    expect(describeViolations(await seriousA11yViolations(page))).toBe('');
    await page.close();
  }, 60_000);

  it('with API keys, opens the stream with a single-use ticket, never with the key in the URL', async () => {
    const page = await context.newPage();
    const watch = watchPage(page, keyed.url);
    const sockets: string[] = [];
    page.on('websocket', (ws) => sockets.push(ws.url()));
    // The key as the page keeps it once entered (sessionStorage, this tab).
    await page.addInitScript({ content: `sessionStorage.setItem('hark.apiKey', ${JSON.stringify(key)})` });
    await page.goto(`${keyed.url}/#/`);
    const start = page.getByRole('button', { name: 'Start the microphone' });
    await start.click();
    const stop = page.getByRole('button', { name: /^Stop live transcription$/ });
    await stop.waitFor({ timeout: 15_000 });
    await stop.click();
    await start.waitFor({ timeout: 20_000 });
    expect(await page.locator('.live-mic .note-error').allTextContents()).toEqual([]);
    expect(sockets).toHaveLength(1);
    expect(sockets[0]).toMatch(/\/v1\/audio\/stream\?ticket=[\w.%-]+$/);
    expect(sockets[0]).not.toContain(encodeURIComponent(key));
    expect(sockets[0]).not.toContain('api_key');
    expect(watch.external).toEqual([]);
    expect(watch.errors).toEqual([]);
    await page.close();
  }, 60_000);
});
