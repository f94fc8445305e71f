import { useLayoutEffect, useMemo, useRef } from 'preact/hooks';
import type { JobView } from '../api.js';
import { count, decodedOf, percent, roughly, stamp } from '../format.js';
import { useNow } from '../hooks.js';
import { readJobLog, timeLeft, type PartialSegment, type Sample } from '../progress.js';

/** A running job's progress as the page shows it. */
export interface JobProgressState {
  /** Audio seconds decoded so far. */
  decoded: number;
  /** The audio's length, when known. */
  total: number | undefined;
  /** 0-1 while the job runs and its length is known (the bar is indeterminate otherwise). */
  fraction: number | undefined;
  /** The current attempt's first and latest figures, which the time left is reckoned from. */
  first: Sample | undefined;
  last: Sample | undefined;
  /** How far this browser's clock is ahead of the server's, in ms. */
  clockOffset: number;
  /** The text decoded so far, utterance by utterance. */
  segments: PartialSegment[];
}

/**
 * How far this browser's clock is ahead of the server's, in ms: the smallest gap seen between a line's
 * arrival and the time stamped on it. Lines replayed on connect arrive late and give larger gaps, so the
 * smallest is the one that arrived as it was written.
 */
function useServerOffset(lines: readonly string[]): number {
  const offset = useRef<number | undefined>(undefined);
  const newest = useRef<string | undefined>(undefined);
  const line = lines[lines.length - 1];
  if (line !== undefined && line !== newest.current) {
    newest.current = line;
    const at = Date.parse(line.slice(0, line.indexOf(' ')));
    if (!Number.isNaN(at)) offset.current = Math.min(offset.current ?? Infinity, Date.now() - at);
  }
  return offset.current ?? 0;
}

/**
 * Reads a running job's progress from its view (polled each second; undefined until loaded) and its
 * log (live): the log's figures are fresher, the view's count when the log's early lines are gone (a
 * page opened late on a long job keeps only its last 5000 lines).
 */
export function useJobProgress(job: JobView | undefined, lines: readonly string[]): JobProgressState {
  const log = useMemo(() => readJobLog(lines), [lines]);
  const clockOffset = useServerOffset(lines);
  const total = job?.duration_seconds ?? log.total;
  const decoded = Math.max(log.last?.decoded ?? 0, total === undefined ? 0 : (job?.progress ?? 0) * total);
  const fraction = job?.status !== 'running' || total === undefined || total <= 0 ? undefined : Math.min(1, decoded / total);
  return { decoded, total, fraction, first: log.first, last: log.last, clockOffset, segments: log.segments };
}

/** "22 of 47 s decoded (46 %) · about 25 s left" for a running job; for a queued one, that it waits. */
export function JobProgress({ job, progress }: { job: JobView; progress: JobProgressState }) {
  // Ticks each second here (not on the whole page), so the estimate counts down between the log's figures.
  const now = useNow(1000);
  if (job.status !== 'running') return <span class="muted">Waiting for a free engine</span>;
  const { decoded, total, fraction } = progress;
  const left = total === undefined ? undefined : timeLeft(progress.first, progress.last, total, now - progress.clockOffset);
  return (
    <span class="muted job-progress">
      <span data-progress="decoded">
        {total === undefined ? `${Math.floor(decoded)}\u00a0s decoded` : decodedOf(decoded, total)}
        {fraction !== undefined && ` (${percent(fraction)})`}
      </span>
      <span data-progress="left">{fraction === 1 ? 'finishing…' : left === undefined ? 'time left: estimating…' : `${roughly(left)} left`}</span>
    </span>
  );
}

/**
 * The transcript so far, utterance by utterance, until the final one replaces it. Follows the newest
 * utterance unless the reader has scrolled up to read an earlier one.
 */
export function PartialTranscript({ segments }: { segments: readonly PartialSegment[] }) {
  const box = useRef<HTMLOListElement>(null);
  const following = useRef(true);

  useLayoutEffect(() => {
    if (following.current && box.current !== null) box.current.scrollTop = box.current.scrollHeight;
  }, [segments.length]);

  if (segments.length === 0) return <p class="muted">The transcript appears here, utterance by utterance, as the job runs.</p>;
  return (
    <>
      <p class="meta-line">
        So far: {count(segments.length, 'utterance')}, up to {stamp(segments[segments.length - 1]!.end)}. The final transcript replaces it when the job completes.
      </p>
      <ol
        ref={box}
        class="segments partial-transcript"
        aria-label="Transcript so far"
        tabIndex={0}
        onScroll={(e) => {
          const el = e.currentTarget;
          following.current = el.scrollHeight - el.scrollTop - el.clientHeight < 8;
        }}
      >
        {segments.map((s, i) => (
          <li key={i}>
            <div class="seg">
              <span class="seg-time">{stamp(s.start)}</span>
              <span class="partial-text">{s.text}</span>
            </div>
          </li>
        ))}
      </ol>
    </>
  );
}
