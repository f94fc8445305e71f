import { useEffect, useRef, useState } from 'preact/hooks';

interface Props {
  query: string;
  onQuery: (query: string) => void;
  /** How many hits, and which is current (0-based). */
  hits: number;
  current: number;
  /** Moves to the next (+1) or previous (-1) hit, round the ends. */
  onStep: (by: 1 | -1) => void;
  /** Each answers the text to copy and what it is, in words ("6 lines"). */
  onCopyAll: () => Copy;
  onCopyTimed: () => Copy;
  /** The search box's id, one per transcript on the page. */
  id: string;
}

export interface Copy {
  text: string;
  what: string;
}

/**
 * The clipboard, or, where the page is served over plain HTTP from another machine (no Clipboard
 * API outside a secure context), the old copy command, which a click still allows.
 */
async function copyText(text: string): Promise<void> {
  if (window.isSecureContext && navigator.clipboard !== undefined) return navigator.clipboard.writeText(text);
  const before = document.activeElement;
  const area = document.createElement('textarea');
  area.value = text;
  area.setAttribute('readonly', '');
  area.className = 'visually-hidden';
  document.body.append(area);
  area.select();
  const done = document.execCommand('copy');
  area.remove();
  // The copy took focus to the textarea: back to the button that asked, not to the document.
  if (before instanceof HTMLElement) before.focus();
  if (!done) throw new Error('the browser refused to copy');
}

/** "Copied 6 lines", or why not; the words stay a few seconds, in a status region a screen reader reads. */
export function useCopy(): [string, (take: () => Copy) => void] {
  const [note, setNote] = useState('');
  const timer = useRef(0);
  useEffect(() => () => window.clearTimeout(timer.current), []);
  const copy = (take: () => Copy) => {
    const { text, what } = take();
    copyText(text).then(
      () => setNote(`Copied ${what}`),
      (err: unknown) => setNote(`Not copied: ${err instanceof Error ? err.message : String(err)}`),
    );
    window.clearTimeout(timer.current);
    timer.current = window.setTimeout(() => setNote(''), 4000);
  };
  return [note, copy];
}

/**
 * Above the transcript: search (Enter for the next hit, Shift+Enter for the previous, Escape
 * clears) with "n of m", and the two copy buttons. "Copy with times" keeps the reader's selection:
 * its mousedown does not take focus, which would clear it.
 */
export function TranscriptTools({ query, onQuery, hits, current, onStep, onCopyAll, onCopyTimed, id }: Props) {
  const [note, copy] = useCopy();
  return (
    <div class="transcript-tools">
      <div class="transcript-search" role="search">
        <label for={id} class="visually-hidden">
          Search the transcript
        </label>
        <input
          id={id}
          type="search"
          class="transcript-query"
          placeholder="Search the transcript"
          autocomplete="off"
          value={query}
          onInput={(e) => onQuery(e.currentTarget.value)}
          onKeyDown={(e) => {
            if (e.key !== 'Enter') return;
            e.preventDefault();
            onStep(e.shiftKey ? -1 : 1);
          }}
        />
        <span class="hit-count muted small" role="status">
          {query.trim() === '' ? '' : hits === 0 ? 'No matches' : `${current + 1} of ${hits}`}
        </span>
        <button type="button" class="button button-small" disabled={hits === 0} onClick={() => onStep(-1)}>
          <span aria-hidden="true">↑</span>
          <span class="visually-hidden">Previous match</span>
        </button>
        <button type="button" class="button button-small" disabled={hits === 0} onClick={() => onStep(1)}>
          <span aria-hidden="true">↓</span>
          <span class="visually-hidden">Next match</span>
        </button>
      </div>
      <div class="transcript-copy">
        <button type="button" class="button button-small" onClick={() => copy(onCopyAll)}>
          Copy all
        </button>
        <button type="button" class="button button-small" onMouseDown={(e) => e.preventDefault()} onClick={() => copy(onCopyTimed)}>
          Copy with times
        </button>
        <span class="copy-note muted small" role="status">
          {note}
        </span>
      </div>
    </div>
  );
}
