import { createHmac, timingSafeEqual } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from './support/child-server.js';
import { clip } from './support/corpus.js';
import { getJob, submitJob, waitFinished, waitForJob } from './support/jobs.js';
import { startTestServer, type TestServer } from './support/server.js';

const SECRET = 'whsec-test-0123456789';
const MAX_ATTEMPTS = 3;
const audio = clip('1089-134686-0001').path; // 3.3 s
/** The receivers listen on loopback, which hark refuses to call unless OUTBOUND_ALLOW lets it. */
const LOOPBACK = '127.0.0.1/32';

interface Delivery {
  headers: IncomingHttpHeaders;
  body: string;
  /** When it arrived (ms). */
  at: number;
}

interface Receiver {
  url: string;
  deliveries: Delivery[];
  close(): Promise<void>;
}

/** A webhook receiver on 127.0.0.1: answers the n-th delivery (1-based) as `answer(n)` says. */
async function startReceiver(answer: (n: number) => { status: number; headers?: Record<string, string> } = () => ({ status: 200 })): Promise<Receiver> {
  const deliveries: Delivery[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      deliveries.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() });
      const { status, headers } = answer(deliveries.length);
      res.writeHead(status, { 'content-type': 'text/plain', ...headers }).end(status < 300 ? 'ok' : 'no');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (typeof address !== 'object' || address === null) throw new Error('receiver has no port');
  return {
    url: `http://127.0.0.1:${address.port}/hooks/hark?source=test`,
    deliveries,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** What a receiver does: checks `t=<unix>,v1=<hex>` against HMAC-SHA256(secret, "<t>.<body>") and the timestamp header. */
function verifySignature(d: Delivery, secret: string, toleranceSeconds = 300): { ok: boolean; t: number } {
  const header = String(d.headers['x-hark-signature'] ?? '');
  const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header);
  if (m === null) return { ok: false, t: NaN };
  const t = Number(m[1]);
  const expected = createHmac('sha256', secret).update(`${t}.${d.body}`).digest();
  const fresh = Math.abs(Date.now() / 1000 - t) <= toleranceSeconds;
  const sameTimestamp = d.headers['x-hark-timestamp'] === String(t);
  return { ok: fresh && sameTimestamp && timingSafeEqual(expected, Buffer.from(m[2]!, 'hex')), t };
}

interface Payload {
  event: string;
  job_id: string;
  status: string;
  text: string | null;
  error: { code: string; message: string } | null;
  finished_at: string | null;
  links: { self: string; result: string };
}

let server: TestServer;
let receiver: Receiver | undefined;
beforeAll(async () => {
  server = await startTestServer({ OUTBOUND_ALLOW: LOOPBACK, WEBHOOK_SECRET: SECRET, WEBHOOK_MAX_ATTEMPTS: String(MAX_ATTEMPTS), UTTERANCE_MAX_SECONDS: '5' });
});
afterAll(async () => server?.stop());
afterEach(async () => {
  await receiver?.close();
  receiver = undefined;
});

describe('job webhooks', () => {
  it('POSTs a signed JSON body to callback_url when the job completes, once', async () => {
    receiver = await startReceiver();
    const { job_id } = await submitJob(server.url, audio, { callback_url: receiver.url });
    expect((await getJob(server.url, job_id)).webhook).toEqual({ status: 'pending', attempts: 0, last_error: null });
    await waitFor(() => receiver!.deliveries.length === 1, 30_000, 20);
    const [d] = receiver.deliveries;
    expect(d!.headers['content-type']).toMatch(/^application\/json/);
    expect(d!.headers['x-hark-delivery-attempt']).toBe('1');
    expect(verifySignature(d!, SECRET).ok).toBe(true);
    expect(verifySignature(d!, 'another-secret').ok).toBe(false);
    // A body changed on the way no longer matches its signature.
    expect(verifySignature({ ...d!, body: d!.body.replace('completed', 'failed') }, SECRET).ok).toBe(false);

    const payload = JSON.parse(d!.body) as Payload;
    const result = (await (await fetch(`${server.url}/api/v1/jobs/${job_id}/result`)).json()) as { text: string };
    expect(payload).toMatchObject({ event: 'job.completed', job_id, status: 'completed', text: result.text, error: null });
    expect(payload.text!.length).toBeGreaterThan(5);
    expect(payload.links.self).toBe(`${server.url}/api/v1/jobs/${job_id}`);
    expect((await fetch(payload.links.result)).status).toBe(200);

    const job = await waitForJob(server.url, job_id, (j) => j.webhook?.status === 'delivered');
    expect(job.webhook).toEqual({ status: 'delivered', attempts: 1, last_error: null });
    expect(payload.finished_at).toBe(job.finished_at);
    await new Promise((r) => setTimeout(r, 500));
    expect(receiver.deliveries).toHaveLength(1);
  });

  it('retries a receiver that answers 500 twice, with backoff (1 s, then 2 s), and records 3 attempts', async () => {
    receiver = await startReceiver((n) => ({ status: n <= 2 ? 500 : 200 }));
    const { job_id } = await submitJob(server.url, audio, { callback_url: receiver.url });
    const job = await waitForJob(server.url, job_id, (j) => j.webhook?.status === 'delivered', 30_000);
    expect(job.status).toBe('completed');
    expect(job.webhook).toEqual({ status: 'delivered', attempts: 3, last_error: null });
    const ds = receiver.deliveries;
    expect(ds.map((d) => d.headers['x-hark-delivery-attempt'])).toEqual(['1', '2', '3']);
    for (const d of ds) expect(verifySignature(d, SECRET).ok).toBe(true);
    // The same event each time, each attempt signed afresh.
    expect(new Set(ds.map((d) => d.body)).size).toBe(1);
    expect(ds[1]!.at - ds[0]!.at).toBeGreaterThanOrEqual(900);
    expect(ds[2]!.at - ds[1]!.at).toBeGreaterThanOrEqual(1900);
  });

  it('waits as long as a Retry-After asks (seconds or an HTTP-date) before the next attempt', async () => {
    receiver = await startReceiver((n) => {
      if (n === 1) return { status: 429, headers: { 'retry-after': '2' } };
      // Second granularity: between 3 and 4 s from now, longer than the 2 s backoff.
      if (n === 2) return { status: 503, headers: { 'retry-after': new Date(Date.now() + 4000).toUTCString() } };
      return { status: 204 };
    });
    const { job_id } = await submitJob(server.url, audio, { callback_url: receiver.url });
    const job = await waitForJob(server.url, job_id, (j) => j.webhook?.status === 'delivered', 30_000);
    expect(job.webhook?.attempts).toBe(3);
    const ds = receiver.deliveries;
    expect(ds[1]!.at - ds[0]!.at).toBeGreaterThanOrEqual(1900); // not the 1 s backoff
    expect(ds[2]!.at - ds[1]!.at).toBeGreaterThanOrEqual(2900); // not the 2 s backoff
  });

  it('gives up after WEBHOOK_MAX_ATTEMPTS on a receiver that always fails; the job itself stays completed', async () => {
    receiver = await startReceiver(() => ({ status: 500 }));
    const { job_id } = await submitJob(server.url, audio, { callback_url: receiver.url });
    const job = await waitForJob(server.url, job_id, (j) => j.webhook?.status === 'failed', 30_000);
    expect(job.status).toBe('completed');
    expect(job.error).toBeNull();
    expect(job.webhook).toMatchObject({ status: 'failed', attempts: MAX_ATTEMPTS });
    expect(job.webhook?.last_error).toMatch(/500/);
    expect(receiver.deliveries).toHaveLength(MAX_ATTEMPTS);
    expect((await fetch(`${server.url}/api/v1/jobs/${job_id}/result`)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 1500));
    expect(receiver.deliveries).toHaveLength(MAX_ATTEMPTS); // no attempt after the last
  });

  it('counts an unreachable receiver as a failed attempt', async () => {
    receiver = await startReceiver();
    const url = receiver.url;
    await receiver.close(); // nothing listens there any more
    receiver = undefined;
    const { job_id } = await submitJob(server.url, audio, { callback_url: url });
    const job = await waitForJob(server.url, job_id, (j) => j.webhook?.status === 'failed', 30_000);
    expect(job).toMatchObject({ status: 'completed', webhook: { status: 'failed', attempts: MAX_ATTEMPTS } });
    expect(job.webhook?.last_error).toBeTruthy();
  });

  it('tells the receiver when a job is cancelled', async () => {
    receiver = await startReceiver();
    const { job_id } = await submitJob(server.url, audio, { callback_url: receiver.url });
    const res = await fetch(`${server.url}/api/v1/jobs/${job_id}/cancel`, { method: 'POST' });
    expect(res.status).toBe(200);
    await waitFor(() => receiver!.deliveries.length === 1, 30_000, 20);
    const payload = JSON.parse(receiver.deliveries[0]!.body) as Payload;
    expect(payload).toMatchObject({ event: 'job.cancelled', job_id, status: 'cancelled', text: null, error: { code: 'CANCELLED' } });
    expect(verifySignature(receiver.deliveries[0]!, SECRET).ok).toBe(true);
    const job = await waitFinished(server.url, job_id);
    expect(job.status).toBe('cancelled');
    await waitForJob(server.url, job_id, (j) => j.webhook?.status === 'delivered');
  });
});

describe('webhooks across a restart', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'hark-webhook-restart-'));
  let other: TestServer | undefined;
  afterAll(async () => {
    await other?.stop();
    await receiver?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('does not hold up shutdown while waiting to retry, and resumes the delivery after the restart', async () => {
    const env = { OUTBOUND_ALLOW: LOOPBACK, DATA_DIR: dataDir, WEBHOOK_SECRET: SECRET, WEBHOOK_MAX_ATTEMPTS: String(MAX_ATTEMPTS) };
    receiver = await startReceiver((n) => (n === 1 ? { status: 503, headers: { 'retry-after': '120' } } : { status: 200 }));
    other = await startTestServer(env);
    const { job_id } = await submitJob(other.url, audio, { callback_url: receiver.url });
    await waitForJob(other.url, job_id, (j) => j.webhook?.attempts === 1, 30_000);
    const started = Date.now();
    await other.stop();
    // A receiver's Retry-After (here 2 minutes) must not keep a stopping server alive.
    expect(Date.now() - started).toBeLessThan(5000);
    expect(receiver.deliveries).toHaveLength(1);

    other = await startTestServer(env);
    const job = await waitForJob(other.url, job_id, (j) => j.webhook?.status === 'delivered', 30_000);
    expect(job.webhook).toEqual({ status: 'delivered', attempts: 2, last_error: null });
    expect(receiver.deliveries.map((d) => d.headers['x-hark-delivery-attempt'])).toEqual(['1', '2']);
    // The same event (its links name the server's new address: tests run on port 0).
    const [before, after] = receiver.deliveries.map((d) => ({ ...(JSON.parse(d.body) as Payload), links: undefined }));
    expect(after).toEqual(before);
    expect(verifySignature(receiver.deliveries[1]!, SECRET).ok).toBe(true);
  });
});
