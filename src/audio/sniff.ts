import { open } from 'node:fs/promises';

/** What the first bytes of a file say it is. */
export interface Sniffed {
  container: string;
  /** Known without decoding (WAV headers carry it); undefined otherwise. */
  durationSeconds?: number;
}

/**
 * Recognises common audio containers from their first bytes, in microseconds
 * (no process spawned). A job submission uses it to accept real audio at once
 * and leave full decoding to the runner; anything it does not recognise still
 * gets a full ffprobe, so an unusual but valid format is never refused here.
 */
export async function sniffAudio(path: string, fileSize: number): Promise<Sniffed | undefined> {
  const fh = await open(path, 'r');
  let head: Buffer;
  try {
    head = Buffer.alloc(64);
    const { bytesRead } = await fh.read(head, 0, 64, 0);
    head = head.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
  const ascii = (from: number, to: number) => head.toString('latin1', from, to);
  if (head.length < 12) return undefined;
  if ((ascii(0, 4) === 'RIFF' || ascii(0, 4) === 'RF64') && ascii(8, 12) === 'WAVE') {
    // Only a plain, coherent header is taken at its word; any other WAV gets the full ffprobe.
    if (!wavFormatSane(head)) return undefined;
    return { container: 'wav', durationSeconds: wavDuration(head, fileSize) };
  }
  if (ascii(0, 4) === 'fLaC') return { container: 'flac', durationSeconds: flacDuration(head) };
  if (ascii(0, 4) === 'OggS') return { container: 'ogg' };
  if (ascii(4, 8) === 'ftyp') return { container: 'mp4' };
  if (head.readUInt32BE(0) === 0x1a45dfa3) return { container: 'webm' };
  if (ascii(0, 3) === 'ID3') return { container: 'mp3' };
  if (ascii(0, 4) === 'FORM' && (ascii(8, 12) === 'AIFF' || ascii(8, 12) === 'AIFC')) return { container: 'aiff' };
  if (ascii(0, 4) === 'caff') return { container: 'caf' };
  if (ascii(0, 5) === '#!AMR') return { container: 'amr' };
  // MPEG audio / ADTS AAC frame sync (11 set bits), a layer or profile that exists.
  if (head[0] === 0xff && ((head[1] ?? 0) & 0xe0) === 0xe0 && ((head[1] ?? 0) & 0x06) !== 0x00) return { container: 'mpeg-audio' };
  if (head[0] === 0xff && ((head[1] ?? 0) & 0xf6) === 0xf0) return { container: 'aac' };
  return undefined;
}

/** Format tags whose block size follows from channels and bits: PCM, float, A-law, mu-law, extensible. */
const PLAIN_WAV_FORMATS = new Set([1, 3, 6, 7, 0xfffe]);

/**
 * True for a `fmt ` chunk right after the RIFF header that describes plain
 * samples coherently: channels, rate and bits present, and block size and byte
 * rate that follow from them. Anything else (a compressed codec inside WAV, an
 * odd layout, or a header that contradicts itself) is left to ffprobe.
 */
function wavFormatSane(head: Buffer): boolean {
  if (head.length < 36 || head.toString('latin1', 12, 16) !== 'fmt ' || ![16, 18, 40].includes(head.readUInt32LE(16))) return false;
  const tag = head.readUInt16LE(20);
  const channels = head.readUInt16LE(22);
  const sampleRate = head.readUInt32LE(24);
  const byteRate = head.readUInt32LE(28);
  const blockAlign = head.readUInt16LE(32);
  const bits = head.readUInt16LE(34);
  if (!PLAIN_WAV_FORMATS.has(tag) || channels === 0 || sampleRate === 0 || bits === 0 || bits > 64) return false;
  return blockAlign === channels * Math.ceil(bits / 8) && byteRate === sampleRate * blockAlign;
}

/** Duration from FLAC's STREAMINFO (the first metadata block), when it states its length. */
function flacDuration(head: Buffer): number | undefined {
  // Block type 0 (STREAMINFO) of 34 bytes; its fields start at byte 8.
  if (head.length < 26 || (head[4]! & 0x7f) !== 0 || head.readUIntBE(5, 3) !== 34) return undefined;
  const sampleRate = (head[18]! << 12) | (head[19]! << 4) | (head[20]! >> 4);
  const samples = (head[21]! & 0x0f) * 2 ** 32 + head.readUInt32BE(22);
  if (sampleRate === 0 || samples === 0) return undefined;
  return samples / sampleRate;
}

/** Duration from a canonical WAV header (fmt then data), never more than the file holds. */
function wavDuration(head: Buffer, fileSize: number): number | undefined {
  if (head.length < 44 || head.toString('latin1', 12, 16) !== 'fmt ' || head.toString('latin1', 36, 40) !== 'data') return undefined;
  const byteRate = head.readUInt32LE(28);
  const dataBytes = head.readUInt32LE(40);
  if (byteRate === 0) return undefined;
  return Math.min(dataBytes, Math.max(0, fileSize - 44)) / byteRate;
}
