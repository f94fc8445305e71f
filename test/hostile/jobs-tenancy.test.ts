import { connect } from 'node:net';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { joinWavs } from '../support/audio.js';
import { clip } from '../support/corpus.js';
import { expectError, SHORT, withTimeout } from '../support/hostile-http.js';
import { postAudio } from '../support/http.js';
import { createKeyWithCli } from '../support/keys-cli.js';
import { startTestServer, type TestServer } from '../support/server.js';

/*
 * One API key against another on the jobs API (issue 18, findings 5, 7, 8 and
 * the log-follower item of 12): what one key can learn of, take from, or hold
 * away from another, and what a callback URL tells about the server's network.
 */

const LONG_CLIP = clip('1089-134686-0000'); // 10.4 s

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

interface Accepted {
  job_id: string;
  status: string;
}

async function submit(server: TestServer, key: string, path: string, headers: Record<string, string> = {}, fields: Record<string, string> = {}): Promise<Response> {
  return postAudio(`${server.url}/api/v1/jobs`, path, fields, { headers: { ...bearer(key), ...headers } });
}

async function accepted(res: Response): Promise<Accepted & { httpStatus: number }> {
  const text = await res.text();
  expect([200, 202], text).toContain(res.status);
  return { ...(JSON.parse(text) as Accepted), httpStatus: res.status };
}

/** Cancels the key's queued and running jobs, so that stopping the server does not wait for them. */
async function cancelAll(server: TestServer, key: string): Promise<void> {
  const { jobs } = (await (await fetch(`${server.url}/api/v1/jobs?limit=200`, { headers: bearer(key) })).json()) as { jobs: { id: string; status: string }[] };
  for (const j of jobs.filter((j) => j.status === 'queued' || j.status === 'running')) {
    await fetch(`${server.url}/api/v1/jobs/${j.id}/cancel`, { method: 'POST', headers: bearer(key) });
  }
}

describe('Idempotency-Key belongs to the API key that sent it (finding 5)', () => {
  let server: TestServer;
  let alice: string;
  let mallory: string;
  beforeAll(async () => {
    server = await startTestServer({ AUTH_MODE: 'api_key' });
    [alice, mallory] = await Promise.all([createKeyWithCli(server.dataDir, 'alice', 'jobs'), createKeyWithCli(server.dataDir, 'mallory', 'jobs')]);
  });
  afterAll(async () => server?.stop());

  it('another key reusing a key\'s Idempotency-Key gets a new job of its own, never the first job\'s id or status', async () => {
    const mine = await accepted(await submit(server, alice, SHORT.path, { 'idempotency-key': 'order-42' }));
    expect(mine.httpStatus).toBe(202);
    const res = await submit(server, mallory, SHORT.path, { 'idempotency-key': 'order-42' });
    const text = await res.text();
    expect(res.status, text).toBe(202);
    expect(text).not.toContain(mine.job_id);
    const theirs = JSON.parse(text) as Accepted;
    // Mallory's job is Mallory's: Alice's stays hidden from it.
    expect((await fetch(`${server.url}/api/v1/jobs/${theirs.job_id}`, { headers: bearer(mallory) })).status).toBe(200);
    expect((await fetch(`${server.url}/api/v1/jobs/${mine.job_id}`, { headers: bearer(mallory) })).status).toBe(404);
    // Each key's retry still gets its own job back (200, not a new one).
    const again = await accepted(await submit(server, alice, SHORT.path, { 'idempotency-key': 'order-42' }));
    expect(again).toMatchObject({ httpStatus: 200, job_id: mine.job_id });
    const theirsAgain = await accepted(await submit(server, mallory, SHORT.path, { 'idempotency-key': 'order-42' }));
    expect(theirsAgain).toMatchObject({ httpStatus: 200, job_id: theirs.job_id });
  });

  it('a key that uses another key\'s future Idempotency-Key first does not take that key\'s upload', async () => {
    const squatted = await accepted(await submit(server, mallory, SHORT.path, { 'idempotency-key': 'alice-next' }));
    const real = await accepted(await submit(server, alice, SHORT.path, { 'idempotency-key': 'alice-next' }));
    // Alice's upload made a job (202), hers, not an answer pointing at Mallory's.
    expect(real.httpStatus).toBe(202);
    expect(real.job_id).not.toBe(squatted.job_id);
    expect((await fetch(`${server.url}/api/v1/jobs/${real.job_id}`, { headers: bearer(alice) })).status).toBe(200);
  });
});

describe('one key cannot fill the job queue (finding 7)', () => {
  it('KEY_MAX_ACTIVE_JOBS is on by default with keys (100) and off without', () => {
    expect(loadConfig({ env: { AUTH_MODE: 'api_key' } }).KEY_MAX_ACTIVE_JOBS).toBe(100);
    expect(loadConfig({ env: { AUTH_MODE: 'none' } }).KEY_MAX_ACTIVE_JOBS).toBe(0);
  });

  let server: TestServer;
  let long: string;
  let keys: string[] = [];
  afterAll(async () => {
    if (server === undefined) return;
    for (const key of keys) await cancelAll(server, key);
    await server.stop();
  });

  it('with default per-key settings, a key holds at most half the waiting places and another key still submits', async () => {
    // A queue of 6 waiting places; KEY_MAX_ACTIVE_JOBS left at its default (100, more than the queue).
    server = await startTestServer({ AUTH_MODE: 'api_key', MAX_QUEUE_SIZE: '6' });
    long = join(server.dataDir, 'long.wav');
    joinWavs(Array.from({ length: 3 }, () => LONG_CLIP.path), long); // 31 s: the first job runs while the rest wait
    keys = await Promise.all([createKeyWithCli(server.dataDir, 'hog', 'jobs'), createKeyWithCli(server.dataDir, 'other', 'jobs')]);
    const [hog, other] = keys as [string, string];
    let refusal: Response | undefined;
    let taken = 0;
    for (let i = 0; i < 10 && refusal === undefined; i++) {
      const res = await submit(server, hog, long);
      if (res.status === 202) taken++;
      else refusal = res;
    }
    expect(refusal, 'the hog was never refused').toBeDefined();
    expect(taken).toBe(3);
    await expectError(refusal!, 429, 'RATE_LIMITED', server, /this API key already has 3 queued or running jobs.*MAX_QUEUE_SIZE=6/);
    // The other key still gets in: the queue was not the hog's to fill.
    expect((await submit(server, other, SHORT.path)).status).toBe(202);
  }, 30_000);
});

/** Receivers listen on 127.0.0.2, the one address OUTBOUND_ALLOW lets callbacks reach; `localhost` (127.0.0.1) stays refused. */
const RECEIVER_HOST = '127.0.0.2';

/** A webhook receiver answering every delivery with `status`. */
async function receiver(status: number): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(status).end());
  });
  await new Promise<void>((resolve) => server.listen(0, RECEIVER_HOST, resolve));
  const { port } = server.address() as { port: number };
  return { url: `http://${RECEIVER_HOST}:${port}/hook`, server };
}

describe('callback URLs tell nothing about the server\'s network (finding 8)', () => {
  let server: TestServer;
  beforeAll(async () => {
    // One loopback address is allowed so that a receiver can be reached at all; every other private address is refused.
    server = await startTestServer({ OUTBOUND_ALLOW: `${RECEIVER_HOST}/32`, WEBHOOK_MAX_ATTEMPTS: '1', WEBHOOK_TIMEOUT_SECONDS: '2' });
  });
  afterAll(async () => server?.stop());

  it('answers one refusal whether the host is private, resolves to a private address, or does not resolve', async () => {
    const messages = new Set<string>();
    for (const url of ['http://10.0.0.7/hook', 'http://[fd00::1]/hook', 'http://localhost:9/hook', 'http://no-such-host.invalid/hook', 'http://metadata.google.internal./x']) {
      const res = await postAudio(`${server.url}/api/v1/jobs`, SHORT.path, { callback_url: url });
      const message = await expectError(res, 400, 'INVALID_CALLBACK_URL', server, /OUTBOUND_ALLOW/);
      expect(message, url).not.toMatch(/10\.0\.0\.7|fd00|127\.0\.0\.\d|::1|loopback|private|ENOTFOUND|EAI_AGAIN|resolved|resolve\b/);
      messages.add(message);
    }
    expect([...messages]).toHaveLength(1);
    // A scheme that is not http(s) may say so: that reveals nothing about the network.
    await expectError(await postAudio(`${server.url}/api/v1/jobs`, SHORT.path, { callback_url: 'gopher://example.com/' }), 400, 'INVALID_CALLBACK_URL', server, /http/);
  });

  async function webhookError(callbackUrl: string): Promise<string | null> {
    const res = await postAudio(`${server.url}/api/v1/jobs`, SHORT.path, { callback_url: callbackUrl });
    const { job_id } = (await accepted(res)) as Accepted;
    const deadline = Date.now() + 30_000;
    for (;;) {
      const job = (await (await fetch(`${server.url}/api/v1/jobs/${job_id}`)).json()) as { webhook: { status: string; last_error: string | null } };
      if (job.webhook.status === 'failed') return job.webhook.last_error;
      if (Date.now() > deadline) throw new Error(`webhook of ${job_id} never failed: ${JSON.stringify(job)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  it('a failed delivery\'s last_error says that it failed, not how the connection went', async () => {
    // A port where nothing listens: the raw outcome would be "connect ECONNREFUSED 127.0.0.2:<port>".
    const gone = await receiver(200);
    await new Promise<void>((resolve) => gone.server.close(() => resolve()));
    const refused = await webhookError(gone.url);
    expect(refused).toBe('delivery failed: no 2xx answer');
    // A port that accepts and never answers: the raw outcome would be a timeout.
    const silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, RECEIVER_HOST, resolve));
    try {
      const timedOut = await webhookError(`http://${RECEIVER_HOST}:${(silent.address() as { port: number }).port}/hook`);
      expect(timedOut).toBe('delivery failed: no 2xx answer');
    } finally {
      silent.closeAllConnections();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  }, 40_000);

  it('a receiver that answered is quoted by its HTTP status, which it chose', async () => {
    const failing = await receiver(503);
    try {
      expect(await webhookError(failing.url)).toBe('delivery failed: HTTP 503');
    } finally {
      await new Promise<void>((resolve) => failing.server.close(() => resolve()));
    }
  }, 40_000);
});

describe('live log followers per key (finding 12)', () => {
  const MAX_FOLLOWERS = 8;
  let server: TestServer;
  let alice: string;
  let bob: string;
  let jobOfAlice: string;
  let jobOfBob: string;
  beforeAll(async () => {
    server = await startTestServer({ AUTH_MODE: 'api_key' });
    [alice, bob] = await Promise.all([createKeyWithCli(server.dataDir, 'alice', 'jobs'), createKeyWithCli(server.dataDir, 'bob', 'jobs')]);
    const long = join(server.dataDir, 'long.wav');
    joinWavs(Array.from({ length: 12 }, () => LONG_CLIP.path), long); // 125 s: the jobs outlive the test
    jobOfAlice = (await accepted(await submit(server, alice, long))).job_id;
    jobOfBob = (await accepted(await submit(server, bob, long))).job_id;
  }, 30_000);
  afterAll(async () => {
    if (server === undefined) return;
    for (const key of [alice, bob]) if (key !== undefined) await cancelAll(server, key);
    await server.stop();
  });

  /** Opens the SSE log stream on a raw socket; resolves with the status line once the head is in. */
  function follow(id: string, key: string): Promise<{ status: number; head: string; close(): void }> {
    const { port } = new URL(server.url);
    return new Promise((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1');
      let got = '';
      socket.on('error', reject);
      socket.on('data', (d: Buffer) => {
        got += d.toString('latin1');
        const end = got.indexOf('\r\n\r\n');
        if (end < 0) return;
        socket.removeAllListeners('data');
        socket.on('data', () => undefined);
        resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(got)?.[1]), head: got, close: () => socket.destroy() });
      });
      socket.write(`GET /api/v1/jobs/${id}/logs/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${key}\r\nAccept: text/event-stream\r\n\r\n`);
    });
  }

  it(`refuses a key's follower past ${MAX_FOLLOWERS} (429 RATE_LIMITED), not another key's, and gives the place back when one leaves`, async () => {
    const open = [];
    for (let i = 0; i < MAX_FOLLOWERS; i++) {
      const f = await withTimeout(follow(jobOfAlice, alice), 5000, `follower ${i + 1}`);
      expect(f.status, f.head).toBe(200);
      open.push(f);
    }
    try {
      const over = await withTimeout(follow(jobOfAlice, alice), 5000, 'the follower past the cap');
      expect(over.status, over.head).toBe(429);
      expect(over.head).toMatch(/RATE_LIMITED/);
      over.close();
      // Bob's followers are counted apart.
      const bobs = await withTimeout(follow(jobOfBob, bob), 5000, 'another key\'s follower');
      expect(bobs.status).toBe(200);
      bobs.close();
      // One of Alice's leaves: its place comes back (the server notices the close).
      open.pop()!.close();
      const deadline = Date.now() + 5000;
      let again = await follow(jobOfAlice, alice);
      while (again.status !== 200 && Date.now() < deadline) {
        again.close();
        await new Promise((r) => setTimeout(r, 100));
        again = await follow(jobOfAlice, alice);
      }
      expect(again.status, again.head).toBe(200);
      open.push(again);
    } finally {
      for (const f of open) f.close();
    }
  }, 30_000);
});
