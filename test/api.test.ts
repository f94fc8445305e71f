import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tally, wer } from './support/eval/index.js';
import { transcriptionResponseSchema } from '../src/transcription/index.js';
import { clip, devClips } from './support/corpus.js';
import { postForm, startTestServer, type TestServer } from './support/server.js';
import { parseTimes } from './support/captions.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ IN_PROCESS_CONCURRENCY: '2' });
});
afterAll(async () => server?.stop());

describe('POST /transcriptions on real speech', () => {
  it('transcribes dev clips within the WER bound, with word and segment times inside the audio', async () => {
    const clips = devClips.slice(0, 6);
    const results = await Promise.all(
      clips.map(async (c) => {
        const res = await postForm(`${server.url}/transcriptions`, { file: { path: c.path } });
        expect(res.status).toBe(200);
        return transcriptionResponseSchema.parse(await res.json());
      }),
    );
    const tallies = results.map((r, i) => tally(clips[i]!.transcript, r.text));
    // PocketSphinx with Debian's en-us model scores ~0.18 over the whole dev set.
    expect(wer(tallies)).toBeLessThan(0.3);
    for (const [i, r] of results.entries()) {
      expect(r.isolation).toBe('in-process');
      expect(r.engine).toBe('pocketsphinx');
      expect(r.language).toBe('en');
      expect(r.duration_seconds).toBeCloseTo(clips[i]!.durationSeconds, 1);
      expect(r.words.length).toBeGreaterThan(0);
      expect(r.confidence).toBeGreaterThan(0);
      expect(r.confidence).toBeLessThanOrEqual(1);
      for (const w of r.words) {
        expect(w.start).toBeLessThan(w.end);
        expect(w.end).toBeLessThanOrEqual(r.duration_seconds + 0.02);
      }
      const starts = r.words.map((w) => w.start);
      expect(starts).toEqual([...starts].sort((a, b) => a - b));
      expect(r.segments.map((s) => s.text).join(' ')).toBe(r.text);
    }
  });

  it('gives the same transcript for the same audio every time', async () => {
    const c = clip('1089-134686-0001');
    const texts = [];
    for (let i = 0; i < 3; i++) {
      const res = await postForm(`${server.url}/transcriptions`, { file: { path: c.path } });
      texts.push(((await res.json()) as { text: string; words: unknown }).words);
    }
    expect(texts[1]).toEqual(texts[0]);
    expect(texts[2]).toEqual(texts[0]);
  });

  it('accepts the seeds\' audio_file field and /transcriptions/sync', async () => {
    const c = clip('1089-134686-0004');
    const res = await postForm(`${server.url}/transcriptions/sync`, { audio_file: { path: c.path } });
    expect(res.status).toBe(200);
    const body = transcriptionResponseSchema.parse(await res.json());
    expect(wer([tally(c.transcript, body.text)])).toBeLessThan(0.5);
    expect(body.pid).toBe(process.pid);
  });

  it.each(['srt', 'vtt'] as const)('answers %s with increasing, well-formed timestamps', async (format) => {
    const c = clip('1089-134686-0000');
    const res = await postForm(`${server.url}/transcriptions`, { file: { path: c.path }, response_format: format });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain(format === 'srt' ? 'application/x-subrip' : 'text/vtt');
    const body = await res.text();
    if (format === 'vtt') expect(body.startsWith('WEBVTT\n\n')).toBe(true);
    if (format === 'srt') expect(body.startsWith('1\n')).toBe(true);
    const times = parseTimes(body, format === 'srt' ? ',' : '.');
    expect(times.length).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < times.length; i++) expect(times[i]!).toBeGreaterThanOrEqual(times[i - 1]!);
    expect(times[times.length - 1]!).toBeLessThanOrEqual(c.durationSeconds + 0.02);
  });

  it('answers text as plain text', async () => {
    const res = await postForm(`${server.url}/transcriptions`, { file: { path: clip('1089-134686-0001').path }, response_format: 'text' });
    expect(res.headers.get('content-type')).toContain('text/plain');
    expect((await res.text()).trim().split(' ').length).toBeGreaterThan(3);
  });

  it('decodes the usual containers (flac, mp3, ogg/opus, m4a/aac, webm) made by ffmpeg', async () => {
    const { spawnSync } = await import('node:child_process');
    const c = clip('1089-134686-0000');
    const formats: [string, string[]][] = [
      ['flac', ['-c:a', 'flac']],
      ['mp3', ['-c:a', 'libmp3lame', '-b:a', '64k']],
      ['ogg', ['-c:a', 'libopus', '-b:a', '32k']],
      ['m4a', ['-c:a', 'aac', '-b:a', '64k']],
      ['webm', ['-c:a', 'libopus', '-b:a', '32k']],
    ];
    const dir = server.dataDir;
    for (const [ext, codec] of formats) {
      const out = `${dir}/sample.${ext}`;
      const r = spawnSync('ffmpeg', ['-v', 'error', '-y', '-i', c.path, ...codec, out]);
      expect(r.status).toBe(0);
      const res = await postForm(`${server.url}/transcriptions`, { file: { path: out, type: 'application/octet-stream' } });
      expect(res.status, ext).toBe(200);
      const body = (await res.json()) as { text: string; duration_seconds: number };
      expect(wer([tally(c.transcript, body.text)]), ext).toBeLessThan(0.4);
      expect(body.duration_seconds).toBeGreaterThan(c.durationSeconds - 0.1);
    }
    expect(await server.tempFiles()).toEqual([]);
  });
});

describe('service endpoints', () => {
  it('/healthz and /readyz answer 200 once engines are loaded', async () => {
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(200);
    const body = (await ready.json()) as { status: string; engines: { name: string }[] };
    expect(body.status).toBe('ready');
    expect(body.engines.map((e) => e.name)).toContain('pocketsphinx');
  });

  it('serves the OpenAPI document listing the routes', async () => {
    const res = await fetch(`${server.url}/docs/json`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { openapi: string; paths: Record<string, Record<string, { requestBody?: unknown }>> };
    expect(doc.openapi).toMatch(/^3\./);
    for (const p of ['/transcriptions', '/transcriptions/sync', '/v1/audio/transcriptions', '/v1/models', '/healthz', '/readyz', '/api/v1/capacity']) {
      expect(Object.keys(doc.paths)).toContain(p);
    }
    expect(JSON.stringify(doc.paths['/transcriptions']?.['post']?.requestBody)).toContain('multipart/form-data');
    // The OpenAI route's 200 is JSON, or Server-Sent Events with stream=true.
    const openai200 = (doc.paths['/v1/audio/transcriptions']?.['post'] as { responses: Record<string, { content: Record<string, { schema: { description?: string } }> }> }).responses['200']!;
    expect(Object.keys(openai200.content).sort()).toEqual(['application/json', 'text/event-stream']);
    expect(openai200.content['text/event-stream']!.schema.description).toMatch(/transcript\.text\.delta.*transcript\.text\.done/);
    expect((await fetch(`${server.url}/docs`)).status).toBeLessThan(400);
  });

  it('answers unknown routes 404 and wrong methods 405, in the error shape', async () => {
    const nf = await fetch(`${server.url}/nope`);
    expect(nf.status).toBe(404);
    expect(await nf.json()).toMatchObject({ error: { code: 'NOT_FOUND' } });
    const na = await fetch(`${server.url}/transcriptions`, { method: 'GET' });
    expect(na.status).toBe(405);
    expect(na.headers.get('allow')).toBe('POST');
    expect(await na.json()).toMatchObject({ error: { code: 'METHOD_NOT_ALLOWED' } });
  });

  it('reports capacity in the seeds\' shape', async () => {
    const res = await fetch(`${server.url}/api/v1/capacity`);
    expect(await res.json()).toMatchObject({ active_jobs: 0, queued_jobs: 0, max_workers: 2, max_queue_size: 32, available_capacity: 34, at_capacity: false });
  });

  it("answers with its own request id, not the client's X-Request-Id (logged beside it as clientRequestId)", async () => {
    const res = await fetch(`${server.url}/healthz`, { headers: { 'x-request-id': 'abc-123' } });
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});
