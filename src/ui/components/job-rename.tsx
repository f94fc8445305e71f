import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { announce } from '../announce.js';
import { ApiError, type JobView } from '../api.js';
import { manageApi } from '../manage-jobs.js';
import { href } from '../router.js';

/** What a refused name means to the user; the server's words follow it. */
function renameError(err: unknown): string {
  if (!(err instanceof ApiError)) return String(err);
  if (err.code === 'INVALID_REQUEST') return 'A name is 1 to 255 characters on one line, without “/” or “\\”.';
  if (err.code === 'JOB_NOT_FOUND') return 'This job no longer exists: it was deleted.';
  return `The name could not be saved: ${err.message} (${err.code})`;
}

/**
 * A job's file name, a link to its page, with a Rename button; or the field that edits
 * the name in its place (Enter saves, Escape cancels, focus back on Rename either way).
 * The name saved shows at once, until the list's next poll brings it from the server.
 */
export function JobName({ job, onRenamed }: { job: JobView; onRenamed: () => void }) {
  const [editing, setEditing] = useState(false);
  const [draft, setDraft] = useState('');
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState<string>();
  const [saved, setSaved] = useState<string>();
  const input = useRef<HTMLInputElement>(null);
  const button = useRef<HTMLButtonElement>(null);
  const refocus = useRef(false);
  const name = saved ?? job.file_name;

  useEffect(() => setSaved(undefined), [job.file_name]);
  // A refused name: back to the field (a click on Save, disabled while saving, left focus nowhere).
  useEffect(() => {
    if (error !== undefined) input.current?.focus();
  }, [error]);
  // Before paint: no frame shows focus on the document while the name and the field swap places.
  useLayoutEffect(() => {
    if (editing) input.current?.select();
    else if (refocus.current) button.current?.focus();
    refocus.current = false;
  }, [editing]);

  const stop = () => {
    refocus.current = true;
    setEditing(false);
    setError(undefined);
  };
  const save = async () => {
    const next = draft.trim();
    if (next === name) return stop();
    setSaving(true);
    setError(undefined);
    try {
      setSaved((await manageApi.rename(job.id, next)).file_name);
      announce(`Renamed to ${next}`);
      stop();
      onRenamed();
    } catch (err) {
      setError(renameError(err));
    }
    setSaving(false);
  };

  if (!editing) {
    return (
      <span class="job-name">
        <a href={href.job(job.id)}>{name}</a>
        <button
          ref={button}
          type="button"
          class="button button-small button-quiet job-rename"
          onClick={() => {
            setDraft(name);
            setEditing(true);
          }}
        >
          Rename<span class="visually-hidden"> {name}</span>
        </button>
      </span>
    );
  }
  const errorId = `rename-error-${job.id}`;
  return (
    <form
      class="job-name-edit"
      onSubmit={(e) => {
        e.preventDefault();
        void save();
      }}
    >
      <input
        ref={input}
        type="text"
        class="job-name-input"
        value={draft}
        maxLength={255}
        aria-label={`New name for ${name}`}
        aria-invalid={error === undefined ? undefined : 'true'}
        aria-describedby={error === undefined ? undefined : errorId}
        readOnly={saving}
        onInput={(e) => setDraft(e.currentTarget.value)}
        onKeyDown={(e) => {
          if (e.key === 'Escape') {
            // The field's Escape, not the page's: nothing else closes under it.
            e.preventDefault();
            e.stopPropagation();
            stop();
          }
        }}
      />
      <button type="submit" class="button button-small button-primary" disabled={saving}>
        {saving ? 'Saving…' : 'Save'}
      </button>
      <button type="button" class="button button-small button-quiet" onClick={stop} disabled={saving}>
        Cancel
      </button>
      {error !== undefined && (
        <p id={errorId} class="job-name-error" role="alert">
          {error}
        </p>
      )}
    </form>
  );
}
