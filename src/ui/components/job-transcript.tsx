import { useEffect, useRef, useState } from 'preact/hooks';
import { announce } from '../announce.js';
import { api, ApiError, jobUrls, type JobRevision, type JobView, type ResultFormat } from '../api.js';
import { baseName } from '../save-file.js';
import { ErrorNote } from './status.js';
import type { LineEdits } from './transcript-edit.js';
import { Transcript } from './transcript.js';

const DOWNLOADS: { format: ResultFormat; ext: string; label: string }[] = [
  { format: 'text', ext: 'txt', label: 'Text' },
  { format: 'json', ext: 'json', label: 'JSON' },
  { format: 'srt', ext: 'srt', label: 'SRT' },
  { format: 'vtt', ext: 'vtt', label: 'WebVTT' },
];

/** The page's own last edit, which one click takes back (or, once taken back, puts again). */
interface LastEdit {
  index: number;
  /** The text the button would store. */
  text: string;
  /** Only while the transcript is still at the revision that edit made. */
  revision: number;
  undo: boolean;
}

interface Props {
  job: JobView;
  result: JobRevision;
  /** The job page keeps the result: a save or a reload gives it the new one. */
  onResult: (result: JobRevision) => void;
  onSeek: ((seconds: number) => void) | undefined;
  player: { current: HTMLAudioElement | null };
  names: Readonly<Record<string, string>>;
  hidden: ReadonlySet<string>;
}

function apiError(err: unknown): ApiError {
  return err instanceof ApiError ? err : new ApiError(0, 'CLIENT', String(err));
}

/**
 * A completed job's transcript with its lines edited in place, each save stored on the server
 * as the job's next revision (`PUT .../transcript` on the revision read, so no edit overwrites
 * another unseen). Once edited it says so, shows the engine's original on request, undoes the
 * page's last edit (as one more revision), and offers the original's downloads beside the
 * edited ones (which every plain download link gives).
 */
export function JobTranscript({ job, result, onResult, onSeek, player, names, hidden }: Props) {
  const [original, setOriginal] = useState<JobRevision | ApiError>();
  const [showOriginal, setShowOriginal] = useState(false);
  const [last, setLast] = useState<LastEdit>();
  const [undoError, setUndoError] = useState<ApiError>();
  const [undoing, setUndoing] = useState(false);
  /** The bar's first button: where the focus goes when the button it was on goes away. */
  const barButton = useRef<HTMLButtonElement>(null);
  const edited = result.revision > 0;

  useEffect(() => {
    if (showOriginal && (original === undefined || original instanceof ApiError)) api.result(job.id, 'original').then(setOriginal, (err: unknown) => setOriginal(apiError(err)));
  }, [showOriginal, job.id]);

  /**
   * Saves one line on the revision shown, and shows the new revision with `last` (what Undo
   * would store) in one render: a render between them would drop the Undo button and its focus.
   */
  const store = async (index: number, text: string, undo: boolean): Promise<void> => {
    const before = result.segments[index]?.text;
    const edit = await api.editTranscript(job.id, result.revision, [{ index, text }]);
    setLast(before === undefined ? undefined : { index, text: before, revision: edit.revision, undo });
    onResult({ ...result, ...edit.transcript, revision: edit.revision });
  };
  const edits: LineEdits = {
    save: async (index, text) => {
      await store(index, text, true);
      setUndoError(undefined);
      announce('Saved');
    },
    reload: async () => {
      const latest = await api.result(job.id);
      onResult(latest);
      setLast(undefined);
      return latest.revision;
    },
  };
  const undo = async (step: LastEdit) => {
    if (undoing) return;
    setUndoing(true);
    try {
      await store(step.index, step.text, !step.undo);
      setUndoError(undefined);
      announce(step.undo ? 'Edit undone' : 'Edit redone');
    } catch (err) {
      setUndoError(apiError(err));
    }
    setUndoing(false);
  };
  /** After an undo met someone else's edit: their version, without the page's Undo (it would undo theirs). */
  const reloadTheirs = async () => {
    try {
      const revision = await edits.reload();
      setUndoError(undefined);
      barButton.current?.focus();
      announce(`Reloaded revision ${revision}`);
    } catch (err) {
      setUndoError(apiError(err));
    }
  };
  const canUndo = last !== undefined && last.revision === result.revision && !showOriginal;

  return (
    <>
      {edited && (
        <div class="revision-bar">
          <p class="revision-note">{showOriginal ? 'Original · before any edit' : `Edited · revision ${result.revision}`}</p>
          <button
            ref={barButton}
            type="button"
            class="button button-small"
            onClick={() => {
              setShowOriginal(!showOriginal);
              announce(showOriginal ? `Showing the edited transcript, revision ${result.revision}` : 'Showing the original transcript');
            }}
          >
            {showOriginal ? 'Show the edited text' : 'Show the original'}
          </button>
          {canUndo && (
            // aria-disabled, not disabled: a disabled button drops the focus, and the button stays (Undo turns to Redo).
            <button type="button" class="button button-small" aria-disabled={undoing ? 'true' : undefined} onClick={() => void undo(last)}>
              {last.undo ? 'Undo last edit' : 'Redo'}
            </button>
          )}
        </div>
      )}
      {undoError?.code === 'REVISION_CONFLICT' ? (
        <ErrorNote title="Not saved." detail="Someone else edited the transcript since.">
          <button type="button" class="button button-small" onClick={() => void reloadTheirs()}>
            Reload their version
          </button>
        </ErrorNote>
      ) : (
        undoError !== undefined && <ErrorNote title="Not saved." detail={`${undoError.message} (${undoError.code})`} />
      )}
      {!showOriginal || !edited ? (
        <Transcript key="latest" result={result} onSeek={onSeek} player={player} names={names} hidden={hidden} edits={edits} />
      ) : original instanceof ApiError ? (
        <ErrorNote title="The original transcript cannot be loaded." detail={`${original.message} (${original.code})`} />
      ) : original === undefined ? (
        <p class="muted">Loading the original…</p>
      ) : (
        <Transcript key="original" result={original} onSeek={onSeek} player={player} names={names} hidden={hidden} />
      )}
      <div class="downloads" role="group" aria-label="Download the transcript">
        <span class="muted">Download:</span>
        {DOWNLOADS.map((d) => (
          <a key={d.format} class="button button-small" href={jobUrls.result(job.id, d.format)} download={`${baseName(job.file_name)}.${d.ext}`}>
            {d.label}
          </a>
        ))}
      </div>
      {edited && (
        <div class="downloads downloads-original" role="group" aria-label="Download the original transcript">
          <span class="muted">Original:</span>
          {DOWNLOADS.map((d) => (
            <a key={d.format} class="button button-small" href={jobUrls.result(job.id, d.format, 'original')} download={`${baseName(job.file_name)}.original.${d.ext}`}>
              {d.label}
              <span class="visually-hidden"> (original)</span>
            </a>
          ))}
        </div>
      )}
    </>
  );
}
