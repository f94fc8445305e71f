import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tally, wer } from './support/eval/index.js';
import { hark } from './support/cli.js';
import { clip } from './support/corpus.js';
import { startTestServer, type TestServer } from './support/server.js';

const c = clip('1089-134686-0000');

describe('hark stream', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ MAX_STREAMS: '1', IN_PROCESS_CONCURRENCY: '2' });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('plays a file at real-time pace and prints each final as a line on stdout', async () => {
    const run = await hark(['stream', '--url', server.url, c.path]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines.length).toBeGreaterThanOrEqual(1);
    // stderr is a pipe here, not a TTY: no partials, no control characters anywhere.
    expect(run.stdout).not.toContain('\r');
    expect(run.stdout).not.toContain('\u001b');
    expect(wer([tally(c.transcript, lines.join(' '))])).toBeLessThan(0.45);
  }, 60_000);

  it('--format json prints one JSON Lines object per final, with times inside the clip', async () => {
    const run = await hark(['stream', '--format', 'json', c.path], { HARK_URL: server.url });
    expect(run.code).toBe(0);
    const finals = run.stdout.trim().split('\n').map((l) => JSON.parse(l) as { text: string; start: number; end: number; words: unknown[] });
    expect(finals.length).toBeGreaterThanOrEqual(1);
    for (const f of finals) {
      expect(typeof f.text).toBe('string');
      expect(f.end).toBeGreaterThanOrEqual(f.start);
      expect(f.end).toBeLessThanOrEqual(c.durationSeconds + 0.5);
      expect(Array.isArray(f.words)).toBe(true);
    }
  }, 60_000);

  it('an unknown engine ends with exit 1 and one line naming MODEL_NOT_FOUND', async () => {
    const run = await hark(['stream', '--url', server.url, '--engine', 'no-such-engine', c.path]);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^hark: .+ \(MODEL_NOT_FOUND\)\n$/);
  }, 30_000);

  it('a refused upgrade (MAX_STREAMS reached) ends with exit 1 and AT_CAPACITY', async () => {
    const held = new WebSocket(`${server.url.replace('http', 'ws')}/v1/audio/stream`);
    await new Promise((resolve, reject) => held.once('open', resolve).once('error', reject));
    try {
      const run = await hark(['stream', '--url', server.url, c.path]);
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/^hark: .*MAX_STREAMS=1.* \(AT_CAPACITY\)\n$/);
    } finally {
      held.close();
      await new Promise((resolve) => held.once('close', resolve));
    }
  }, 30_000);

  it('a missing file fails before connecting, and an unreachable server says so', async () => {
    const missing = await hark(['stream', '--url', server.url, '/nonexistent/clip.wav']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^hark: cannot read \/nonexistent\/clip\.wav \(ENOENT\)\n$/);
    const down = await hark(['stream', '--url', 'http://127.0.0.1:1', c.path]);
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/^hark: cannot connect to .+ \(CONNECTION_FAILED\)\n$/);
  }, 30_000);
});
