import { useEffect, useRef, useState } from 'preact/hooks';
import { apiKey, askForKey, forgetApiKey, onKeyAsked, tryApiKey, type KeyAsk } from '../auth.js';

const INTRO: Record<KeyAsk, string> = {
  missing: 'This server needs an API key.',
  refused: 'The server refused the key this tab had: it is wrong or has been revoked.',
  change: 'Enter another key to use it instead, or forget this one: that also ends the browser sessions made with it.',
};

/**
 * Keeps Tab inside the dialog: a native modal makes the page inert but lets Tab leave for the
 * browser's own controls, from where the keyboard cannot come back to the only live content.
 */
function wrapTab(e: KeyboardEvent, dialog: HTMLDialogElement): void {
  const stops = [...dialog.querySelectorAll<HTMLElement>('input, button:not(:disabled)')];
  const first = stops[0];
  const last = stops.at(-1);
  const from = document.activeElement;
  const to = e.shiftKey ? (from === first ? last : undefined) : from === last ? first : undefined;
  if (to === undefined) return;
  e.preventDefault();
  to.focus();
}

/**
 * The API key dialog: opened by a 401 (then it stays until a key is accepted, since nothing
 * works without one) or by the header's "API key" button (then Escape or Cancel closes it).
 * A typed key is tried before it is kept, so a wrong one is reported here; an accepted or
 * forgotten key reloads the page, so nothing read with the old key stays on screen.
 */
export function KeyPrompt() {
  const dialog = useRef<HTMLDialogElement>(null);
  const input = useRef<HTMLInputElement>(null);
  const [why, setWhy] = useState<KeyAsk>();
  const [value, setValue] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const closable = why === 'change';

  useEffect(() => onKeyAsked(setWhy), []);
  useEffect(() => {
    if (why !== undefined && dialog.current?.open === false) dialog.current.showModal();
  }, [why]);

  const fail = (reason: string) => {
    setError(reason);
    setBusy(false);
    input.current?.focus();
    input.current?.select();
  };

  const submit = async () => {
    const key = value.trim();
    if (key === '') return fail('Enter the API key.');
    setBusy(true);
    const reason = await tryApiKey(key);
    if (reason === undefined) location.reload();
    else fail(reason);
  };

  const forget = async () => {
    setBusy(true);
    const reason = await forgetApiKey();
    if (reason === undefined) location.reload();
    else fail(reason);
  };

  return (
    <dialog
      ref={dialog}
      class="dialog key-dialog"
      aria-labelledby="key-title"
      aria-describedby="key-intro"
      onKeyDown={(e) => {
        if (e.key === 'Tab') wrapTab(e, e.currentTarget);
        // Refused here, Escape makes no close request at all (a refused cancel event is not always final).
        if (e.key === 'Escape' && !closable) e.preventDefault();
      }}
      onCancel={(e) => {
        if (!closable) e.preventDefault();
      }}
      onClose={() => {
        // A browser may close a modal on a repeated close request even when the cancel is refused.
        if (!closable) return dialog.current?.showModal();
        setWhy(undefined);
        setValue('');
        setError(undefined);
      }}
    >
      <form
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        <h2 id="key-title">{closable ? 'API key' : 'API key needed'}</h2>
        <p id="key-intro">
          {INTRO[why ?? 'missing']} The key is kept in this tab only, until it is closed.
        </p>
        <div class="field">
          <label for="api-key">API key</label>
          <input
            ref={input}
            id="api-key"
            type="password"
            autocomplete="off"
            spellcheck={false}
            value={value}
            aria-invalid={error !== undefined}
            aria-describedby={error === undefined ? undefined : 'key-error'}
            onInput={(e) => setValue(e.currentTarget.value)}
          />
          {error !== undefined && (
            <p id="key-error" class="key-error" role="alert">
              {error}
            </p>
          )}
        </div>
        <div class="dialog-actions">
          {closable && (
            <>
              <button type="button" class="button key-forget" disabled={busy} onClick={() => void forget()}>
                Forget key
              </button>
              <button type="button" class="button" onClick={() => dialog.current?.close()}>
                Cancel
              </button>
            </>
          )}
          <button type="submit" class="button button-primary" disabled={busy}>
            {closable ? 'Change key' : 'Use this key'}
          </button>
        </div>
      </form>
    </dialog>
  );
}

/** The header's way to change or forget the key; shown only once the tab has one. */
export function KeyButton() {
  if (apiKey() === null) return null;
  return (
    <button type="button" class="button button-small key-button" aria-haspopup="dialog" onClick={askForKey}>
      <svg class="key-icon" viewBox="0 0 24 24" aria-hidden="true" focusable="false">
        <circle cx="8" cy="15" r="4" />
        <path d="M11 12l9-9M17 6l3 3" />
      </svg>
      <span class="key-button-text">API key</span>
    </button>
  );
}
