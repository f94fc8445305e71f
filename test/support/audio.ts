import { readFileSync, writeFileSync } from 'node:fs';

/** The PCM samples of a 16-bit WAV (its `data` chunk). */
export function wavData(path: string): Buffer {
  const buf = readFileSync(path);
  let off = 12;
  while (off + 8 <= buf.length) {
    const id = buf.toString('ascii', off, off + 4);
    const size = buf.readUInt32LE(off + 4);
    if (id === 'data') return buf.subarray(off + 8, Math.min(buf.length, off + 8 + size));
    off += 8 + size + (size % 2);
  }
  throw new Error(`${path}: no data chunk`);
}

/** A 44-byte header for 16 kHz mono s16le PCM of `dataBytes`. */
export function wavHeader(dataBytes: number, sampleRate = 16_000, channels = 1): Buffer {
  const h = Buffer.alloc(44);
  h.write('RIFF', 0, 'ascii');
  h.writeUInt32LE(36 + dataBytes, 4);
  h.write('WAVE', 8, 'ascii');
  h.write('fmt ', 12, 'ascii');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20);
  h.writeUInt16LE(channels, 22);
  h.writeUInt32LE(sampleRate, 24);
  h.writeUInt32LE(sampleRate * channels * 2, 28);
  h.writeUInt16LE(channels * 2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36, 'ascii');
  h.writeUInt32LE(dataBytes, 40);
  return h;
}

/** Joins 16 kHz mono WAV clips into one WAV file at `out`. */
export function joinWavs(paths: readonly string[], out: string): void {
  const data = Buffer.concat(paths.map(wavData));
  writeFileSync(out, Buffer.concat([wavHeader(data.length), data]));
}

/** Writes `seconds` of 16 kHz mono silence as a WAV file at `out`: a file no engine decodes (the VAD finds no speech). */
export function writeSilence(out: string, seconds: number): void {
  const data = Buffer.alloc(Math.round(seconds * 16_000) * 2);
  writeFileSync(out, Buffer.concat([wavHeader(data.length), data]));
}
