import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sniffAudio } from '../../src/audio/index.js';
import { BOUNDARY, expectHealthy, expectKnown4xx, expectNoTempFiles, expectTranscribes, multipartBody, SHORT } from '../support/hostile-http.js';
import { startTestServer, type TestServer } from '../support/server.js';

/*
 * Property-based fuzzing with fixed seeds: a failure prints the seed and the
 * shrunk counterexample, and the same seed replays it. Run counts are kept
 * small enough for two shared cores.
 */

// FUZZ_SEED / FUZZ_RUNS override both (to replay a reported seed, or to search longer by hand).
const envNumber = (name: string): number | undefined => (process.env[name] === undefined ? undefined : Number(process.env[name]));
const SNIFF_SEED = envNumber('FUZZ_SEED') ?? 0x4a11;
const SNIFF_RUNS = envNumber('FUZZ_RUNS') ?? 400;
const MULTIPART_SEED = envNumber('FUZZ_SEED') ?? 0x5eed;
const MULTIPART_RUNS = envNumber('FUZZ_RUNS') ?? 60;

let work: string;
let wav: Buffer;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'hark-fuzz-'));
  wav = await readFile(SHORT.path);
});
afterAll(async () => {
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

describe('sniffAudio (WAV and FLAC headers)', () => {
  let n = 0;
  /** sniffAudio on `bytes` written to a file, told the file is `fileSize` long (the caller's stat). */
  async function sniff(bytes: Uint8Array, fileSize: number): Promise<Awaited<ReturnType<typeof sniffAudio>>> {
    const path = join(work, `s${n++ % 8}`);
    await writeFile(path, bytes);
    return sniffAudio(path, fileSize);
  }

  function checkResult(r: Awaited<ReturnType<typeof sniffAudio>>): void {
    if (r === undefined) return;
    expect(typeof r.container).toBe('string');
    if (r.durationSeconds !== undefined) {
      expect(Number.isFinite(r.durationSeconds)).toBe(true);
      expect(r.durationSeconds).toBeGreaterThanOrEqual(0);
    }
  }

  it(`never throws on arbitrary bytes, and a duration is undefined or finite and >= 0 (seed ${SNIFF_SEED}, ${SNIFF_RUNS} runs)`, async () => {
    // Half the inputs start with a RIFF/WAVE or fLaC magic, so the header parsers are reached.
    const magic = fc.constantFrom(Buffer.alloc(0), Buffer.from('RIFF\0\0\0\0WAVEfmt '), Buffer.from('RF64\xff\xff\xff\xffWAVE', 'latin1'), Buffer.from('fLaC'));
    await fc.assert(
      fc.asyncProperty(magic, fc.uint8Array({ maxLength: 96 }), fc.nat({ max: 2 ** 32 }), async (prefix, rest, fileSize) => {
        checkResult(await sniff(Buffer.concat([prefix, rest]), fileSize));
      }),
      { seed: SNIFF_SEED, numRuns: SNIFF_RUNS },
    );
  });

  it(`reads mutated real WAV and FLAC headers without throwing, never claiming more audio than the file holds (seed ${SNIFF_SEED + 1}, ${SNIFF_RUNS} runs)`, async () => {
    const flac = Buffer.concat([Buffer.from('fLaC'), Buffer.from([0x80, 0, 0, 34]), Buffer.alloc(10), Buffer.from([0x03, 0xe8, 0x00, 0xf0, 0, 0, 0x3e, 0x80]), Buffer.alloc(24)]);
    const headers = [wav.subarray(0, 64), flac];
    const edit = fc.tuple(fc.nat({ max: 63 }), fc.integer({ min: 0, max: 255 }));
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(0, 1), fc.array(edit, { minLength: 1, maxLength: 6 }), fc.nat({ max: 2 ** 31 }), async (which, edits, fileSize) => {
        const head = Buffer.from(headers[which]!);
        for (const [at, value] of edits) if (at < head.length) head[at] = value;
        const r = await sniff(head, fileSize);
        checkResult(r);
        // A WAV's duration comes from its data, which is capped at what the file holds.
        if (r?.container === 'wav' && r.durationSeconds !== undefined) {
          expect(r.durationSeconds * head.readUInt32LE(28)).toBeLessThanOrEqual(Math.max(0, fileSize - 44) + 1e-6);
        }
      }),
      { seed: SNIFF_SEED + 1, numRuns: SNIFF_RUNS },
    );
  });
});

describe('multipart bodies mutated from a valid upload, POSTed to the server', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => server?.stop());

  /** One way to break a body: each is applied to the valid upload below. */
  type Mutation =
    | { kind: 'truncate'; at: number }
    | { kind: 'flip'; at: number; value: number }
    | { kind: 'insert'; at: number; bytes: Uint8Array }
    | { kind: 'duplicate-boundary'; which: number }
    | { kind: 'remove-boundary'; which: number }
    | { kind: 'header'; which: number; line: string }
    | { kind: 'content-type'; value: string };

  const mutation: fc.Arbitrary<Mutation> = fc.oneof(
    fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
    fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 64 }) }),
    fc.record({ kind: fc.constant('duplicate-boundary' as const), which: fc.nat({ max: 3 }) }),
    fc.record({ kind: fc.constant('remove-boundary' as const), which: fc.nat({ max: 3 }) }),
    fc.record({
      kind: fc.constant('header' as const),
      which: fc.nat({ max: 3 }),
      line: fc.oneof(
        fc.string({ maxLength: 80 }),
        fc.constantFrom('Content-Disposition: form-data', 'Content-Disposition: form-data; name="file"', 'Content-Disposition: form-data; name="file"; filename=""', 'Content-Disposition: attachment; name="file"; filename="a.wav"', 'Content-Disposition: form-data; name="file"; filename*=UTF-8\'\'%ff%fe.wav', 'Content-Type: application/json'),
      ),
    }),
    fc.record({
      kind: fc.constant('content-type' as const),
      value: fc.constantFrom(`multipart/form-data; boundary="${BOUNDARY}"`, `multipart/form-data; boundary=${BOUNDARY}x`, `multipart/form-data; boundary=${BOUNDARY.slice(0, 10)}`, 'multipart/form-data; charset=utf-8', `multipart/mixed; boundary=${BOUNDARY}`, `MULTIPART/FORM-DATA; BOUNDARY=${BOUNDARY}`),
    }),
  );

  /** The valid upload: a language field, the file, and response_format. */
  function validBody(): Buffer {
    return multipartBody([
      { headers: 'Content-Disposition: form-data; name="language"', body: 'en' },
      { headers: 'Content-Disposition: form-data; name="file"; filename="clip.wav"\r\nContent-Type: audio/wav', body: wav },
      { headers: 'Content-Disposition: form-data; name="response_format"', body: 'json' },
    ]);
  }

  function lineStarts(body: Buffer, needle: string): number[] {
    const out: number[] = [];
    for (let at = body.indexOf(needle); at >= 0; at = body.indexOf(needle, at + 1)) out.push(at);
    return out;
  }

  /** Applies one mutation to the body as it is now (boundary and header lines are found afresh; none left: no change). */
  function apply(m: Mutation, input: { body: Buffer; contentType: string }): { body: Buffer; contentType: string } {
    const body = Buffer.from(input.body);
    const boundaries = lineStarts(body, `--${BOUNDARY}`);
    const headerLines = lineStarts(body, 'Content-Disposition:');
    const lineEnd = (at: number) => {
      const end = body.indexOf('\r\n', at);
      return end < 0 ? body.length : end + 2;
    };
    const at = body.length === 0 ? 0 : 'at' in m ? m.at % body.length : 0;
    switch (m.kind) {
      case 'truncate':
        return { ...input, body: body.subarray(0, at) };
      case 'flip':
        if (body.length > 0) body[at] = m.value;
        return { ...input, body };
      case 'insert':
        return { ...input, body: Buffer.concat([body.subarray(0, at), m.bytes, body.subarray(at)]) };
      case 'duplicate-boundary': {
        const b = boundaries[m.which % Math.max(1, boundaries.length)];
        if (b === undefined) return input;
        return { ...input, body: Buffer.concat([body.subarray(0, lineEnd(b)), body.subarray(b, lineEnd(b)), body.subarray(lineEnd(b))]) };
      }
      case 'remove-boundary': {
        const b = boundaries[m.which % Math.max(1, boundaries.length)];
        if (b === undefined) return input;
        return { ...input, body: Buffer.concat([body.subarray(0, b), body.subarray(lineEnd(b))]) };
      }
      case 'header': {
        const h = headerLines[m.which % Math.max(1, headerLines.length)];
        if (h === undefined) return input;
        return { ...input, body: Buffer.concat([body.subarray(0, h), Buffer.from(m.line), body.subarray(Math.max(h, lineEnd(h) - 2))]) };
      }
      case 'content-type':
        return { body, contentType: m.value };
    }
  }

  it(`answers every mutation with 200 or a 4xx carrying one of hark's codes, never a 5xx or a hang (seed ${MULTIPART_SEED}, ${MULTIPART_RUNS} runs)`, async () => {
    const seen: Record<string, number> = {};
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('/transcriptions', '/v1/audio/transcriptions'), fc.array(mutation, { minLength: 1, maxLength: 3 }), async (route, mutations) => {
        const { body, contentType } = mutations.reduce((acc, m) => apply(m, acc), { body: validBody(), contentType: `multipart/form-data; boundary=${BOUNDARY}` });
        // A bounded wait: a hang fails the property (AbortSignal) instead of the whole file.
        const res = await fetch(`${server.url}${route}`, { method: 'POST', headers: { 'content-type': contentType }, body, signal: AbortSignal.timeout(30_000) });
        const text = await res.text();
        if (res.status === 200) expect((JSON.parse(text) as { text: unknown }).text).toEqual(expect.any(String));
        else {
          expectKnown4xx(res.status, text);
          const code = (JSON.parse(text) as { error: { code: string } }).error.code;
          seen[code] = (seen[code] ?? 0) + 1;
        }
        seen[`status ${res.status}`] = (seen[`status ${res.status}`] ?? 0) + 1;
        await expectNoTempFiles(server);
      }),
      { seed: MULTIPART_SEED, numRuns: MULTIPART_RUNS, endOnFailure: true },
    );
    // The fuzzer reached both sides: bodies still accepted and bodies refused.
    expect(seen['status 200'] ?? 0).toBeGreaterThan(0);
    expect(MULTIPART_RUNS - (seen['status 200'] ?? 0)).toBeGreaterThan(0);
    await expectHealthy(server);
  }, 120_000);

  it('still transcribes real speech after the fuzzing', async () => {
    await expectTranscribes(server);
  });
});
