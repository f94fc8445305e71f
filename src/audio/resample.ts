/**
 * Kaiser window shape: 80 dB of stop-band rejection, far below what 16-bit
 * speech audio and the decoders' own noise floor notice.
 */
const KAISER_BETA = 8;
/** Filter taps per output phase: with the cut-off below, a transition band of about 1.9 kHz at 24 -> 16 kHz. */
const TAPS_PER_PHASE = 64;
/** The pass band ends here, as a fraction of the lower rate: just under its Nyquist frequency. */
const CUTOFF = 0.475;
/** The largest up-sampling factor (once the two rates are reduced): the filter has this many phases. */
const MAX_UP = 32;

/**
 * A streaming rational resampler for 16-bit mono PCM (e.g. OpenAI Realtime's
 * 24 kHz `audio/pcm`, or G.711's 8 kHz, to hark's 16 kHz): up by L, a
 * Kaiser-windowed sinc low-pass, down by M, as one polyphase filter. Samples
 * may arrive in pieces of any size: the output of many `push`es is the same
 * as one `push` of everything (the filter keeps its history), so a client's
 * chunking never changes what the engine hears. It delays the audio by half
 * the filter (about 1.3 ms at 24 -> 16 kHz); nothing is held back beyond what
 * the next output sample needs.
 */
export class PcmResampler {
  private readonly up: number;
  private readonly down: number;
  /** `phases[p][j]`: the tap applied to input sample `n - j` for an output at up-sampled position `n * up + p`. */
  private readonly phases: Float64Array[];
  /** The last TAPS_PER_PHASE - 1 input samples (zeros before the first). */
  private history: Float64Array;
  /** Up-sampled position of the next output, counted from the first sample of the next `push`. */
  private next = 0;

  constructor(
    readonly inRate: number,
    readonly outRate: number,
  ) {
    if (!Number.isInteger(inRate) || !Number.isInteger(outRate) || inRate <= 0 || outRate <= 0) throw new RangeError(`bad rates ${inRate} -> ${outRate}`);
    const g = gcd(inRate, outRate);
    this.up = outRate / g;
    this.down = inRate / g;
    if (this.up > MAX_UP) throw new RangeError(`${inRate} -> ${outRate} Hz needs ${this.up} filter phases; at most ${MAX_UP}`);
    this.phases = lowPassPhases(this.up, (CUTOFF * Math.min(inRate, outRate)) / (inRate * this.up));
    this.history = new Float64Array(TAPS_PER_PHASE - 1);
  }

  /** How many output samples `samples` more input samples give (the exact count of the next `push`). */
  outputLength(samples: number): number {
    const available = samples * this.up - 1; // the last up-sampled position these samples reach
    return available < this.next ? 0 : Math.floor((available - this.next) / this.down) + 1;
  }

  /** Resamples the next input samples; returns the output samples they complete. */
  push(input: Int16Array): Int16Array {
    if (this.up === this.down) return input.slice();
    const keep = this.history.length;
    const buf = new Float64Array(keep + input.length);
    buf.set(this.history, 0);
    for (let i = 0; i < input.length; i++) buf[keep + i] = input[i]!;
    const out = new Int16Array(this.outputLength(input.length));
    for (let k = 0; k < out.length; k++, this.next += this.down) {
      const n = Math.floor(this.next / this.up);
      const taps = this.phases[this.next - n * this.up]!;
      let acc = 0;
      // Input sample n - j sits at buf[keep + n - j].
      for (let j = 0, at = keep + n; j < taps.length; j++, at--) acc += taps[j]! * buf[at]!;
      out[k] = acc >= 32767 ? 32767 : acc <= -32768 ? -32768 : Math.round(acc);
    }
    this.history = buf.slice(buf.length - keep);
    this.next -= input.length * this.up;
    return out;
  }
}

/** The low-pass filter (cut-off `fc` as a fraction of the up-sampled rate, gain `up`), split into its `up` phases. */
function lowPassPhases(up: number, fc: number): Float64Array[] {
  const n = TAPS_PER_PHASE * up;
  const centre = (n - 1) / 2;
  const norm = besselI0(KAISER_BETA);
  const phases = Array.from({ length: up }, () => new Float64Array(TAPS_PER_PHASE));
  for (let i = 0; i < n; i++) {
    const t = i - centre;
    const x = 2 * fc * t;
    const sinc = x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x);
    const r = t / centre;
    const window = besselI0(KAISER_BETA * Math.sqrt(Math.max(0, 1 - r * r))) / norm;
    phases[i % up]![Math.floor(i / up)] = up * 2 * fc * sinc * window;
  }
  return phases;
}

/** The modified Bessel function of the first kind, order 0 (its series converges fast for the Kaiser window's arguments). */
function besselI0(x: number): number {
  let sum = 1;
  let term = 1;
  for (let k = 1; k < 50 && term > 1e-12 * sum; k++) {
    term *= (x / (2 * k)) ** 2;
    sum += term;
  }
  return sum;
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}
