import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { joinWavs } from './support/audio.js';
import { devClips } from './support/corpus.js';
import { postForm, startTestServer, type TestServer } from './support/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => server?.stop());

it('keeps answering /healthz while a long file decodes (decoding runs off the event loop)', async () => {
  const long = join(server.dataDir, 'long.wav');
  joinWavs(devClips.slice(0, 12).map((c) => c.path), long); // ~70 s of speech, several seconds to decode
  let done = false;
  const transcription = postForm(`${server.url}/transcriptions`, { file: { path: long } }).finally(() => (done = true));
  const latencies: number[] = [];
  await new Promise((r) => setTimeout(r, 300)); // let the upload land and the decode start
  while (!done) {
    const t0 = performance.now();
    const res = await fetch(`${server.url}/healthz`);
    expect(res.status).toBe(200);
    latencies.push(performance.now() - t0);
    await new Promise((r) => setTimeout(r, 50));
  }
  const res = await transcription;
  expect(res.status).toBe(200);
  const body = (await res.json()) as { segments: unknown[]; duration_seconds: number };
  expect(body.duration_seconds).toBeGreaterThan(60);
  // A blocked event loop would hold /healthz for the whole decode (seconds) and answer a handful of times.
  expect(latencies.length).toBeGreaterThan(20);
  expect(Math.max(...latencies)).toBeLessThan(1000);
});
