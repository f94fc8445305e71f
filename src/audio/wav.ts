import { open } from 'node:fs/promises';
import { pipeToFile } from '../os/index.js';

/** Where the samples of a WAV that needs no decoding lie in its file. */
export interface PlainPcmWav {
  dataOffset: number;
  dataBytes: number;
}

/** Reads `length` bytes at `offset` (fewer at the end of the file). */
export type ReadAt = (offset: number, length: number) => Promise<Buffer>;

/**
 * Chunks that only describe the file (tags, padding, a sample count): ffmpeg's
 * WAV demuxer reads them as metadata, never as audio. Any other chunk (a second
 * `data`, `ds64`, SMV video, ...) sends the file to ffmpeg.
 */
const DESCRIPTIVE_CHUNKS = new Set(['LIST', 'JUNK', 'junk', 'PAD ', 'fact', 'bext', 'id3 ', 'ID3 ']);
/** A real WAV has a handful of chunks; past this many it is left to ffmpeg. */
const MAX_CHUNKS = 32;

/**
 * Finds the samples of a WAV that is already what hark decodes to: plain PCM
 * (format tag 1), 16000 Hz, 1 channel, 16 bits, with a byte rate and block size
 * that agree. Every size must be coherent: the RIFF size is the file's, the
 * chunks tile the file exactly, one `fmt ` before one `data` of an even, non-zero
 * length. Anything else, including a header that merely looks odd, gives
 * undefined and the file goes to ffmpeg, which is then the one judge of it.
 * (ffmpeg reads a `data` size of 0 or 0xFFFFFFFF as "to the end of the file" and
 * keeps scanning after `data` for more chunks: those are exactly the cases where
 * copying the chunk could differ from what ffmpeg decodes, so they are refused here.)
 */
export async function findPlainPcmWav(readAt: ReadAt, fileSize: number): Promise<PlainPcmWav | undefined> {
  const riff = await readAt(0, 12);
  if (riff.length < 12 || riff.toString('latin1', 0, 4) !== 'RIFF' || riff.toString('latin1', 8, 12) !== 'WAVE') return undefined;
  if (riff.readUInt32LE(4) + 8 !== fileSize) return undefined;
  let fmtOk = false;
  let data: PlainPcmWav | undefined;
  let at = 12;
  for (let n = 0; at < fileSize; n++) {
    if (n === MAX_CHUNKS || fileSize - at < 8) return undefined;
    const head = await readAt(at, 8);
    if (head.length < 8) return undefined;
    const tag = head.toString('latin1', 0, 4);
    const size = head.readUInt32LE(4);
    const body = at + 8;
    if (body + size > fileSize) return undefined;
    if (tag === 'fmt ') {
      if (fmtOk || data !== undefined || !(await plainPcmFormat(readAt, body, size))) return undefined;
      fmtOk = true;
    } else if (tag === 'data') {
      if (!fmtOk || data !== undefined || size === 0 || size % 2 !== 0) return undefined;
      data = { dataOffset: body, dataBytes: size };
    } else if (!DESCRIPTIVE_CHUNKS.has(tag)) {
      return undefined;
    }
    // Chunks start on even offsets: an odd-sized chunk is followed by a pad byte.
    at = body + size + (size % 2);
  }
  return at === fileSize ? data : undefined;
}

/** True for a `fmt ` chunk of 16 bytes (or 18 with no extension) saying PCM, 16000 Hz, mono, 16 bits. */
async function plainPcmFormat(readAt: ReadAt, offset: number, size: number): Promise<boolean> {
  if (size !== 16 && size !== 18) return false;
  const f = await readAt(offset, size);
  if (f.length < size) return false;
  if (size === 18 && f.readUInt16LE(16) !== 0) return false;
  return (
    f.readUInt16LE(0) === 1 && // PCM
    f.readUInt16LE(2) === 1 && // channels
    f.readUInt32LE(4) === 16_000 && // sample rate
    f.readUInt32LE(8) === 32_000 && // byte rate
    f.readUInt16LE(12) === 2 && // block align
    f.readUInt16LE(14) === 16 // bits
  );
}

/**
 * When `inPath` is a WAV already in hark's PCM format ({@link findPlainPcmWav}),
 * checks its length with `check` (which may throw) and then copies its samples to
 * `outPath`, returning their byte count; undefined (nothing written) otherwise.
 */
export async function copyPlainPcmWav(
  inPath: string,
  outPath: string,
  check: (dataBytes: number) => void,
  signal?: AbortSignal,
): Promise<number | undefined> {
  const fh = await open(inPath, 'r');
  try {
    const { size } = await fh.stat();
    const readAt: ReadAt = async (offset, length) => {
      const buf = Buffer.alloc(length);
      const { bytesRead } = await fh.read(buf, 0, length, offset);
      return buf.subarray(0, bytesRead);
    };
    const wav = await findPlainPcmWav(readAt, size);
    if (wav === undefined) return undefined;
    check(wav.dataBytes);
    await pipeToFile(fh.createReadStream({ start: wav.dataOffset, end: wav.dataOffset + wav.dataBytes - 1, autoClose: false }), outPath, { signal });
    return wav.dataBytes;
  } finally {
    await fh.close();
  }
}
