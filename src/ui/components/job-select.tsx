import { useEffect, useRef, useState } from 'preact/hooks';
import { announce } from '../announce.js';
import { ApiError, TERMINAL_STATUSES, type JobView, type ResultFormat } from '../api.js';
import { count } from '../format.js';
import { keptReason, manageApi, type DeleteAnswer } from '../manage-jobs.js';
import { saveFile } from '../save-file.js';
import { ConfirmDelete, useConfirmDialog } from './confirm-dialog.js';

/** What History says after an export or a deletion. */
export interface Notice {
  tone: 'done' | 'warn' | 'error';
  title: string;
  lines?: string[] | undefined;
  /** Focus goes to the notice: what it replaces (the selected rows, the bar's buttons) is gone. */
  focus?: boolean | undefined;
}

const FORMATS: { format: ResultFormat; label: string }[] = [
  { format: 'text', label: 'Text' },
  { format: 'srt', label: 'SRT' },
  { format: 'vtt', label: 'WebVTT' },
  { format: 'json', label: 'JSON' },
];

/** A few names, quoted: "“a.wav”, “b.wav” and 3 more". */
function names(jobs: readonly JobView[], most = 2): string {
  const shown = jobs.slice(0, most).map((j) => `“${j.file_name}”`);
  const rest = jobs.length - shown.length;
  return rest > 0 ? `${shown.join(', ')} and ${rest} more` : shown.length === 2 ? shown.join(' and ') : shown.join(', ');
}

function failure(err: unknown): ApiError {
  return err instanceof ApiError ? err : new ApiError(0, 'CLIENT', String(err));
}

/** What a deletion's answer means: those gone, and why each other was kept. */
function deletedNotice(answer: DeleteAnswer, asked: readonly JobView[]): Notice {
  const nameOf = (id: string) => asked.find((j) => j.id === id)?.file_name ?? id;
  const gone = answer.deleted.length === 0 ? 'No job was deleted.' : `Deleted ${count(answer.deleted.length, 'job')}.`;
  if (answer.kept.length === 0) return { tone: 'done', title: gone, focus: true };
  return {
    tone: 'warn',
    title: `${gone} ${count(answer.kept.length, 'job')} kept:`,
    lines: answer.kept.map((k) => keptReason(k.code, nameOf(k.id))),
    focus: true,
  };
}

interface Props {
  /** The jobs the list shows, and those of them selected. */
  shown: readonly JobView[];
  selected: readonly JobView[];
  onSelectAll: (all: boolean) => void;
  onClear: () => void;
  /** After an action: what to say, and whether jobs were deleted (the list is read again). */
  onDone: (notice: Notice, deleted: boolean) => void;
}

/**
 * Above the job table: "Select all shown", how many are selected, and what can be done with
 * them: export their transcripts as one ZIP in a chosen format, or delete them (asked first).
 * Only completed jobs have transcripts, and only ended ones can be deleted: the bar says so
 * before the server would refuse, and the server's answer has the last word.
 */
export function SelectionBar({ shown, selected, onSelectAll, onClear, onDone }: Props) {
  const all = useRef<HTMLInputElement>(null);
  const [format, setFormat] = useState<ResultFormat>('text');
  const [busy, setBusy] = useState<'export' | 'delete'>();
  const dialog = useConfirmDialog();
  const n = selected.length;
  const some = n > 0 && n < shown.length;
  const completed = selected.filter((j) => j.status === 'completed');
  const unfinished = selected.filter((j) => !TERMINAL_STATUSES.includes(j.status));

  useEffect(() => {
    if (all.current !== null) all.current.indeterminate = some;
  }, [some]);

  const exportZip = async () => {
    setBusy('export');
    try {
      const file = await manageApi.exportZip(completed.map((j) => j.id), format);
      saveFile(file.blob, file.name);
      const label = FORMATS.find((f) => f.format === format)?.label ?? format;
      announce(`Exported ${count(completed.length, 'transcript')}`);
      onDone({ tone: 'done', title: `Saved ${file.name}: ${count(completed.length, 'transcript')} as ${label}.` }, false);
    } catch (err) {
      const e = failure(err);
      const title =
        e.code === 'JOB_NOT_COMPLETED'
          ? 'The export was refused: a selected job is no longer completed, and only completed jobs have transcripts.'
          : 'The transcripts could not be exported.';
      onDone({ tone: 'error', title, lines: [`${e.message} (${e.code})`] }, false);
    }
    setBusy(undefined);
  };

  const remove = async () => {
    const asked = [...selected];
    setBusy('delete');
    try {
      const answer = await manageApi.removeMany(asked.map((j) => j.id));
      announce(answer.deleted.length === 0 ? 'Nothing deleted' : `Deleted ${count(answer.deleted.length, 'job')}`);
      onDone(deletedNotice(answer, asked), answer.deleted.length > 0);
    } catch (err) {
      const e = failure(err);
      onDone({ tone: 'error', title: 'The jobs could not be deleted.', lines: [`${e.message} (${e.code})`], focus: true }, false);
    }
    setBusy(undefined);
  };

  return (
    <div class="selection-bar" role="group" aria-label="Selected jobs">
      <label class="select-all">
        <input ref={all} type="checkbox" checked={n > 0 && n === shown.length} onChange={(e) => onSelectAll(e.currentTarget.checked)} />
        Select all shown
      </label>
      <span class="selection-count" aria-live="polite">
        {n === 0 ? 'None selected' : `${n} selected`}
      </span>
      {n > 0 && (
        <div class="selection-actions">
          <label for="export-format">Format</label>
          <select id="export-format" class="export-format" value={format} onChange={(e) => setFormat(e.currentTarget.value as ResultFormat)}>
            {FORMATS.map((f) => (
              <option key={f.format} value={f.format}>
                {f.label}
              </option>
            ))}
          </select>
          <button type="button" class="button button-small" disabled={busy !== undefined || completed.length === 0} onClick={() => void exportZip()}>
            {busy === 'export' ? 'Exporting…' : 'Export'}
          </button>
          <button type="button" class="button button-small button-danger" disabled={busy !== undefined} onClick={dialog.open}>
            {busy === 'delete' ? 'Deleting…' : 'Delete'}
          </button>
          <button type="button" class="button button-small button-quiet" onClick={onClear}>
            Clear selection
          </button>
        </div>
      )}
      {completed.length < n && (
        <p class="selection-hint muted small">
          {completed.length === 0
            ? 'Only completed jobs have transcripts to export; none of the selected is completed.'
            : `Only completed jobs have transcripts: the export leaves out ${count(n - completed.length, 'selected job')}.`}
        </p>
      )}
      <ConfirmDelete dialog={dialog} title={`Delete ${count(n, 'job')}?`} onConfirm={() => void remove()}>
        {`${names(selected)}: ${n === 1 ? 'its transcript, log and audio are' : 'their transcripts, logs and audio are'} deleted. This cannot be undone.`}
        {unfinished.length > 0 &&
          ` ${names(unfinished)} ${unfinished.length === 1 ? 'has' : 'have'} not finished and will be kept: stop ${unfinished.length === 1 ? 'it' : 'them'} on ${unfinished.length === 1 ? 'its page' : 'their pages'} first.`}
      </ConfirmDelete>
    </div>
  );
}
