import { tally, type Clip, type WerTally } from '../../test/support/eval/index.js';
import { transcribeOverHttp } from './http.js';

/** One clip transcribed one way. */
export interface ClipRun extends WerTally {
  id: string;
  durationSeconds: number;
  text: string;
  /** Wall time the caller saw for this clip. */
  ms: number;
  /** The server's own processing_ms, when it went through HTTP. */
  serverMs?: number;
}

export function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

/** The per-key sums of `keys` over `items`: a set's totals of per-file tallies. */
export function sumFields<K extends string>(items: readonly Record<K, number>[], keys: readonly K[]): Record<K, number> {
  return Object.fromEntries(keys.map((k) => [k, sum(items.map((x) => x[k]))])) as Record<K, number>;
}

/** Scores a transcript against its clip. */
export function clipRun(clip: Clip, text: string, ms: number, serverMs?: number): ClipRun {
  return { id: clip.id, durationSeconds: clip.durationSeconds, text, ms, ...tally(clip.transcript, text), ...(serverMs === undefined ? {} : { serverMs }) };
}

/** POSTs the clips one after another (a clean real-time factor: one decode at a time). */
export async function httpSequential(url: string, clips: readonly Clip[]): Promise<ClipRun[]> {
  const runs: ClipRun[] = [];
  for (const clip of clips) {
    const { answer, ms } = await transcribeOverHttp(url, clip.path);
    runs.push(clipRun(clip, answer.text, ms, answer.processing_ms));
  }
  return runs;
}

/** POSTs the clips with `concurrency` requests in flight; `wallMs` is the whole set's wall time. */
export async function httpConcurrent(url: string, clips: readonly Clip[], concurrency: number): Promise<{ runs: ClipRun[]; wallMs: number }> {
  const runs: ClipRun[] = new Array<ClipRun>(clips.length);
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < clips.length; i = next++) {
        const clip = clips[i]!;
        const { answer, ms } = await transcribeOverHttp(url, clip.path);
        runs[i] = clipRun(clip, answer.text, ms, answer.processing_ms);
      }
    }),
  );
  return { runs, wallMs: performance.now() - started };
}
