import { Component, type ComponentChildren } from 'preact';
import { stamp } from '../format.js';
import { cutByHits, type Hit, type Line } from '../transcript-nav.js';

export interface LineProps {
  line: Line;
  /** The word being heard, -1 for none (and always -1 on every other line, so they are not redrawn). */
  word: number;
  active: boolean;
  /** This line's search hits and the overall number of the first; the current hit's number, or -1 when it is elsewhere. */
  hits: readonly Hit[];
  firstHit: number;
  currentHit: number;
  /** The transcript's one Tab stop. */
  tabbable: boolean;
  /** The speaker's name above the line, at a change of speaker. */
  heading: string | undefined;
  colour: string | undefined;
  seekable: boolean;
  /** The id of the words that tell how the transcript is used from the keyboard. */
  describedBy: string;
  /** Offers an Edit button beside the line (outside the Tab order: the right arrow reaches it). */
  editable: boolean;
  /** The editor, in the line's place while it is edited; undefined on every other line. */
  editor: ComponentChildren | undefined;
}

/** The line's text, its words in spans that carry their start (a click plays from there) and its hits in <mark>s. */
function body({ line, word, hits, firstHit, currentHit, seekable }: LineProps): ComponentChildren {
  const out: ComponentChildren[] = [];
  const piece = (from: number, to: number) =>
    cutByHits(from, to, hits, firstHit).map((p) => {
      const text = line.text.slice(p.from, p.to);
      return p.hit < 0 ? (
        text
      ) : (
        <mark key={p.from} data-hit={p.hit} class={p.hit === currentHit ? 'hit-now' : undefined}>
          {text}
        </mark>
      );
    });
  let at = 0;
  line.words.forEach((w, i) => {
    out.push(...piece(at, w.from));
    out.push(
      <span key={w.from} class={i === word ? 'w w-now' : 'w'} data-start={seekable ? w.start : undefined}>
        {piece(w.from, w.to)}
      </span>,
    );
    at = w.to;
  });
  out.push(...piece(at, line.text.length));
  return out;
}

/**
 * One segment of the transcript. A class for its `shouldComponentUpdate`: the playhead moves
 * several times a second, and only the line it is on, or leaves, is drawn again.
 */
export class TranscriptLine extends Component<LineProps> {
  override shouldComponentUpdate(next: LineProps): boolean {
    return (Object.keys(next) as (keyof LineProps)[]).some((k) => next[k] !== this.props[k]);
  }

  override render(props: LineProps) {
    const { line, active, tabbable, heading, colour, seekable, describedBy, editable, editor } = props;
    const inner = (
      <>
        <span class="seg-time">{stamp(line.start)}</span>
        <span class="seg-text">{body(props)}</span>
      </>
    );
    const classes = [active ? 'seg-active' : '', colour === undefined ? '' : `seg-spoken ${colour}`, editable ? 'seg-editable' : ''].filter(Boolean).join(' ');
    return (
      <li class={classes === '' ? undefined : classes} data-line={line.index}>
        {heading !== undefined && <p class="seg-speaker">{heading}</p>}
        {editor ?? (
          <>
            {seekable ? (
              <button type="button" class="seg" tabIndex={tabbable ? 0 : -1} aria-current={active ? 'true' : undefined} aria-describedby={describedBy}>
                {inner}
              </button>
            ) : (
              <div class="seg" tabIndex={tabbable ? 0 : -1} aria-describedby={describedBy}>
                {inner}
              </div>
            )}
            {editable && (
              <button type="button" class="button button-small button-quiet seg-edit" tabIndex={-1}>
                Edit<span class="visually-hidden"> the line at {stamp(line.start)}</span>
              </button>
            )}
          </>
        )}
      </li>
    );
  }
}
