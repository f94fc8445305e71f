import { open } from 'node:fs/promises';
import { BYTES_PER_SAMPLE, SAMPLE_RATE } from './decode.js';

/** Reads samples [start, end) of a raw s16le PCM file. */
export async function readPcmRange(path: string, start: number, end: number): Promise<Int16Array> {
  const fh = await open(path, 'r');
  try {
    const bytes = Math.max(0, end - start) * BYTES_PER_SAMPLE;
    const buf = Buffer.allocUnsafe(bytes);
    const { bytesRead } = await fh.read(buf, 0, bytes, start * BYTES_PER_SAMPLE);
    // A fresh ArrayBuffer keeps alignment right and lets the native side copy from a tight view.
    const out = new Int16Array(Math.floor(bytesRead / BYTES_PER_SAMPLE));
    Buffer.from(out.buffer).set(buf.subarray(0, out.length * BYTES_PER_SAMPLE));
    return out;
  } finally {
    await fh.close();
  }
}

/**
 * Reads a raw s16le PCM file from the start in chunks of at most `chunkSamples`
 * into one reused buffer, handing each to `take` (awaited; it must not keep the
 * array), checking `signal` before each read. Returns how many samples it read.
 */
export async function forEachPcmChunk(
  audio: { path: string; samples: number },
  chunkSamples: number,
  take: (pcm: Int16Array) => void | Promise<void>,
  signal?: AbortSignal,
): Promise<number> {
  const chunk = new Int16Array(chunkSamples);
  const bytes = Buffer.from(chunk.buffer);
  const fh = await open(audio.path, 'r');
  let read = 0;
  try {
    while (read < audio.samples) {
      signal?.throwIfAborted();
      const want = Math.min(chunkSamples, audio.samples - read);
      const { bytesRead } = await fh.read(bytes, 0, want * BYTES_PER_SAMPLE, read * BYTES_PER_SAMPLE);
      const got = Math.floor(bytesRead / BYTES_PER_SAMPLE);
      await take(chunk.subarray(0, got));
      read += got;
      if (got < want) break;
    }
  } finally {
    await fh.close();
  }
  return read;
}

/** 10 ms analysis frames: the unit of silence detection and of PocketSphinx's own frames. */
export const FRAME_SAMPLES = SAMPLE_RATE / 100;

/**
 * Log energy (dB) of each 10 ms frame of a PCM file, read in blocks so memory
 * stays flat however long the file is (an hour is 360,000 floats).
 */
export async function frameEnergies(path: string, samples: number): Promise<Float32Array> {
  const frames = Math.ceil(samples / FRAME_SAMPLES);
  const energies = new Float32Array(frames);
  const fh = await open(path, 'r');
  try {
    const framesPerBlock = 1000;
    const buf = Buffer.allocUnsafe(framesPerBlock * FRAME_SAMPLES * BYTES_PER_SAMPLE);
    for (let f0 = 0; f0 < frames; f0 += framesPerBlock) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, f0 * FRAME_SAMPLES * BYTES_PER_SAMPLE);
      const n = Math.floor(bytesRead / BYTES_PER_SAMPLE);
      for (let f = 0; f * FRAME_SAMPLES < n && f0 + f < frames; f++) {
        let sum = 0;
        const end = Math.min(n, (f + 1) * FRAME_SAMPLES);
        for (let i = f * FRAME_SAMPLES; i < end; i++) {
          const s = buf.readInt16LE(i * BYTES_PER_SAMPLE);
          sum += s * s;
        }
        energies[f0 + f] = 10 * Math.log10(sum / Math.max(1, end - f * FRAME_SAMPLES) + 1);
      }
    }
  } finally {
    await fh.close();
  }
  return energies;
}

/** The samples of `parts` one after another (the part itself when there is one). */
export function concatPcm(parts: readonly Int16Array[]): Int16Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
