import { useEffect, useId, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { JobResult } from '../api.js';
import { count, percent, span } from '../format.js';
import { speakerColour, speakerLabels, speakerName } from '../speakers.js';
import { findHits, NOWHERE, plainText, sameSpot, spotAt, step, timedText, transcriptLines, type Hit, type Line, type Spot } from '../transcript-nav.js';
import { LineEditor, type LineEdits } from './transcript-edit.js';
import { TranscriptLine } from './transcript-line.js';
import { TranscriptTools, type Copy } from './transcript-tools.js';

interface Props {
  result: JobResult;
  /** Given when the audio can be played: a click on a word plays from it, on a line (or Enter) from the line's start. */
  onSeek?: ((seconds: number) => void) | undefined;
  /** The page's player: followed frame by frame while it plays, since its timeupdate events come only about four times a second, slower than words go by. */
  player?: { current: HTMLAudioElement | null } | undefined;
  /** Names given to the speakers (label -> name); a diarized transcript shows them at each change. */
  names?: Readonly<Record<string, string>> | undefined;
  /** Speakers whose segments are left out (the job page's filter). */
  hidden?: ReadonlySet<string> | undefined;
  /** Given when the lines can be edited in place (a job's transcript, stored as a revision). */
  edits?: LineEdits | undefined;
}

const NONE: Readonly<Record<string, string>> = {};
const NO_HITS: readonly Hit[] = [];
const MEDIA_EVENTS = ['timeupdate', 'seeking', 'seeked', 'play', 'pause', 'ended', 'loadedmetadata'];

/** Where the player is among `lines`; the state changes only when the line or the word does. */
function usePlayhead(player: Props['player'], lines: readonly Line[]): Spot {
  const [spot, setSpot] = useState(NOWHERE);
  const last = useRef(NOWHERE);
  useEffect(() => {
    let frame = 0;
    const read = () => {
      const audio = player?.current;
      const next = audio === null || audio === undefined ? NOWHERE : spotAt(lines, audio.currentTime);
      if (sameSpot(next, last.current)) return;
      last.current = next;
      setSpot(next);
    };
    const tick = () => {
      read();
      frame = requestAnimationFrame(tick);
    };
    // Media events do not bubble; caught on their way down, they come from whichever <audio> the page has now.
    const onEvent = (e: Event) => {
      const audio = player?.current;
      if (audio === null || audio === undefined || e.target !== audio) return;
      cancelAnimationFrame(frame);
      read();
      if (!audio.paused && !audio.ended) frame = requestAnimationFrame(tick);
    };
    read();
    for (const type of MEDIA_EVENTS) document.addEventListener(type, onEvent, true);
    return () => {
      cancelAnimationFrame(frame);
      for (const type of MEDIA_EVENTS) document.removeEventListener(type, onEvent, true);
    };
  }, [player, lines]);
  return spot;
}

/**
 * Scrolls the transcript's own box (never the page) to `el`, a third of the way down so what
 * follows shows, and only when `el` is not already in view: a reader's scrolling is left alone
 * until the playhead leaves what they see.
 */
function reveal(box: HTMLElement | null, el: Element | null | undefined): void {
  if (box === null || el === null || el === undefined) return;
  const outer = box.getBoundingClientRect();
  const inner = el.getBoundingClientRect();
  if (inner.top >= outer.top && inner.bottom <= outer.bottom) return;
  const still = window.matchMedia('(prefers-reduced-motion: reduce)').matches;
  box.scrollTo({ top: box.scrollTop + inner.top - outer.top - outer.height / 3, behavior: still ? 'auto' : 'smooth' });
}

/** The lines a selection on the page touches, in order. */
function selectedLines(box: HTMLElement | null, lines: readonly Line[]): Line[] {
  const selection = document.getSelection();
  if (box === null || selection === null || selection.isCollapsed) return [];
  const ranges = Array.from({ length: selection.rangeCount }, (_, i) => selection.getRangeAt(i));
  return lines.filter((l) => {
    const li = box.querySelector(`[data-line="${l.index}"]`);
    return li !== null && ranges.some((r) => r.intersectsNode(li));
  });
}

/** The words a reader sees: an edited line has lost its engine's words (and their times), never its text. */
function wordCount(text: string): number {
  return text.split(/\s+/).filter((w) => w !== '').length;
}

/** What the screen reader says of a line after its text: how it is used from the keyboard. */
function keysHint(seekable: boolean, editable: boolean): string {
  const moves = 'Up and Down arrows move between lines';
  const edit = editable ? '; the Right arrow reaches its Edit button, and F2 edits it at once' : '';
  return seekable ? `Plays from here. ${moves}${edit}; a click on a word plays from that word.` : `${moves}${edit}.`;
}

/** Each line's hits and the overall number of its first. */
function hitsByLine(hits: readonly Hit[]): Map<number, { hits: Hit[]; first: number }> {
  const out = new Map<number, { hits: Hit[]; first: number }>();
  hits.forEach((h, i) => {
    const entry = out.get(h.line);
    if (entry === undefined) out.set(h.line, { hits: [h], first: i });
    else entry.hits.push(h);
  });
  return out;
}

/**
 * The transcript as a reader works in it. Text is rendered as text (Preact escapes it), never as
 * HTML. The line being heard is marked, and its word, and kept in view; search marks its hits
 * and steps through them; Copy takes the lines shown, or the selected ones with their times. The
 * list is one Tab stop (a roving tabindex): Up, Down, Home and End move between lines, Enter
 * plays from one. Diarized, each line carries its speaker's colour and the name heads each change.
 * Given `edits`, each line has an Edit button (Right arrow from the line, or F2) that puts its
 * text in a box in its place; closed, saved or not, focus goes back to the line.
 */
export function Transcript({ result, onSeek, player, names = NONE, hidden, edits }: Props) {
  const all = useMemo(() => transcriptLines(result), [result]);
  const lines = useMemo(() => (hidden === undefined || hidden.size === 0 ? all : all.filter((l) => l.speaker === undefined || !hidden.has(l.speaker))), [all, hidden]);
  const labels = useMemo(() => speakerLabels(result), [result]);
  const spot = usePlayhead(onSeek === undefined ? undefined : player, lines);
  const [query, setQuery] = useState('');
  const [hitAt, setHitAt] = useState(0);
  const hits = useMemo(() => findHits(lines, query), [lines, query]);
  const byLine = useMemo(() => hitsByLine(hits), [hits]);
  const current = hits.length === 0 ? -1 : Math.min(hitAt, hits.length - 1);
  const [cursor, setCursor] = useState(0);
  const box = useRef<HTMLOListElement>(null);
  // The upload view can show several transcripts at once: ids of their own.
  const id = useId();
  const tabStop = lines.some((l) => l.index === cursor) ? cursor : (lines[0]?.index ?? -1);
  // A result without segments is shown as one line the API has no index for: not editable.
  const editable = edits !== undefined && result.segments.length > 0;
  const [editing, setEditing] = useState<number>();
  const edited = lines.find((l) => l.index === editing);
  const refocus = useRef(-1);

  // Before paint, once the editor is gone: focus back on its line, never on the document.
  useLayoutEffect(() => {
    if (editing !== undefined || refocus.current < 0) return;
    box.current?.querySelector<HTMLElement>(`[data-line="${refocus.current}"] .seg`)?.focus();
    refocus.current = -1;
  }, [editing]);
  const closeEditor = () => {
    if (editing !== undefined) {
      refocus.current = editing;
      setCursor(editing);
    }
    setEditing(undefined);
  };

  // The playhead's line is kept in view, and is where Tab lands unless the reader is in the list.
  useEffect(() => {
    if (spot.line < 0) return;
    reveal(box.current, box.current?.querySelector(`[data-line="${spot.line}"]`));
    if (!(box.current?.contains(document.activeElement) ?? false)) setCursor(spot.line);
  }, [spot.line]);

  useEffect(() => {
    const hit = hits[current];
    if (hit === undefined) return;
    reveal(box.current, box.current?.querySelector(`mark[data-hit="${current}"]`));
    setCursor(hit.line);
  }, [hits, current]);

  const copyAll = (): Copy => ({ text: plainText(lines, names), what: lines.length === all.length ? 'the transcript' : `the ${count(lines.length, 'line')} shown` });
  // With nothing selected in the transcript, "Copy with times" takes every line shown.
  const copyTimed = (): Copy => {
    const picked = selectedLines(box.current, lines);
    return picked.length > 0 ? { text: timedText(picked, names), what: `${count(picked.length, 'line')} with times` } : { text: timedText(lines, names), what: 'the transcript with times' };
  };

  /** Right and Left arrows between a line and its Edit button, F2 to edit: true when the key was one of them. */
  const onEditKey = (e: KeyboardEvent, target: Element | null): boolean => {
    const li = target?.closest('[data-line]');
    const own = (selector: string) => li?.querySelector<HTMLElement>(selector);
    if (e.key === 'F2') setEditing(tabStop);
    else if (e.key === 'ArrowRight' && target?.matches('.seg') === true) own('.seg-edit')?.focus();
    else if (e.key === 'ArrowLeft' && target?.matches('.seg-edit') === true) own('.seg')?.focus();
    else return false;
    e.preventDefault();
    return true;
  };
  const onKeyDown = (e: KeyboardEvent) => {
    const target = e.target instanceof Element ? e.target : null;
    // The editor's own keys move its caret.
    if (e.altKey || e.ctrlKey || e.metaKey || e.shiftKey || (target?.closest('.seg-editor') ?? null) !== null) return;
    if (editable && edited === undefined && onEditKey(e, target)) return;
    const to = step(e.key, lines.findIndex((l) => l.index === tabStop), lines.length);
    if (to === undefined) return;
    e.preventDefault();
    const next = lines[to]!.index;
    setCursor(next);
    box.current?.querySelector<HTMLElement>(`[data-line="${next}"] .seg`)?.focus();
  };
  const onClick = (e: MouseEvent) => {
    const target = e.target instanceof Element ? e.target : null;
    const edit = target?.closest('button.seg-edit');
    if (edit !== null && edit !== undefined) {
      setEditing(Number(edit.closest('[data-line]')?.getAttribute('data-line')));
      return;
    }
    const seg = target?.closest('button.seg');
    const line = all[Number(seg?.closest('[data-line]')?.getAttribute('data-line'))];
    if (onSeek === undefined || seg === null || seg === undefined || line === undefined) return;
    // The end of a drag that selected text is no request to play.
    const selection = document.getSelection();
    if (selection !== null && !selection.isCollapsed && selection.containsNode(seg, true)) return;
    const word = target?.closest('[data-start]');
    onSeek(word === null || word === undefined ? line.start : Number(word.getAttribute('data-start')));
  };

  return (
    <div class="transcript">
      <p class="meta-line">
        {span(result.duration_seconds)} of audio · {count(wordCount(result.text), 'word')}
        {labels.length > 0 && <> · {count(labels.length, 'speaker')}</>}
        {result.confidence !== null && <> · confidence {percent(result.confidence)}</>} · {result.engine}, {result.isolation}
      </p>
      {result.text.trim() === '' ? (
        <p class="muted">No speech was recognised.</p>
      ) : (
        <>
          <TranscriptTools
            query={query}
            onQuery={(q) => {
              setQuery(q);
              setHitAt(0);
            }}
            hits={hits.length}
            current={current}
            onStep={(by) => setHitAt((current + by + hits.length) % hits.length)}
            onCopyAll={copyAll}
            onCopyTimed={copyTimed}
            id={`${id}-query`}
          />
          {lines.length === 0 ? (
            <p class="muted">None of the chosen speakers said anything.</p>
          ) : (
            <>
              <p id={`${id}-keys`} hidden>
                {keysHint(onSeek !== undefined, editable)}
              </p>
              <ol ref={box} class="segments" aria-label="Transcript" onKeyDown={onKeyDown} onClick={onClick} onFocusIn={(e) => setCursor(Number((e.target as Element).closest('[data-line]')?.getAttribute('data-line') ?? tabStop))}>
                {lines.map((l, i) => {
                  const own = byLine.get(l.index);
                  const mine = own !== undefined && current >= own.first && current < own.first + own.hits.length;
                  return (
                    <TranscriptLine
                      key={l.index}
                      line={l}
                      word={spot.line === l.index ? spot.word : -1}
                      active={spot.line === l.index}
                      hits={own?.hits ?? NO_HITS}
                      firstHit={own?.first ?? 0}
                      currentHit={mine ? current : -1}
                      tabbable={l.index === tabStop}
                      heading={l.speaker !== undefined && l.speaker !== lines[i - 1]?.speaker ? speakerName(l.speaker, names) : undefined}
                      colour={l.speaker === undefined ? undefined : speakerColour(l.speaker, labels)}
                      seekable={onSeek !== undefined}
                      describedBy={`${id}-keys`}
                      editable={editable && edited === undefined}
                      editor={edits !== undefined && l === edited ? <LineEditor line={l} edits={edits} onClose={closeEditor} /> : undefined}
                    />
                  );
                })}
              </ol>
            </>
          )}
        </>
      )}
    </div>
  );
}
