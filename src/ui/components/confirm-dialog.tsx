import type { ComponentChildren, RefObject } from 'preact';
import { useId, useRef } from 'preact/hooks';

/** A modal confirmation opened by `open()`; its first button (focused) keeps, like Escape. */
export interface ConfirmDialog {
  open(): void;
  ref: RefObject<HTMLDialogElement | null>;
}

/** The dialog `ConfirmDelete` draws, and how to open it. */
export function useConfirmDialog(): ConfirmDialog {
  const ref = useRef<HTMLDialogElement>(null);
  return {
    ref,
    open: () => {
      if (ref.current === null) return;
      // A dialog keeps its last returnValue: an earlier "delete" must not count for an Escape now.
      ref.current.returnValue = '';
      ref.current.showModal();
    },
  };
}

/**
 * Asks before a deletion: a modal <dialog> whose first button, focused, keeps ("Keep it",
 * or Escape) and whose second calls `onConfirm`.
 */
export function ConfirmDelete({ dialog, title, children, onConfirm }: { dialog: ConfirmDialog; title: string; children: ComponentChildren; onConfirm: () => void }) {
  const id = useId();
  return (
    <dialog
      ref={dialog.ref}
      class="dialog"
      aria-labelledby={`${id}-title`}
      aria-describedby={`${id}-desc`}
      onClose={() => {
        if (dialog.ref.current?.returnValue === 'delete') onConfirm();
      }}
    >
      <form method="dialog">
        <h2 id={`${id}-title`}>{title}</h2>
        <p id={`${id}-desc`}>{children}</p>
        <div class="dialog-actions">
          <button type="submit" value="keep" class="button" autofocus>
            Keep it
          </button>
          <button type="submit" value="delete" class="button button-danger">
            Delete
          </button>
        </div>
      </form>
    </dialog>
  );
}
