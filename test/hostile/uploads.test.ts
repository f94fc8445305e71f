import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { transcriptionResponseSchema } from '../../src/transcription/index.js';
import { clip } from '../support/corpus.js';
import {
  BOUNDARY,
  chunk,
  expectError,
  expectHealthy,
  expectNoTempFiles,
  expectTranscribes,
  filePartHead,
  noise,
  rawConnect,
  requestHead,
  serveForHostileTests,
  SHORT,
  withTimeout,
} from '../support/hostile-http.js';
import { postForm, startTestServer, type TestServer } from '../support/server.js';

/*
 * Hostile and broken uploads. Every refusal must be a 4xx with a stable code in
 * `{ "error": { code, message } }`, and must leave the server healthy with an
 * empty DATA_DIR/tmp. Bad files are generated here in a temp dir from real clips.
 */

/** 3.3 s, used where a duration must be measured. */
const MEDIUM = clip('1089-134686-0001');
/** 10.4 s: longer than the 5 s limit of the AUDIO_TOO_LONG server. */
const LONG = clip('1089-134686-0000');

const WAV_HEADER_BYTES = 44;
const PCM_BYTES_PER_SECOND = 16_000 * 2;

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'hark-bad-input-'));
});
afterAll(async () => {
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

async function makeFile(name: string, content: Buffer | string): Promise<string> {
  const path = join(work, name);
  await writeFile(path, content);
  return path;
}

/** A canonical 44-byte PCM WAV header checked, so the byte surgery below hits the right fields. */
async function readWav(path: string): Promise<Buffer> {
  const wav = await readFile(path);
  expect(wav.toString('ascii', 0, 4)).toBe('RIFF');
  expect(wav.toString('ascii', 36, 40)).toBe('data');
  return wav;
}

function fileBlob(content: Buffer | string, type = 'audio/wav'): Blob {
  return new Blob([typeof content === 'string' ? content : new Uint8Array(content)], { type });
}

async function postFormData(url: string, form: FormData): Promise<Response> {
  return fetch(url, { method: 'POST', body: form });
}

async function formWith(entries: [string, string | { path: string; name: string }][]): Promise<FormData> {
  const form = new FormData();
  for (const [name, value] of entries) {
    if (typeof value === 'string') form.append(name, value);
    else form.append(name, fileBlob(await readFile(value.path)), value.name);
  }
  return form;
}

/** Recursive listing relative to `root`, for "nothing new appeared" checks. */
async function tree(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries.map((e) => relative(root, join(e.parentPath, e.name))).sort();
}

// -----------------------------------------------------------------------------

describe('bad uploads, default limits', () => {
  let server: TestServer;
  serveForHostileTests((s) => (server = s));

  const transcriptions = () => `${server.url}/transcriptions`;
  const openai = () => `${server.url}/v1/audio/transcriptions`;

  describe('the file part', () => {
    it('answers 400 MISSING_FILE to a form with only text fields', async () => {
      const res = await postForm(transcriptions(), { language: 'en', response_format: 'json' });
      await expectError(res, 400, 'MISSING_FILE', server, /"file"/);
    });

    it('answers 400 MISSING_FILE to an empty form', async () => {
      const res = await fetch(transcriptions(), {
        method: 'POST',
        headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` },
        body: `--${BOUNDARY}--\r\n`,
      });
      await expectError(res, 400, 'MISSING_FILE', server);
    });

    it('answers 400 MISSING_FILE, saying why, when "file" is sent as a text field', async () => {
      const res = await postForm(openai(), { file: 'hello.wav' });
      await expectError(res, 400, 'MISSING_FILE', server, /sent as a text field, not a file/);
    });

    it('answers 400 EMPTY_FILE to a zero-byte file', async () => {
      const form = new FormData();
      form.append('file', fileBlob(Buffer.alloc(0)), 'empty.wav');
      await expectError(await postFormData(transcriptions(), form), 400, 'EMPTY_FILE', server, /empty/);
    });

    it('answers 400 TOO_MANY_FILES to two files in one request', async () => {
      const form = await formWith([
        ['file', { path: SHORT.path, name: 'a.wav' }],
        ['file', { path: SHORT.path, name: 'b.wav' }],
      ]);
      await expectError(await postFormData(transcriptions(), form), 400, 'TOO_MANY_FILES', server, /one audio file/);
    });

    it('answers 400 TOO_MANY_FILES to "file" and "audio_file" together', async () => {
      const form = await formWith([
        ['audio_file', { path: SHORT.path, name: 'a.wav' }],
        ['file', { path: SHORT.path, name: 'b.wav' }],
      ]);
      await expectError(await postFormData(openai(), form), 400, 'TOO_MANY_FILES', server);
    });

    it('answers 400 INVALID_REQUEST to a file under an unexpected field name', async () => {
      const form = await formWith([['upload', { path: SHORT.path, name: 'a.wav' }]]);
      await expectError(await postFormData(transcriptions(), form), 400, 'INVALID_REQUEST', server, /"upload".*"file"/);
    });
  });

  describe('files that are not (usable) audio', () => {
    it('answers 400 INVALID_AUDIO to random bytes named .wav', async () => {
      const path = await makeFile('random.wav', noise(64 * 1024));
      const res = await postForm(transcriptions(), { file: { path } });
      await expectError(res, 400, 'INVALID_AUDIO', server, /not audio|could not be decoded/);
    });

    it('answers 400 INVALID_AUDIO to a text file', async () => {
      const path = await makeFile('notes.txt', 'Hello, this is not audio.\nJust some text.\n'.repeat(50));
      const res = await postForm(openai(), { file: { path, type: 'text/plain' } });
      await expectError(res, 400, 'INVALID_AUDIO', server, /no audio stream|not audio/);
    });

    it('answers 400 EMPTY_AUDIO to a valid WAV header with zero samples', async () => {
      const header = Buffer.from((await readWav(SHORT.path)).subarray(0, WAV_HEADER_BYTES));
      header.writeUInt32LE(36, 4);
      header.writeUInt32LE(0, 40);
      const path = await makeFile('zero-samples.wav', header);
      const res = await postForm(transcriptions(), { file: { path } });
      await expectError(res, 400, 'EMPTY_AUDIO', server, /no audio samples/);
    });

    it('transcribes what is there of a truncated WAV (header + first third): 200 with the shorter duration', async () => {
      // ffmpeg decodes the samples present; refusing a cut-off recording would help nobody.
      const wav = await readWav(MEDIUM.path);
      const keep = Math.floor((wav.length - WAV_HEADER_BYTES) / 3);
      const path = await makeFile('truncated.wav', wav.subarray(0, WAV_HEADER_BYTES + keep));
      const res = await postForm(transcriptions(), { file: { path } });
      expect(res.status).toBe(200);
      const body = transcriptionResponseSchema.parse(await res.json());
      expect(body.duration_seconds).toBeCloseTo(keep / PCM_BYTES_PER_SECOND, 1);
      expect(body.duration_seconds).toBeLessThan(MEDIUM.durationSeconds / 2);
    });

    it('transcribes a WAV whose header claims ~4 GB of data: 200 with the real duration', async () => {
      const wav = Buffer.from(await readWav(MEDIUM.path));
      wav.writeUInt32LE(0xfffffff0, 4);
      wav.writeUInt32LE(0xfffffff0 - 36, 40);
      const path = await makeFile('huge-header.wav', wav);
      const res = await withTimeout(postForm(transcriptions(), { file: { path } }), 20_000, 'the transcription');
      expect(res.status).toBe(200);
      const body = transcriptionResponseSchema.parse(await res.json());
      expect(body.duration_seconds).toBeCloseTo(MEDIUM.durationSeconds, 1);
      expect(body.text.length).toBeGreaterThan(0);
    });
  });

  describe('hostile containers', () => {
    it('transcribes the first audio stream of a file with 800 of them: 200, not a 500 from an over-long probe', async () => {
      const path = join(work, 'many-streams.mkv');
      const maps = Array.from({ length: 800 }, () => ['-map', '0:a']).flat();
      const made = spawnSync('ffmpeg', ['-v', 'error', '-y', '-t', '0.5', '-i', SHORT.path, ...maps, '-c', 'copy', path]);
      expect(made.status, made.stderr.toString()).toBe(0);
      const res = await postForm(transcriptions(), { file: { path, type: 'video/x-matroska' } });
      const text = await res.text();
      expect(res.status, text).toBe(200);
      const body = transcriptionResponseSchema.parse(JSON.parse(text));
      expect(body.duration_seconds).toBeCloseTo(0.5, 1);
    });
  });

  describe('hostile file names', () => {
    it.each([
      '../../etc/$(touch pwned);rm -rf x.wav',
      '`touch pwned`.wav',
      '-y -f lavfi -i sine pwned.wav',
      'concat:/etc/passwd|pwned.wav',
      '..',
    ])('treats %j as a label only: 200, nothing created outside DATA_DIR/tmp', async (name) => {
      const before = await tree(server.dataDir);
      const res = await postForm(transcriptions(), { file: { path: SHORT.path, name } });
      expect(res.status).toBe(200);
      const text = await res.text();
      transcriptionResponseSchema.parse(JSON.parse(text));
      expect(text).not.toContain('pwned');
      await expectNoTempFiles(server);
      expect(await tree(server.dataDir)).toEqual(before);
      for (const dir of [process.cwd(), server.dataDir, join(server.dataDir, 'tmp'), server.tempDir, dirname(server.dataDir), '/etc', '/']) {
        expect(existsSync(join(dir, 'pwned')), dir).toBe(false);
      }
    });
  });

  describe('the request as a whole', () => {
    it.each([
      ['application/json', JSON.stringify({ file: 'UklGRg==', model: 'whisper-1' })],
      ['text/plain', 'this is not a form'],
      ['audio/wav', 'RIFF....WAVE'],
    ])('answers 415 UNSUPPORTED_MEDIA_TYPE to a %s body', async (type, body) => {
      for (const url of [transcriptions(), openai()]) {
        const res = await fetch(url, { method: 'POST', headers: { 'content-type': type }, body });
        await expectError(res, 415, 'UNSUPPORTED_MEDIA_TYPE', server, /multipart\/form-data/);
      }
    });

    it('answers 415 UNSUPPORTED_MEDIA_TYPE to a body without a Content-Type', async () => {
      const res = await fetch(transcriptions(), { method: 'POST', body: new Uint8Array(await readFile(SHORT.path)) });
      await expectError(res, 415, 'UNSUPPORTED_MEDIA_TYPE', server, /multipart\/form-data/);
    });

    it('answers 4xx, never 500, to multipart with a boundary but a garbage body', async () => {
      const res = await fetch(transcriptions(), {
        method: 'POST',
        headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` },
        body: noise(4096),
      });
      await expectError(res, 400, 'INVALID_REQUEST', server, /multipart/i);
    });

    it('answers 4xx, never 500, to a file part whose closing boundary never comes', async () => {
      const audio = await readFile(SHORT.path);
      const res = await fetch(transcriptions(), {
        method: 'POST',
        headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` },
        body: Buffer.concat([Buffer.from(filePartHead()), audio]),
      });
      await expectError(res, 400, 'INVALID_REQUEST', server, /multipart/i);
    });

    it('skips a part with a malformed header (no Content-Disposition): 400 MISSING_FILE, never 500', async () => {
      const res = await fetch(transcriptions(), {
        method: 'POST',
        headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` },
        body: `--${BOUNDARY}\r\nthis is not a header\r\n\r\nvalue\r\n--${BOUNDARY}--\r\n`,
      });
      await expectError(res, 400, 'MISSING_FILE', server);
    });

    it('answers 400 INVALID_REQUEST, never 500, to a text part whose Content-Disposition names no field', async () => {
      // Found by test/hostile/fuzz.test.ts (seed 24301): the field-size check read the missing name.
      const audio = await readFile(SHORT.path);
      const res = await fetch(openai(), {
        method: 'POST',
        headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` },
        body: Buffer.concat([Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data\r\n\r\nen\r\n${filePartHead()}`), audio, Buffer.from(`\r\n--${BOUNDARY}--\r\n`)]),
      });
      await expectError(res, 400, 'INVALID_REQUEST', server, /no name/);
    });

    it('skips a 40 KB part without Content-Disposition that arrives with the closing boundary: 400 MISSING_FILE, no hang', async () => {
      // Found by test/hostile/fuzz.test.ts (seed 777): busboy's parser paused for good on such a part.
      const body = Buffer.concat([Buffer.from(`--${BOUNDARY}\r\nContent-Type: audio/wav\r\n\r\n`), noise(40_000), Buffer.from(`\r\n--${BOUNDARY}--\r\n`)]);
      const res = await withTimeout(
        fetch(transcriptions(), { method: 'POST', headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` }, body }),
        10_000,
        'the answer',
      );
      await expectError(res, 400, 'MISSING_FILE', server);
    });

    it.each([
      ['no boundary', 'multipart/form-data'],
      ['an empty boundary', 'multipart/form-data; boundary='],
      ['a boundary over 70 characters', `multipart/form-data; boundary=${'x'.repeat(300)}`],
    ])('answers 4xx, never 500, to multipart with %s', async (_what, type) => {
      const res = await fetch(transcriptions(), { method: 'POST', headers: { 'content-type': type }, body: 'whatever' });
      await expectError(res, 400, 'INVALID_REQUEST', server, /boundary|multipart/i);
    });
  });

  describe('form fields', () => {
    it.each([
      ['/transcriptions', 'xml'],
      ['/transcriptions', 'verbose_json'], // OpenAI's format; hark's own route does not speak it
      ['/v1/audio/transcriptions', 'xml'],
      ['/v1/audio/transcriptions', 'JSON'],
    ])('%s answers 400 INVALID_RESPONSE_FORMAT to response_format=%s, listing the formats it accepts', async (path, format) => {
      const res = await postForm(`${server.url}${path}`, { file: { path: SHORT.path }, response_format: format });
      const message = await expectError(res, 400, 'INVALID_RESPONSE_FORMAT', server);
      const listed = /must be one of (.+), not "(.*)"$/.exec(message);
      expect(listed?.[2], message).toBe(format);
      expect(listed?.[1]).toBe(path === '/transcriptions' ? 'json, text, srt, vtt' : 'json, text, srt, vtt, verbose_json, diarized_json');
    });

    it('answers 400 MODEL_NOT_FOUND to an unknown model, listing the valid names', async () => {
      const res = await postForm(openai(), { file: { path: SHORT.path }, model: 'gpt-9-transcribe' });
      await expectError(res, 400, 'MODEL_NOT_FOUND', server, /gpt-9-transcribe.*pocketsphinx.*whisper-1/);
    });

    it.each([
      ['/transcriptions', 'language'],
      ['/transcriptions', 'response_format'],
      ['/v1/audio/transcriptions', 'model'],
      ['/v1/audio/transcriptions', 'temperature'],
    ])('%s answers 400 INVALID_REQUEST to %s sent twice', async (path, field) => {
      const value = field === 'temperature' ? '0' : field === 'model' ? 'whisper-1' : field === 'language' ? 'en' : 'json';
      const form = await formWith([
        ['file', { path: SHORT.path, name: 'a.wav' }],
        [field, value],
        [field, value],
      ]);
      await expectError(await postFormData(`${server.url}${path}`, form), 400, 'INVALID_REQUEST', server, new RegExp(`"${field}".*(twice|more than once|once)`));
    });

    it('answers 400 INVALID_REQUEST to more form fields than are read', async () => {
      const form = await formWith([
        ['file', { path: SHORT.path, name: 'a.wav' }],
        ...Array.from({ length: 40 }, (_, i): [string, string] => [`f${i}`, 'x']),
      ]);
      await expectError(await postFormData(transcriptions(), form), 400, 'INVALID_REQUEST', server, /too many form (fields|parts)/);
    });

    it('answers 400 INVALID_REQUEST to a text field over 64 KB instead of truncating it', async () => {
      const res = await postForm(openai(), { file: { path: SHORT.path }, prompt: 'word '.repeat(20_000) });
      await expectError(res, 400, 'INVALID_REQUEST', server, /"prompt".*64 KB/);
    });

    it.each(['5', 'hot', '-1'])('answers 400 INVALID_REQUEST to temperature=%s on the OpenAI route', async (temperature) => {
      const res = await postForm(openai(), { file: { path: SHORT.path }, temperature });
      await expectError(res, 400, 'INVALID_REQUEST', server, /"temperature"/);
    });
  });

  describe('clients that go away', () => {
    it('stays healthy and leaves no temp file when the client disconnects mid-upload', async () => {
      const conn = await rawConnect(server.url);
      const head = filePartHead();
      const declared = 2_000_000; // well under MAX_FILE_SIZE_MB (500)
      await conn.write(requestHead('/transcriptions', { 'Content-Type': `multipart/form-data; boundary=${BOUNDARY}`, 'Content-Length': declared }));
      await conn.write(head);
      await conn.write(noise(declared / 2));
      // Wait until hark is writing the upload, so the abort hits a file in flight.
      const deadline = Date.now() + 3000;
      while ((await server.tempFiles()).length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect((await server.tempFiles()).length).toBe(1);
      conn.socket.destroy();
      await expectNoTempFiles(server);
      await expectHealthy(server);
    });

    it('answers a refusal made before the body is read, then reads and drops a small body and keeps the connection', async () => {
      // Closing on a client still sending can reset the connection before it reads
      // the answer (fetch then reports EPIPE, not hark's error): small bodies are drained.
      const conn = await rawConnect(server.url);
      const body = Buffer.concat([Buffer.from(filePartHead()), noise(200_000), Buffer.from(`\r\n--${BOUNDARY}--\r\n`)]);
      await conn.write(requestHead('/transcriptions?isolation=bogus', { 'Content-Type': `multipart/form-data; boundary=${BOUNDARY}`, 'Content-Length': body.length }));
      await conn.write(body.subarray(0, 10_000));
      const refused = await withTimeout(conn.response, 5000, 'the refusal');
      expect(refused.status).toBe(400);
      expect(JSON.parse(refused.body)).toMatchObject({ error: { code: 'INVALID_REQUEST' } });
      expect(refused.headers['connection']).not.toBe('close');
      await conn.write(body.subarray(10_000));
      await conn.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
      const next = await withTimeout(conn.nextResponse(), 5000, 'a second answer on the same connection');
      expect(next.status).toBe(200);
      conn.socket.destroy();
    });

    it('stays healthy when the client disconnects after a refused upload', async () => {
      const conn = await rawConnect(server.url);
      await conn.write(requestHead('/transcriptions', { 'Content-Type': `multipart/form-data; boundary=${BOUNDARY}`, 'Content-Length': 1_000_000 }));
      await conn.write(filePartHead('upload'));
      await conn.write(noise(100_000));
      const res = await withTimeout(conn.response, 5000, 'the refusal');
      expect(res.status).toBe(400);
      conn.socket.destroy();
      await expectHealthy(server);
    });
  });

  it('still transcribes real speech after all of the above', async () => {
    await expectTranscribes(server);
    const res = await postForm(openai(), { file: { path: SHORT.path }, response_format: 'text' });
    expect(res.status).toBe(200);
    expect((await res.text()).trim().length).toBeGreaterThan(0);
  });
});

describe('audio longer than MAX_AUDIO_SECONDS', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ MAX_AUDIO_SECONDS: '5' });
  });
  afterAll(async () => server?.stop());

  it('answers 400 AUDIO_TOO_LONG with the duration and the limit', async () => {
    const res = await postForm(`${server.url}/transcriptions`, { file: { path: LONG.path } });
    await expectError(res, 400, 'AUDIO_TOO_LONG', server, /10\.\d s.*5 s.*MAX_AUDIO_SECONDS/);
    await expectHealthy(server);
  });

  it('answers 400 AUDIO_TOO_LONG to a stream that declares no duration, without claiming a length it did not measure', async () => {
    // A live WebM has no duration for the probe to read: only decoding (capped) finds the audio too long.
    const path = join(work, 'live.webm');
    const made = spawnSync('ffmpeg', ['-v', 'error', '-y', '-i', LONG.path, '-c:a', 'libopus', '-b:a', '24k', '-f', 'webm', '-live', '1', path]);
    expect(made.status, made.stderr.toString()).toBe(0);
    const res = await postForm(`${server.url}/transcriptions`, { file: { path, type: 'audio/webm' } });
    const message = await expectError(res, 400, 'AUDIO_TOO_LONG', server, /longer than the 5 s.*MAX_AUDIO_SECONDS/);
    // Decoding stops at 6 s; "lasts 6.0 s" would be a made-up length.
    expect(message).not.toMatch(/lasts 6/);
    await expectHealthy(server);
  });

  it('takes a WAV header that under-states the length at its word: 200 with the declared 1 s', async () => {
    // The data chunk says 1 s; the bytes after it are not samples of this chunk, so the
    // 10 s of data cannot slip past the 5 s limit either.
    const wav = Buffer.from(await readWav(LONG.path));
    wav.writeUInt32LE(PCM_BYTES_PER_SECOND, 40);
    wav.writeUInt32LE(PCM_BYTES_PER_SECOND + 36, 4);
    const path = await makeFile('understated.wav', wav);
    const res = await postForm(`${server.url}/transcriptions`, { file: { path } });
    expect(res.status).toBe(200);
    const body = transcriptionResponseSchema.parse(await res.json());
    expect(body.duration_seconds).toBeCloseTo(1, 2);
    await expectHealthy(server);
  });

  it('still transcribes a clip under the limit', async () => {
    await expectTranscribes(server);
  });
});

describe('bodies over MAX_FILE_SIZE_MB', () => {
  let server: TestServer;
  const LIMIT = 1_000_000;
  serveForHostileTests((s) => (server = s), { MAX_FILE_SIZE_MB: '1' });

  it('answers 413 FILE_TOO_LARGE to a declared Content-Length over the limit before the body is sent', async () => {
    const declared = 50 * LIMIT;
    const conn = await rawConnect(server.url);
    await conn.write(requestHead('/transcriptions', { 'Content-Type': `multipart/form-data; boundary=${BOUNDARY}`, 'Content-Length': declared }));
    await conn.write(filePartHead());
    await conn.write(noise(16 * 1024));
    const res = await withTimeout(conn.response, 5000, 'the 413 (the client has sent 16 KB of 50 MB)');
    expect(conn.bytesWritten()).toBeLessThan(declared / 100);
    expect(res.status).toBe(413);
    expect(res.headers['connection']).toBe('close');
    const body = JSON.parse(res.body) as { error: { code: string; message: string; details?: Record<string, unknown> } };
    expect(body.error.code).toBe('FILE_TOO_LARGE');
    expect(body.error.message).toMatch(/1 MB.*MAX_FILE_SIZE_MB/);
    expect(body.error.details).toEqual({ max_file_size_bytes: LIMIT });
    await withTimeout(conn.closed, 3000, 'the server to close the connection');
    conn.socket.destroy();
  });

  it('answers 413 FILE_TOO_LARGE and closes the connection when a chunked body streams past the limit', async () => {
    const conn = await rawConnect(server.url);
    await conn.write(requestHead('/transcriptions', { 'Content-Type': `multipart/form-data; boundary=${BOUNDARY}`, 'Transfer-Encoding': 'chunked' }));
    await conn.write(chunk(filePartHead()));
    let answered = false;
    void conn.response.then(() => (answered = true), () => (answered = true));
    const block = chunk(noise(64 * 1024));
    const cap = 20 * LIMIT;
    while (!answered && conn.bytesWritten() < cap) {
      const ok = await Promise.race([conn.write(block), conn.response.then(() => true)]);
      if (!ok) break;
    }
    // Never sent the closing boundary nor the last chunk: the answer came while the body was still open.
    expect(conn.bytesWritten()).toBeLessThan(cap);
    // Generous bounds: these guard against a hang, not a speed (CI machines can be busy).
    const res = await withTimeout(conn.response, 20_000, 'the 413');
    expect(res.status, res.body).toBe(413);
    const body = JSON.parse(res.body) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('FILE_TOO_LARGE');
    expect(body.error.message).toMatch(/1 MB.*MAX_FILE_SIZE_MB/);
    await withTimeout(conn.closed, 10_000, 'the server to close the connection');
    conn.socket.destroy();
  });

  it('answers 413 FILE_TOO_LARGE to a file just over the limit sent by an ordinary client', async () => {
    const path = await makeFile('over-limit.wav', Buffer.concat([(await readFile(SHORT.path)).subarray(0, WAV_HEADER_BYTES), Buffer.alloc(LIMIT)]));
    const res = await postForm(`${server.url}/v1/audio/transcriptions`, { file: { path } });
    await expectError(res, 413, 'FILE_TOO_LARGE', server, /MAX_FILE_SIZE_MB/);
  });

  it('still transcribes a file under the limit', async () => {
    await expectTranscribes(server);
  });
});

describe('a 5xx answer', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => server?.stop());

  it('is generic: no stack, no path, no cause, when the temp dir is broken', async () => {
    // A real fault, not a stub: the server's temp folder replaced by a plain file, so the upload cannot be written.
    const tmp = server.tempDir;
    await rm(tmp, { recursive: true, force: true });
    await writeFile(tmp, 'not a directory');
    try {
      const res = await postForm(`${server.url}/transcriptions`, { file: { path: SHORT.path } });
      const message = await expectError(res, 500, 'INTERNAL_ERROR', server);
      expect(message).toBe('internal server error');
    } finally {
      await rm(tmp, { force: true });
      await mkdir(tmp);
    }
    await expectHealthy(server);
    await expectTranscribes(server);
  });
});
