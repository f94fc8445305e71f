import { open } from 'node:fs/promises';

/** `GGML_FILE_MAGIC` from ggml.h ("ggml"), the first uint32 whisper.cpp's loader reads (little-endian). */
export const GGML_MAGIC = 0x67676d6c;

// whisper.cpp's loader reads the magic then eleven int32 hyper-parameters, in this order.
const HEADER_BYTES = 4 + 11 * 4;

/** What the header of a whisper ggml file says about the model inside. */
export interface GgmlHeader {
  nVocab: number;
  nAudioLayer: number;
  nTextLayer: number;
  nMels: number;
  /** ggml weight type (`ftype % 1000`; the thousands carry the quantization version). */
  ftype: number;
  /** The whisper.cpp size this architecture matches, e.g. `tiny.en` or `large-v3-turbo`; null if none. */
  architecture: string | null;
  /** f32, f16, q5_0, …, from ftype. */
  weights: string;
}

const LAYERS_TO_SIZE: Readonly<Record<number, string>> = { 4: 'tiny', 6: 'base', 12: 'small', 24: 'medium', 32: 'large' };
const FTYPES: Readonly<Record<number, string>> = { 0: 'f32', 1: 'f16', 2: 'q4_0', 3: 'q4_1', 7: 'q8_0', 8: 'q5_0', 9: 'q5_1' };

// Vocabulary sizes as whisper.cpp tells models apart: 51864 English-only, 51865 multilingual, 51866 large-v3.
function architectureOf(nVocab: number, nAudioLayer: number, nTextLayer: number): string | null {
  const base = LAYERS_TO_SIZE[nAudioLayer];
  if (base === undefined) return null;
  if (base === 'large') return nVocab === 51866 ? (nTextLayer === 4 ? 'large-v3-turbo' : 'large-v3') : 'large-v1/v2';
  return nVocab === 51864 ? `${base}.en` : base;
}

/** Reads a file's header; null when it does not start with the ggml magic (or is too short). */
export async function readGgmlHeader(path: string): Promise<GgmlHeader | null> {
  const fh = await open(path, 'r');
  const buf = Buffer.alloc(HEADER_BYTES);
  const { bytesRead } = await fh.read(buf, 0, HEADER_BYTES, 0).finally(() => fh.close());
  if (bytesRead < HEADER_BYTES || buf.readUInt32LE(0) !== GGML_MAGIC) return null;
  const field = (i: number) => buf.readInt32LE(4 + i * 4);
  const [nVocab, nAudioLayer, nTextLayer, nMels, ftypeRaw] = [field(0), field(4), field(8), field(9), field(10)];
  const ftype = ftypeRaw % 1000;
  return {
    nVocab,
    nAudioLayer,
    nTextLayer,
    nMels,
    ftype,
    architecture: architectureOf(nVocab, nAudioLayer, nTextLayer),
    weights: FTYPES[ftype] ?? `ftype ${ftype}`,
  };
}
