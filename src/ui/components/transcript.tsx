import type { JobResult } from '../api.js';
import { span, stamp } from '../format.js';

interface Props {
  result: JobResult;
  /** Given when the audio can be played: each segment becomes a button that seeks to it. */
  onSeek?: ((seconds: number) => void) | undefined;
  /** The player's position, to mark the segment being heard. */
  position?: number | undefined;
}

/** Segments with their start times; text is rendered as text (Preact escapes it), never as HTML. */
export function Transcript({ result, onSeek, position }: Props) {
  const segments = result.segments.length > 0 ? result.segments : [{ start: 0, end: result.duration_seconds, text: result.text, confidence: result.confidence }];
  return (
    <div class="transcript">
      <p class="meta-line">
        {span(result.duration_seconds)} of audio · {result.words.length} words
        {result.confidence !== null && <> · confidence {Math.round(result.confidence * 100)} %</>} · {result.engine}, {result.isolation}
      </p>
      {result.text.trim() === '' ? (
        <p class="muted">No speech was recognised.</p>
      ) : (
        <ol class="segments">
          {segments.map((s, i) => {
            const active = position !== undefined && position >= s.start && position < s.end;
            const body = (
              <>
                <span class="seg-time">{stamp(s.start)}</span>
                <span class="seg-text">{s.text}</span>
              </>
            );
            return (
              <li key={i} class={active ? 'seg-active' : undefined}>
                {onSeek === undefined ? (
                  <div class="seg">{body}</div>
                ) : (
                  <button type="button" class="seg" onClick={() => onSeek(s.start)} aria-current={active ? 'true' : undefined}>
                    <span class="visually-hidden">Play from </span>
                    {body}
                  </button>
                )}
              </li>
            );
          })}
        </ol>
      )}
    </div>
  );
}
