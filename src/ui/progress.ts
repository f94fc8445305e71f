/**
 * What a running job's log says about its progress: how much audio is decoded, how fast, and the
 * text decoded so far. Pure functions over the log's lines ("<ISO time> <message>", as the SSE
 * stream sends them), so the page needs no other source while a job runs. The messages are the
 * job runner's (src/jobs/runner.ts) and the engines' (`engine: utterance 3/9 (12.0-15.3 s): …`).
 */

/** Audio seconds decoded by a server time (ms since the epoch, the log's own clock). */
export interface Sample {
  at: number;
  decoded: number;
}

/** One decoded segment, as the runner logs it (`segment 12.0-15.3 s: text`). */
export interface PartialSegment {
  start: number;
  end: number;
  text: string;
}

export interface LogProgress {
  /** The current attempt's first sample: when its utterances were planned, or its decoder started (0 s decoded). */
  first: Sample | undefined;
  /** The latest figure of audio decoded, by the current attempt. */
  last: Sample | undefined;
  /** The audio's length as the runner's progress lines state it. */
  total: number | undefined;
  /** The current attempt's segments, in order. */
  segments: PartialSegment[];
}

const NUM = String.raw`(\d+(?:\.\d+)?)`;
const ATTEMPT = /^attempt \d+ started\b/;
const STARTED = /^decoding in process \d+$/;
/** src/audio/utterances.ts, once the file's utterances are planned: decoding proper starts here. */
const PLANNED = /^engine: VAD [\w-]+: speech \d+(?:\.\d+)? s of \d+(?:\.\d+)? s in \d+ utterance\(s\)$/;
const PROGRESS = new RegExp(String.raw`^progress \d+% \(${NUM} of ${NUM} s\)$`);
const UTTERANCE = new RegExp(String.raw`^engine: utterance \d+/\d+ \(${NUM}-${NUM} s\)`);
const SEGMENT = new RegExp(String.raw`^segment ${NUM}-${NUM} s: (.*)$`);

/** Reads the lines of a job's log; a new attempt starts afresh (its segments replace the last one's). */
export function readJobLog(lines: readonly string[]): LogProgress {
  let p: LogProgress = { first: undefined, last: undefined, total: undefined, segments: [] };
  const decodedAt = (at: number, decoded: number) => {
    // Each figure counts from the file's start; a smaller one (a segment ending inside its utterance) adds nothing.
    if (p.last !== undefined && decoded <= p.last.decoded) return;
    p.last = { at, decoded };
    p.first ??= p.last;
  };
  for (const line of lines) {
    const space = line.indexOf(' ');
    const at = Date.parse(line.slice(0, space));
    if (space < 0 || Number.isNaN(at)) continue;
    const msg = line.slice(space + 1);
    let m: RegExpExecArray | null;
    if (ATTEMPT.test(msg)) p = { first: undefined, last: undefined, total: p.total, segments: [] };
    // The rate counts from the utterances' planning when the log has it: running the VAD over the
    // whole file first is a fixed cost, which would make a long job's first estimate far too long.
    else if (STARTED.test(msg) || (PLANNED.test(msg) && (p.last?.decoded ?? 0) === 0)) p.first = p.last = { at, decoded: 0 };
    else if ((m = PROGRESS.exec(msg)) !== null) {
      p.total = Number(m[2]);
      decodedAt(at, Number(m[1]));
    } else if ((m = UTTERANCE.exec(msg)) !== null) decodedAt(at, Number(m[2]));
    else if ((m = SEGMENT.exec(msg)) !== null) {
      p.segments.push({ start: Number(m[1]), end: Number(m[2]), text: m[3]! });
      decodedAt(at, Number(m[2]));
    }
  }
  return p;
}

/** Decoding shorter than this gives no estimate: the first utterance's rate says little (VAD, warm-up). */
export const MIN_ESTIMATE_MS = 3000;
/** An estimate beyond this is not one worth showing (a stalled decoder, a clock gone wrong). */
const MAX_ESTIMATE_SECONDS = 24 * 3600;

/**
 * Seconds of work left at `serverNow`, from the decode rate since `first`; undefined while there is
 * too little to go on, or when the answer would be absurd. Never negative: a job past its estimate
 * has 0 s left until its next figure comes.
 */
export function timeLeft(first: Sample | undefined, last: Sample | undefined, total: number, serverNow: number): number | undefined {
  if (first === undefined || last === undefined) return undefined;
  const elapsedMs = last.at - first.at;
  const done = last.decoded - first.decoded;
  if (elapsedMs < MIN_ESTIMATE_MS || done <= 0 || !(total > 0)) return undefined;
  const atLast = ((total - last.decoded) * elapsedMs) / done / 1000;
  const left = atLast - Math.max(0, serverNow - last.at) / 1000;
  if (!Number.isFinite(left) || atLast > MAX_ESTIMATE_SECONDS) return undefined;
  return Math.max(0, left);
}
