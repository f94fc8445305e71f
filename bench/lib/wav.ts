import { createReadStream, createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { once } from 'node:events';
import { BYTES_PER_SAMPLE, SAMPLE_RATE } from '../../src/audio/index.js';
import { wavHeader } from '../../test/support/audio.js';

/** The 44-byte header of a 16 kHz mono s16le WAV (shared with the tests). */
export { wavHeader };

/**
 * Writes raw PCM files (hark's decoded form), one after the other and the whole
 * list `repeat` times, as one WAV. Streams, so an hour costs no memory.
 * Returns the duration in seconds.
 */
export async function joinPcmToWav(pcmPaths: readonly string[], outPath: string, repeat = 1): Promise<number> {
  let bytes = 0;
  for (const p of pcmPaths) bytes += (await stat(p)).size;
  const total = bytes * repeat;
  if (36 + total > 0xffff_ffff) throw new Error(`${total} bytes of PCM do not fit in one WAV`);
  const out = createWriteStream(outPath);
  // Plain writes with back-pressure: pipeline(..., { end: false }) into one
  // stream hundreds of times leaves listeners behind on it. (once() rejects on 'error'.)
  const write = async (chunk: Buffer) => {
    if (!out.write(chunk)) await once(out, 'drain');
  };
  await write(wavHeader(total));
  for (let r = 0; r < repeat; r++) {
    for (const p of pcmPaths) {
      for await (const chunk of createReadStream(p)) await write(chunk as Buffer);
    }
  }
  out.end();
  await once(out, 'finish');
  return total / BYTES_PER_SAMPLE / SAMPLE_RATE;
}
