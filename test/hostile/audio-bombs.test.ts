import { spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ErrorCode } from '../../src/errors.js';
import { transcriptionResponseSchema } from '../../src/transcription/index.js';
import { expectError, expectHealthy, expectTranscribes, SHORT } from '../support/hostile-http.js';
import { waitFinished } from '../support/jobs.js';
import { postForm, startTestServer, type TestServer } from '../support/server.js';

/*
 * Audio that is built to hurt: small files that decode to hours, WAV headers
 * with impossible numbers, and text formats ffmpeg would follow to other files
 * or addresses (playlists, concat scripts, session descriptions). Each is a
 * clean 4xx (or, where ffmpeg reads past a harmless lie, an honest 200), and
 * the server keeps transcribing.
 */

const MAX_AUDIO_SECONDS = 600;

let work: string;
let server: TestServer;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'hark-bombs-'));
  server = await startTestServer({ MAX_AUDIO_SECONDS: String(MAX_AUDIO_SECONDS) });
});
afterAll(async () => {
  await server?.stop();
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});
afterEach(async () => {
  if (server !== undefined) await expectHealthy(server);
});

function ffmpeg(args: string[]): void {
  const made = spawnSync('ffmpeg', ['-v', 'error', '-y', ...args]);
  expect(made.status, made.stderr.toString()).toBe(0);
}

async function file(name: string, content: Buffer | string): Promise<string> {
  const path = join(work, name);
  await writeFile(path, content);
  return path;
}

const post = (route: string, path: string, fields: Record<string, string> = {}) => postForm(`${server.url}${route}`, { file: { path, type: 'application/octet-stream' }, ...fields });

describe('compressed bombs: a few hundred KB that decode to hours', () => {
  // Digital silence compresses to almost nothing; the container states its length.
  const BOMBS = [
    { kind: 'FLAC', name: 'bomb.flac', seconds: 7200, codec: ['-c:a', 'flac'] },
    { kind: 'Ogg Vorbis', name: 'bomb.ogg', seconds: 7200, codec: ['-c:a', 'libvorbis', '-q:a', '-1'] },
    { kind: 'MP3', name: 'bomb.mp3', seconds: 3600, codec: ['-c:a', 'libmp3lame', '-b:a', '8k'] },
    { kind: 'AAC in MP4', name: 'bomb.m4a', seconds: 7200, codec: ['-c:a', 'aac', '-b:a', '8k'] },
  ];
  beforeAll(() => {
    for (const b of BOMBS) ffmpeg(['-f', 'lavfi', '-i', 'anullsrc=r=8000:cl=mono', '-t', String(b.seconds), ...b.codec, join(work, b.name)]);
  }, 60_000);

  it.each(BOMBS)('answers 400 AUDIO_TOO_LONG to a $kind bomb on every upload route, naming the length the container states', async (b) => {
    const path = join(work, b.name);
    expect((await readFile(path)).length).toBeLessThan(4_000_000);
    for (const [route, fields] of [['/transcriptions', {}], ['/v1/audio/transcriptions', {}], ['/v1/audio/transcriptions', { stream: 'true' }]] as const) {
      const res = await post(route, path, fields);
      // "lasts N s" is the probe's figure: the refusal came before decoding, not after hours of it.
      const message = await expectError(res, 400, 'AUDIO_TOO_LONG', server, new RegExp(`lasts ${b.seconds}\\.\\d s.*${MAX_AUDIO_SECONDS} s.*MAX_AUDIO_SECONDS`));
      expect(message).not.toContain(b.name);
    }
  });

  it.each(BOMBS)('refuses a $kind bomb at job submission (400 AUDIO_TOO_LONG, from its header or ffprobe), storing no job', async (b) => {
    const res = await post('/api/v1/jobs', join(work, b.name));
    await expectError(res, 400, 'AUDIO_TOO_LONG', server, new RegExp(`lasts ${b.seconds}\\.\\d s`));
    const list = (await (await fetch(`${server.url}/api/v1/jobs`)).json()) as { jobs: unknown[] };
    expect(list.jobs).toEqual([]);
  });
});

describe('WAV headers with impossible numbers', () => {
  type Outcome = { status: 400; code: ErrorCode; message?: RegExp } | { status: 200 };
  const INVALID = (message?: RegExp): Outcome => ({ status: 400, code: 'INVALID_AUDIO', message });
  /** Offsets in the canonical 44-byte header: format tag 20, channels 22, rate 24, byte rate 28, block align 32, bits 34. */
  const CASES: { kind: string; patch: (h: Buffer) => void; outcome: Outcome }[] = [
    { kind: 'no channels', patch: (h) => h.writeUInt16LE(0, 22), outcome: INVALID(/channel/) },
    { kind: '65535 channels', patch: (h) => h.writeUInt16LE(65535, 22), outcome: INVALID(/channels/) },
    { kind: 'a sample rate of 0', patch: (h) => h.writeUInt32LE(0, 24), outcome: INVALID(/sample rate/) },
    { kind: 'a sample rate of 2^32-1', patch: (h) => h.writeUInt32LE(0xffffffff, 24), outcome: INVALID(/sample rate/) },
    // 1 Hz makes 1.1 s of samples last ten hours: the stated length is over the limit.
    { kind: 'a sample rate of 1 Hz', patch: (h) => (h.writeUInt32LE(1, 24), h.writeUInt32LE(2, 28)), outcome: { status: 400, code: 'AUDIO_TOO_LONG', message: /lasts \d{5}\.\d s/ } },
    { kind: '0 bits per sample', patch: (h) => h.writeUInt16LE(0, 34), outcome: INVALID(/codec/) },
    { kind: '65535 bits per sample', patch: (h) => h.writeUInt16LE(65535, 34), outcome: INVALID(/codec/) },
    { kind: 'an unknown format tag', patch: (h) => h.writeUInt16LE(0x1234, 20), outcome: INVALID(/codec/) },
    { kind: 'a fmt chunk claiming 4 GB', patch: (h) => h.writeUInt32LE(0xfffffff0, 16), outcome: INVALID() },
    // ffmpeg derives these from channels and bits, so the lie is harmless: the real audio is transcribed.
    { kind: 'a block align of 0', patch: (h) => h.writeUInt16LE(0, 32), outcome: { status: 200 } },
    { kind: 'a block align of 65535', patch: (h) => h.writeUInt16LE(65535, 32), outcome: { status: 200 } },
    { kind: 'a byte rate of 1', patch: (h) => h.writeUInt32LE(1, 28), outcome: { status: 200 } },
  ];

  async function patched(kind: string, patch: (h: Buffer) => void): Promise<string> {
    const wav = Buffer.from(await readFile(SHORT.path));
    expect(wav.toString('latin1', 12, 16) + wav.toString('latin1', 36, 40)).toBe('fmt data');
    patch(wav);
    return file(`${kind.replace(/\W+/g, '-')}.wav`, wav);
  }

  it.each(CASES)('WAV with $kind: the same answer on the sync route and at job submission', async ({ kind, patch, outcome }) => {
    const path = await patched(kind, patch);
    const sync = await post('/transcriptions', path);
    const job = await post('/api/v1/jobs', path);
    if (outcome.status === 200) {
      const text = await sync.text();
      expect(sync.status, text).toBe(200);
      const body = transcriptionResponseSchema.parse(JSON.parse(text));
      expect(body.duration_seconds).toBeCloseTo(SHORT.durationSeconds, 1);
      expect(job.status).toBe(202);
      const { job_id } = (await job.json()) as { job_id: string };
      expect((await waitFinished(server.url, job_id)).status).toBe('completed');
      return;
    }
    await expectError(sync, outcome.status, outcome.code, server, outcome.message);
    // A header that contradicts itself is not taken at its word at submission either: the same refusal, no job.
    await expectError(job, outcome.status, outcome.code, server, outcome.message);
  });
});

describe('files that point elsewhere: ffmpeg must open only the upload', () => {
  let listener: Server;
  let hits = 0;
  let port = 0;
  beforeAll(async () => {
    // A local HTTP server a playlist names: it must never be asked for anything.
    listener = createServer((_req, res) => {
      hits++;
      res.end('x');
    });
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    port = (listener.address() as { port: number }).port;
  });
  afterAll(async () => {
    await new Promise((resolve) => listener?.close(resolve));
  });

  const REFERENCES: { kind: string; demuxer: string; text: () => string }[] = [
    // Relative names resolve in the upload's own folder (DATA_DIR/tmp), where the test plants a real clip.
    { kind: 'an ffconcat script naming a file beside the upload', demuxer: 'concat', text: () => 'ffconcat version 1.0\nfile planted.wav\n' },
    { kind: 'an ffconcat script naming an absolute path', demuxer: 'concat', text: () => `ffconcat version 1.0\nfile ${SHORT.path}\n` },
    {
      kind: 'an HLS playlist naming a URL',
      demuxer: 'hls',
      text: () => `#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nhttp://127.0.0.1:${port}/seg.ts\n#EXT-X-ENDLIST\n`,
    },
    // No ENDLIST: a live playlist ffmpeg would reload for ever.
    { kind: 'a live HLS playlist naming itself', demuxer: 'hls', text: () => '#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\nplaylist.m3u8\n' },
    {
      kind: 'a DASH manifest naming a URL',
      demuxer: 'dash',
      text: () =>
        `<?xml version="1.0"?>\n<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT10S" minBufferTime="PT1S" profiles="urn:mpeg:dash:profile:isoff-on-demand:2011">` +
        `<Period><AdaptationSet mimeType="audio/mp4"><Representation id="a" bandwidth="8000" codecs="mp4a.40.2"><BaseURL>http://127.0.0.1:${port}/a.m4a</BaseURL></Representation></AdaptationSet></Period></MPD>\n`,
    },
    {
      kind: 'an SDP session that would open network ports',
      demuxer: 'sdp',
      text: () => `v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=x\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio ${port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n`,
    },
  ];

  it.each(REFERENCES)('answers 400 INVALID_AUDIO to $kind, following nothing', async ({ kind, demuxer, text }) => {
    // Beside the uploads, where a relative reference in the script would find it.
    const planted = join(server.tempDir, 'planted.wav');
    await writeFile(planted, await readFile(SHORT.path));
    try {
      const path = await file(`${kind.replace(/\W+/g, '-')}.txt`, text());
      for (const route of ['/transcriptions', '/v1/audio/transcriptions', '/api/v1/jobs']) {
        const res = await post(route, path);
        const message = await expectError(res, 400, 'INVALID_AUDIO', server);
        expect(message, route).toMatch(new RegExp(`${demuxer} is a playlist, script or stream format`));
      }
    } finally {
      await rm(planted, { force: true });
    }
    expect(hits).toBe(0);
  });
});

it('still transcribes real speech on every upload route after all of the above', async () => {
  await expectTranscribes(server);
  await expectTranscribes(server, '/v1/audio/transcriptions');
  const list = (await (await fetch(`${server.url}/api/v1/jobs?status=running`)).json()) as { jobs: unknown[] };
  expect(list.jobs).toEqual([]);
});
