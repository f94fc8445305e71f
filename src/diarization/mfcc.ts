import { SAMPLE_RATE, type PcmAudio } from '../audio/decode.js';
import { forEachPcmChunk, FRAME_SAMPLES } from '../audio/pcm.js';

/** Cepstra kept per frame: c1..c19, the usual set for speaker work (c0, the level, says little about who speaks). */
export const MFCC_DIMS = 19;
/** Frames per second: one per 10 ms hop. */
export const MFCC_FPS = SAMPLE_RATE / FRAME_SAMPLES;

const WINDOW = 400; // 25 ms
const FFT_SIZE = 512;
const MEL_FILTERS = 30;
const LOW_HZ = 100;
const HIGH_HZ = 7600;
const PRE_EMPHASIS = 0.97;
/** Frame f is centred on the middle of hop f: its window starts this far before the hop. */
const LEAD = (WINDOW - FRAME_SAMPLES) / 2;
/** About 30 s of PCM per read: what the front end holds of the audio at once. */
const CHUNK_SAMPLES = 3000 * FRAME_SAMPLES;

/** Row-major feature matrix: `frames` rows of `dims` values, frame f centred at (f + 0.5) * 10 ms. */
export interface Features {
  frames: number;
  dims: number;
  data: Float32Array;
}

const mel = (hz: number): number => 2595 * Math.log10(1 + hz / 700);
const hzOfMel = (m: number): number => 700 * (10 ** (m / 2595) - 1);

/** Triangular filters on the mel scale, as weights over the FFT bins 0..FFT_SIZE/2. */
function melBank(): { from: number; weights: Float64Array }[] {
  const bins = FFT_SIZE / 2 + 1;
  const edges = Array.from({ length: MEL_FILTERS + 2 }, (_, i) => (hzOfMel(mel(LOW_HZ) + ((mel(HIGH_HZ) - mel(LOW_HZ)) * i) / (MEL_FILTERS + 1)) * FFT_SIZE) / SAMPLE_RATE);
  return Array.from({ length: MEL_FILTERS }, (_, m) => {
    const [lo, mid, hi] = [edges[m]!, edges[m + 1]!, edges[m + 2]!];
    const from = Math.max(0, Math.ceil(lo));
    const to = Math.min(bins - 1, Math.floor(hi));
    const weights = new Float64Array(Math.max(0, to - from + 1));
    for (let b = from; b <= to; b++) weights[b - from] = b <= mid ? (b - lo) / (mid - lo) : (hi - b) / (hi - mid);
    return { from, weights };
  });
}

/** In-place radix-2 complex FFT over `re`/`im` of FFT_SIZE. */
function fft(re: Float64Array, im: Float64Array, cos: Float64Array, sin: Float64Array): void {
  const n = re.length;
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      [re[i], re[j]] = [re[j]!, re[i]!];
      [im[i], im[j]] = [im[j]!, im[i]!];
    }
  }
  for (let len = 2; len <= n; len <<= 1) {
    const step = n / len;
    for (let i = 0; i < n; i += len) {
      for (let k = 0; k < len / 2; k++) {
        const c = cos[k * step]!;
        const s = sin[k * step]!;
        const a = i + k;
        const b = a + len / 2;
        const tr = re[b]! * c + im[b]! * s;
        const ti = im[b]! * c - re[b]! * s;
        re[b] = re[a]! - tr;
        im[b] = im[a]! - ti;
        re[a] = re[a]! + tr;
        im[a] = im[a]! + ti;
      }
    }
  }
}

/**
 * MFCCs over a stream of 16 kHz s16 PCM fed in any chunk sizes: 25 ms Hamming
 * windows every 10 ms, pre-emphasis 0.97, a 512-point FFT, 30 mel filters
 * (100-7600 Hz), log, DCT; c1..c19 kept. The same frames come out however the
 * audio is cut, so a file can be read in bounded chunks.
 */
export class MfccExtractor {
  private readonly hamming = Float64Array.from({ length: WINDOW }, (_, i) => 0.54 - 0.46 * Math.cos((2 * Math.PI * i) / (WINDOW - 1)));
  private readonly cos = Float64Array.from({ length: FFT_SIZE / 2 }, (_, k) => Math.cos((2 * Math.PI * k) / FFT_SIZE));
  private readonly sin = Float64Array.from({ length: FFT_SIZE / 2 }, (_, k) => Math.sin((2 * Math.PI * k) / FFT_SIZE));
  private readonly bank = melBank();
  private readonly dct = Float64Array.from({ length: MFCC_DIMS * MEL_FILTERS }, (_, i) => {
    const c = Math.floor(i / MEL_FILTERS) + 1;
    return Math.cos((Math.PI * c * ((i % MEL_FILTERS) + 0.5)) / MEL_FILTERS) * Math.sqrt(2 / MEL_FILTERS);
  });
  private readonly re = new Float64Array(FFT_SIZE);
  private readonly im = new Float64Array(FFT_SIZE);
  private readonly logMel = new Float64Array(MEL_FILTERS);
  /** Samples not yet consumed by a whole window; starts with the lead-in of frame 0. */
  private pending = new Float64Array(LEAD);
  /** The last raw sample seen, for pre-emphasis across chunks. */
  private previous = 0;

  /** The frames completed by `pcm`, in order. */
  push(pcm: Int16Array): Float32Array {
    const buf = new Float64Array(this.pending.length + pcm.length);
    buf.set(this.pending);
    for (let i = 0; i < pcm.length; i++) {
      buf[this.pending.length + i] = pcm[i]! - PRE_EMPHASIS * this.previous;
      this.previous = pcm[i]!;
    }
    const frames = buf.length < WINDOW ? 0 : Math.floor((buf.length - WINDOW) / FRAME_SAMPLES) + 1;
    const out = new Float32Array(frames * MFCC_DIMS);
    for (let f = 0; f < frames; f++) this.frame(buf, f * FRAME_SAMPLES, out, f * MFCC_DIMS);
    this.pending = buf.slice(frames * FRAME_SAMPLES);
    return out;
  }

  /** The frames left once the audio has ended: hops still owed, their windows completed with zeros. */
  flush(totalSamples: number, framesDone: number): Float32Array {
    const owed = Math.ceil(totalSamples / FRAME_SAMPLES) - framesDone;
    if (owed <= 0) return new Float32Array(0);
    return this.push(new Int16Array(Math.max(0, owed * FRAME_SAMPLES + WINDOW - FRAME_SAMPLES - this.pending.length))).subarray(0, owed * MFCC_DIMS);
  }

  private frame(buf: Float64Array, at: number, out: Float32Array, to: number): void {
    const { re, im } = this;
    for (let i = 0; i < WINDOW; i++) re[i] = buf[at + i]! * this.hamming[i]!;
    re.fill(0, WINDOW);
    im.fill(0);
    fft(re, im, this.cos, this.sin);
    for (let m = 0; m < MEL_FILTERS; m++) {
      const { from, weights } = this.bank[m]!;
      let e = 0;
      for (let b = 0; b < weights.length; b++) e += weights[b]! * (re[from + b]! * re[from + b]! + im[from + b]! * im[from + b]!);
      // Floor at about the power of one LSB of noise, so digital silence does not give -Infinity.
      this.logMel[m] = Math.log(e + 1);
    }
    for (let c = 0; c < MFCC_DIMS; c++) {
      let s = 0;
      for (let m = 0; m < MEL_FILTERS; m++) s += this.dct[c * MEL_FILTERS + m]! * this.logMel[m]!;
      out[to + c] = s;
    }
  }
}

/**
 * The MFCCs of a raw PCM file, one frame per 10 ms (ceil(samples / 160)),
 * read in 30 s chunks: only the features (a quarter of the PCM's size) are
 * held whole.
 */
export async function fileMfcc(audio: PcmAudio, signal?: AbortSignal): Promise<Features> {
  const frames = Math.ceil(audio.samples / FRAME_SAMPLES);
  const data = new Float32Array(frames * MFCC_DIMS);
  const extractor = new MfccExtractor();
  let done = 0;
  const take = (f: Float32Array): void => {
    const n = Math.min(f.length, data.length - done * MFCC_DIMS);
    data.set(f.subarray(0, n), done * MFCC_DIMS);
    done += n / MFCC_DIMS;
  };
  await forEachPcmChunk(audio, CHUNK_SAMPLES, (pcm) => take(extractor.push(pcm)), signal);
  take(extractor.flush(audio.samples, done));
  return { frames: done, dims: MFCC_DIMS, data: data.subarray(0, done * MFCC_DIMS) };
}
