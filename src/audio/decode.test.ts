import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { wavHeader } from '../../test/support/audio.js';
import { corpusDir, loadClips } from '../../test/support/eval/index.js';
import { decodeToPcm } from './decode.js';
import { findPlainPcmWav, type ReadAt } from './wav.js';

/*
 * The decode path: a WAV already in hark's format is copied without ffmpeg, and
 * what is copied is what ffmpeg would have written; anything else is decoded by
 * one ffmpeg, to the same bytes as the ffprobe + ffmpeg pair it replaced.
 */

const clips = loadClips('dev', corpusDir(process.env));
const dir = mkdtempSync(join(tmpdir(), 'hark-decode-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const scratch = (ext: string) => join(dir, `f${n++}${ext}`);

/** What hark's ffmpeg call wrote before this path existed (ffprobe then these arguments, to a file). */
function ffmpegPcm(input: string): Buffer {
  const out = scratch('.pcm');
  const r = spawnSync('ffmpeg', ['-nostdin', '-loglevel', 'error', '-y', '-i', input, '-map', '0:a:0', '-vn', '-sn', '-dn', '-ac', '1', '-ar', '16000', '-c:a', 'pcm_s16le', '-f', 's16le', '-t', '3601', out]);
  expect(r.status, r.stderr.toString()).toBe(0);
  return readFileSync(out);
}

function make(args: string[], ext: string): string {
  const out = scratch(ext);
  const r = spawnSync('ffmpeg', ['-nostdin', '-loglevel', 'error', '-y', ...args, out]);
  expect(r.status, r.stderr.toString()).toBe(0);
  return out;
}

async function decode(input: string, maxSeconds = 600): Promise<Buffer> {
  const out = scratch('.pcm');
  const audio = await decodeToPcm(input, out, { maxSeconds });
  const pcm = readFileSync(out);
  expect(audio.samples).toBe(pcm.length / 2);
  expect(audio.durationSeconds).toBe(pcm.length / 2 / 16000);
  return pcm;
}

/** Runs `fn` with no ffmpeg (nor ffprobe) on PATH: whatever it decodes, it decoded without them. */
async function withoutFfmpeg<T>(fn: () => Promise<T>): Promise<T> {
  const saved = process.env['PATH'];
  process.env['PATH'] = dir; // a folder with no programs in it
  try {
    return await fn();
  } finally {
    process.env['PATH'] = saved;
  }
}
afterEach(() => expect(process.env['PATH']).not.toBe(dir));

const short = clips.find((c) => c.durationSeconds > 2 && c.durationSeconds < 5)!;
function riff(...chunks: Buffer[]): Buffer {
  const body = Buffer.concat([Buffer.from('WAVE', 'latin1'), ...chunks]);
  const h = Buffer.alloc(8);
  h.write('RIFF', 0, 'latin1');
  h.writeUInt32LE(body.length, 4);
  return Buffer.concat([h, body]);
}
/** A RIFF chunk: tag, size (as stated, by default the body's), body, pad byte. */
function ck(tag: string, body: Buffer, stated = body.length): Buffer {
  const h = Buffer.alloc(8);
  h.write(tag, 0, 'latin1');
  h.writeUInt32LE(stated, 4);
  return Buffer.concat([h, body, Buffer.alloc(body.length % 2)]);
}
const FMT = wavHeader(0).subarray(20, 36);

describe('a WAV already 16 kHz mono s16le', () => {
  it('is copied without ffmpeg, byte for byte what ffmpeg writes, for every dev clip', async () => {
    expect(clips).toHaveLength(42);
    for (const c of clips) {
      const direct = await withoutFfmpeg(() => decode(c.path));
      expect(direct.equals(ffmpegPcm(c.path)), c.id).toBe(true);
    }
  }, 120_000);

  it('needs ffmpeg when the WAV is in another format (so the test above can tell)', async () => {
    const stereo = make(['-i', short.path, '-ar', '44100', '-ac', '2'], '.wav');
    await expect(withoutFfmpeg(() => decode(stereo))).rejects.toMatchObject({ code: 'ENOENT' });
    expect((await decode(stereo)).equals(ffmpegPcm(stereo))).toBe(true);
  });

  it('is copied when descriptive chunks (LIST tags) sit before its samples', async () => {
    const tagged = make(['-i', short.path, '-metadata', 'title=tagged', '-c:a', 'pcm_s16le'], '.wav');
    expect(readFileSync(tagged).toString('latin1', 36, 40)).toBe('LIST');
    const direct = await withoutFfmpeg(() => decode(tagged));
    expect(direct.equals(ffmpegPcm(tagged))).toBe(true);
  });

  it('is refused AUDIO_TOO_LONG from its header, without ffmpeg, when longer than MAX_AUDIO_SECONDS', async () => {
    await expect(withoutFfmpeg(() => decode(short.path, 1))).rejects.toMatchObject({
      code: 'AUDIO_TOO_LONG',
      details: { duration_seconds: expect.closeTo(short.durationSeconds, 2), max_audio_seconds: 1 },
    });
  });

  // Each odd header goes to ffmpeg, whose reading of it stays the rule: the same bytes as before.
  const samples = Buffer.alloc(3200, 7);
  const ODD: [string, Buffer][] = [
    ['a data size of 0 (ffmpeg reads to the end)', riff(ck('fmt ', FMT), ck('data', samples, 0))],
    ['a data size past the end of the file', riff(ck('fmt ', FMT), ck('data', samples, 6400)).subarray(0, 44 + 3200)],
    ['an odd data size', riff(ck('fmt ', FMT), ck('data', Buffer.alloc(3201, 7)))],
    ['a RIFF size that is not the file\'s', (() => { const b = riff(ck('fmt ', FMT), ck('data', samples)); b.writeUInt32LE(0xffffffff, 4); return b; })()],
    ['two data chunks', riff(ck('fmt ', FMT), ck('data', samples), ck('data', Buffer.alloc(1600, 9)))],
    ['data before fmt', riff(ck('data', samples), ck('fmt ', FMT))],
    ['an unknown chunk', riff(ck('fmt ', FMT), ck('smpl', Buffer.alloc(36)), ck('data', samples))],
    ['bytes after the last chunk', Buffer.concat([riff(ck('fmt ', FMT), ck('data', samples)), Buffer.alloc(3)])],
  ];
  it.each(ODD)('with %s is left to ffmpeg', async (_kind, bytes) => {
    const path = scratch('.wav');
    writeFileSync(path, bytes);
    const reader: ReadAt = async (o, l) => bytes.subarray(o, o + l);
    expect(await findPlainPcmWav(reader, bytes.length)).toBeUndefined();
    const theirs = spawnSync('ffmpeg', ['-nostdin', '-loglevel', 'error', '-i', path, '-f', 's16le', '-ac', '1', '-ar', '16000', '-']);
    if (theirs.status !== 0 || theirs.stdout.length === 0) {
      await expect(decode(path)).rejects.toMatchObject({ code: expect.stringMatching(/INVALID_AUDIO|EMPTY_AUDIO/) });
    } else {
      expect((await decode(path)).equals(ffmpegPcm(path))).toBe(true);
    }
  });

  it(`never throws on arbitrary chunk layouts, and what it finds lies within the file (seed 0x57a7)`, async () => {
    const tags = fc.constantFrom('fmt ', 'data', 'LIST', 'fact', 'JUNK', 'smpl', 'ds64');
    const piece = fc.record({ tag: tags, body: fc.uint8Array({ maxLength: 40 }), lie: fc.option(fc.nat({ max: 2 ** 32 - 1 }), { freq: 4 }) });
    await fc.assert(
      fc.asyncProperty(fc.array(piece, { maxLength: 6 }), fc.boolean(), async (pieces, plainFmt) => {
        const chunks = pieces.map((p) => ck(p.tag, p.tag === 'fmt ' && plainFmt ? FMT : Buffer.from(p.body), p.lie ?? p.body.length));
        const bytes = riff(...chunks);
        const found = await findPlainPcmWav(async (o, l) => bytes.subarray(o, o + l), bytes.length);
        if (found === undefined) return;
        expect(found.dataBytes).toBeGreaterThan(0);
        expect(found.dataBytes % 2).toBe(0);
        expect(found.dataOffset + found.dataBytes).toBeLessThanOrEqual(bytes.length);
      }),
      { seed: 0x57a7, numRuns: 300 },
    );
  });
});

describe('other input: one ffmpeg', () => {
  it.each([
    ['MP3', ['-c:a', 'libmp3lame', '-b:a', '64k'], '.mp3'],
    ['Ogg Vorbis', ['-c:a', 'libvorbis'], '.ogg'],
    ['FLAC', ['-c:a', 'flac'], '.flac'],
    ['float WAV', ['-c:a', 'pcm_f32le'], '.wav'],
  ] as const)('decodes %s to the same bytes as the ffprobe + ffmpeg pair did', async (_kind, codec, ext) => {
    const input = make(['-i', short.path, ...codec], ext);
    expect((await decode(input)).equals(ffmpegPcm(input))).toBe(true);
  });

  it('stops decoding when the request is aborted (AbortError, ffmpeg killed)', async () => {
    const long = make(['-f', 'lavfi', '-i', 'sine=frequency=440:duration=1800:sample_rate=44100', '-c:a', 'flac'], '.flac');
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 200);
    await expect(decodeToPcm(long, scratch('.pcm'), { maxSeconds: 3600, signal: abort.signal })).rejects.toMatchObject({ name: 'AbortError' });
  }, 30_000);
});
