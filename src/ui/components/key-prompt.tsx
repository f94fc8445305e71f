import { useEffect, useState } from 'preact/hooks';
import { apiKey, onKeyRefused, setApiKey } from '../auth.js';

/** Shown when the server refuses a request with 401: asks for an API key, then reloads with it. */
export function KeyPrompt() {
  const [open, setOpen] = useState(false);
  const [value, setValue] = useState('');
  useEffect(() => onKeyRefused(() => setOpen(true)), []);
  if (!open) return null;
  return (
    <form
      class="key-prompt"
      aria-labelledby="key-prompt-title"
      onSubmit={(e) => {
        e.preventDefault();
        if (value.trim() === '') return;
        setApiKey(value.trim());
        location.reload();
      }}
    >
      <h2 id="key-prompt-title">API key needed</h2>
      <p>{apiKey() === null ? 'This server needs an API key.' : 'The server refused this API key (wrong or revoked).'} It is kept in this tab only.</p>
      <div class="field">
        <label for="api-key">API key</label>
        <input id="api-key" type="password" autocomplete="off" value={value} onInput={(e) => setValue(e.currentTarget.value)} autofocus />
      </div>
      <button type="submit" class="button">
        Use this key
      </button>
    </form>
  );
}
