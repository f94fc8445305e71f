import { useLayoutEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from '../api.js';
import { stamp } from '../format.js';
import type { Line } from '../transcript-nav.js';

/** What the transcript needs to edit its lines in place; the job page gives it (a sync result cannot be edited). */
export interface LineEdits {
  /** Stores a line's new text as the job's next revision; rejects with the API's error (409 REVISION_CONFLICT and all). */
  save(index: number, text: string): Promise<void>;
  /** Reads the job's latest revision again, after someone else's edit; answers its number. */
  reload(): Promise<number>;
}

/** The server's limit on one segment's text (MAX_SEGMENT_TEXT in src/jobs/transcript-edits.ts). */
const MAX_LINE_TEXT = 10_000;

/** What the server stores for a text: whitespace and line breaks folded to single spaces. */
function folded(text: string): string {
  return text.trim().replace(/\s+/g, ' ');
}

type Problem = { kind: 'empty' } | { kind: 'conflict'; latest: number | undefined } | { kind: 'reloaded'; revision: number } | { kind: 'failed'; message: string };

/** Why a save failed, in the words the editor shows. */
function problemOf(err: unknown): Problem {
  if (err instanceof ApiError && err.code === 'REVISION_CONFLICT') {
    const latest = err.details?.['latest_revision'];
    return { kind: 'conflict', latest: typeof latest === 'number' ? latest : undefined };
  }
  if (err instanceof ApiError) return { kind: 'failed', message: err.code === 'NETWORK' ? 'Not saved: the server cannot be reached. Try again.' : `Not saved: ${err.message} (${err.code})` };
  return { kind: 'failed', message: `Not saved: ${String(err)}` };
}

interface Props {
  line: Line;
  edits: LineEdits;
  /** Called when the editor is done, saved or not; the transcript then gives the line its focus back. */
  onClose: () => void;
}

/**
 * A line's text in a textarea, in the line's place: Enter (or Ctrl+Enter) saves, Escape cancels.
 * An empty text is refused here (the API would remove the line). When someone else edited the
 * transcript since it was read, nothing is saved: the draft stays in the box and Reload brings
 * their version, after which Save puts the draft over it knowingly.
 */
export function LineEditor({ line, edits, onClose }: Props) {
  const [draft, setDraft] = useState(line.text);
  const [saving, setSaving] = useState(false);
  const [problem, setProblem] = useState<Problem>();
  const opened = useRef(line.text);
  const area = useRef<HTMLTextAreaElement>(null);
  const id = `line-edit-${line.index}`;

  // Before paint: focus never rests on the document while the line and the editor swap places.
  useLayoutEffect(() => {
    const el = area.current;
    el?.focus();
    el?.setSelectionRange(el.value.length, el.value.length);
  }, []);

  const save = async () => {
    if (saving) return;
    const text = folded(draft);
    if (text === '') {
      setProblem({ kind: 'empty' });
      area.current?.focus();
      return;
    }
    // Nothing changed from what is stored now: no revision for it.
    if (text === line.text) {
      onClose();
      return;
    }
    setSaving(true);
    try {
      await edits.save(line.index, text);
      onClose();
      return;
    } catch (err) {
      setProblem(problemOf(err));
    }
    setSaving(false);
    area.current?.focus();
  };

  const reload = async () => {
    setSaving(true);
    try {
      setProblem({ kind: 'reloaded', revision: await edits.reload() });
    } catch (err) {
      setProblem({ kind: 'failed', message: `Not reloaded: ${err instanceof Error ? err.message : String(err)}` });
    }
    setSaving(false);
    area.current?.focus();
  };

  const message =
    problem === undefined ? undefined : problem.kind === 'empty' ? (
      'A line cannot be empty: type its words, or press Escape to keep it as it was.'
    ) : problem.kind === 'conflict' ? (
      <>
        Not saved: someone else edited this transcript{problem.latest === undefined ? '' : ` (it is now at revision ${problem.latest})`} since it was loaded here. Your text is still in the box.{' '}
        <button type="button" class="button button-small" disabled={saving} onClick={() => void reload()}>
          Reload their version
        </button>
      </>
    ) : problem.kind === 'reloaded' ? (
      line.text === opened.current ? (
        `Reloaded revision ${problem.revision}; this line was not changed there. Save to store your text.`
      ) : (
        `Reloaded revision ${problem.revision}. This line now reads: “${line.text}”. Save puts your text in its place; Escape keeps theirs.`
      )
    ) : (
      problem.message
    );
  const invalid = problem !== undefined && problem.kind !== 'reloaded';

  return (
    <form
      class="seg-editor"
      onSubmit={(e) => {
        e.preventDefault();
        void save();
      }}
    >
      <span class="seg-time">{stamp(line.start)}</span>
      <div class="seg-editor-body">
        <textarea
          ref={area}
          id={id}
          class="seg-input"
          rows={2}
          maxLength={MAX_LINE_TEXT}
          value={draft}
          readOnly={saving}
          aria-label={`Text of the line at ${stamp(line.start)}`}
          aria-invalid={invalid ? 'true' : undefined}
          aria-describedby={`${id}-keys${message === undefined ? '' : ` ${id}-note`}`}
          onInput={(e) => setDraft(e.currentTarget.value)}
          onKeyDown={(e) => {
            if (e.key === 'Escape') {
              e.preventDefault();
              e.stopPropagation();
              onClose();
            } else if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
              e.preventDefault();
              void save();
            }
          }}
        />
        <div class="seg-editor-actions">
          <button type="submit" class="button button-small button-primary" disabled={saving}>
            {saving ? 'Saving…' : 'Save'}
          </button>
          <button type="button" class="button button-small button-quiet" disabled={saving} onClick={onClose}>
            Cancel
          </button>
          <span id={`${id}-keys`} class="muted small">
            Enter saves, Escape cancels
          </span>
        </div>
        {message !== undefined && (
          <p id={`${id}-note`} class={invalid ? 'seg-editor-note seg-editor-error' : 'seg-editor-note'} role={invalid ? 'alert' : 'status'}>
            {message}
          </p>
        )}
      </div>
    </form>
  );
}
