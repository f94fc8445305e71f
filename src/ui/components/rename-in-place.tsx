import type { RefObject } from 'preact';
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';

/** A name edited in its place: the field's state, and the Rename button that opens it and gets the focus back. */
export interface RenameEdit {
  editing: boolean;
  draft: string;
  setDraft: (draft: string) => void;
  saving: boolean;
  error: string | undefined;
  input: RefObject<HTMLInputElement | null>;
  button: RefObject<HTMLButtonElement | null>;
  /** Opens the field with this text in it, selected. */
  open: (draft: string) => void;
  /** Closes the field unsaved; focus goes back to Rename. */
  stop: () => void;
  submit: () => Promise<void>;
}

/**
 * One behaviour for every rename on the page (a job in History and on its page, a speaker):
 * Enter saves, Escape cancels, focus goes back to Rename either way; a refusal is shown under the
 * field and focus stays in it. `save` stores the trimmed text and rejects with the words to show.
 */
export function useRenameInPlace(save: (text: string) => Promise<void>): RenameEdit {
  const [editing, setEditing] = useState(false);
  const [draft, setDraft] = useState('');
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState<string>();
  const input = useRef<HTMLInputElement>(null);
  const button = useRef<HTMLButtonElement>(null);
  const refocus = useRef(false);

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
  const submit = async () => {
    if (saving) return;
    setSaving(true);
    setError(undefined);
    try {
      await save(draft.trim());
      stop();
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    }
    setSaving(false);
  };
  const open = (text: string) => {
    setDraft(text);
    setEditing(true);
  };
  return { editing, draft, setDraft, saving, error, input, button, open, stop, submit };
}

interface FieldProps {
  edit: RenameEdit;
  /** The field's accessible name ("New name for notes.wav"). */
  label: string;
  maxLength: number;
  placeholder?: string | undefined;
  /** Unique on the page: the error's id. */
  id: string;
  /** The form's, the input's and the error's classes (each place lays the field out its own way). */
  classes: { form: string; input: string; error: string };
}

/** The field of a rename in place, with Save and Cancel. */
export function RenameField({ edit, label, maxLength, placeholder, id, classes }: FieldProps) {
  const errorId = `${id}-error`;
  return (
    <form
      class={classes.form}
      onSubmit={(e) => {
        e.preventDefault();
        void edit.submit();
      }}
    >
      <input
        ref={edit.input}
        type="text"
        class={classes.input}
        value={edit.draft}
        maxLength={maxLength}
        placeholder={placeholder}
        aria-label={label}
        aria-invalid={edit.error === undefined ? undefined : 'true'}
        aria-describedby={edit.error === undefined ? undefined : errorId}
        // Read-only, not disabled, while saving: a disabled field drops the focus.
        readOnly={edit.saving}
        onInput={(e) => edit.setDraft(e.currentTarget.value)}
        onKeyDown={(e) => {
          if (e.key === 'Escape') {
            // The field's Escape, not the page's: nothing else closes under it.
            e.preventDefault();
            e.stopPropagation();
            edit.stop();
          }
        }}
      />
      <button type="submit" class="button button-small button-primary" disabled={edit.saving}>
        {edit.saving ? 'Saving…' : 'Save'}
      </button>
      <button type="button" class="button button-small button-quiet" onClick={edit.stop} disabled={edit.saving}>
        Cancel
      </button>
      {edit.error !== undefined && (
        <p id={errorId} class={classes.error} role="alert">
          {edit.error}
        </p>
      )}
    </form>
  );
}
