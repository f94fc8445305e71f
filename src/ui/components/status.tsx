import type { ComponentChildren } from 'preact';
import type { JobStatus } from '../api.js';

const LABELS: Record<JobStatus, string> = {
  queued: 'Queued',
  running: 'Running',
  completed: 'Completed',
  failed: 'Failed',
  cancelled: 'Cancelled',
};

/** A job's status as a word with a coloured dot; the word carries the meaning, never the colour alone. */
export function StatusBadge({ status }: { status: JobStatus }) {
  return (
    <span class={`badge badge-${status}`}>
      <span class="badge-dot" aria-hidden="true" />
      {LABELS[status]}
    </span>
  );
}

export function ProgressBar({ value, label }: { value: number | undefined; label: string }) {
  // An indeterminate <progress> (no value) while the size is unknown.
  return value === undefined ? <progress class="bar" aria-label={label} /> : <progress class="bar" aria-label={label} max={1} value={value} />;
}

/** An error box: what to do, then the server's own words, then what the user can do about it (`children`). */
export function ErrorNote({ title, detail, children }: { title: string; detail?: string | undefined; children?: ComponentChildren }) {
  return (
    <div class="note note-error" role="alert">
      <p class="note-title">{title}</p>
      {detail !== undefined && <p class="note-detail">{detail}</p>}
      {children}
    </div>
  );
}
