import type { JobResult } from '../api.js';
import { count, percent, span, stamp } from '../format.js';
import { speakerColour, speakerLabels, speakerName } from '../speakers.js';

interface Props {
  result: JobResult;
  /** Given when the audio can be played: each segment becomes a button that seeks to it. */
  onSeek?: ((seconds: number) => void) | undefined;
  /** The player's position, to mark the segment being heard. */
  position?: number | undefined;
  /** Names given to the speakers (label -> name); a diarized transcript shows them at each change. */
  names?: Readonly<Record<string, string>> | undefined;
  /** Speakers whose segments are left out (the job page's filter). */
  hidden?: ReadonlySet<string> | undefined;
}

const NONE: Readonly<Record<string, string>> = {};

/**
 * Segments with their start times; text is rendered as text (Preact escapes it), never as HTML.
 * Diarized, each segment carries its speaker's colour and the name heads every change of speaker.
 */
export function Transcript({ result, onSeek, position, names = NONE, hidden }: Props) {
  const all = result.segments.length > 0 ? result.segments : [{ start: 0, end: result.duration_seconds, text: result.text, confidence: result.confidence, speaker: undefined }];
  const labels = speakerLabels(result);
  const segments = hidden === undefined || hidden.size === 0 ? all : all.filter((s) => s.speaker === undefined || !hidden.has(s.speaker));
  return (
    <div class="transcript">
      <p class="meta-line">
        {span(result.duration_seconds)} of audio · {count(result.words.length, 'word')}
        {labels.length > 0 && <> · {count(labels.length, 'speaker')}</>}
        {result.confidence !== null && <> · confidence {percent(result.confidence)}</>} · {result.engine}, {result.isolation}
      </p>
      {result.text.trim() === '' ? (
        <p class="muted">No speech was recognised.</p>
      ) : segments.length === 0 ? (
        <p class="muted">None of the chosen speakers said anything.</p>
      ) : (
        <ol class="segments">
          {segments.map((s, i) => {
            const active = position !== undefined && position >= s.start && position < s.end;
            const speaker = s.speaker;
            const changed = speaker !== undefined && speaker !== segments[i - 1]?.speaker;
            const body = (
              <>
                <span class="seg-time">{stamp(s.start)}</span>
                <span class="seg-text">{s.text}</span>
              </>
            );
            const classes = [active ? 'seg-active' : '', speaker === undefined ? '' : `seg-spoken ${speakerColour(speaker, labels)}`].filter(Boolean).join(' ');
            return (
              <li key={i} class={classes === '' ? undefined : classes}>
                {changed && <p class="seg-speaker">{speakerName(speaker, names)}</p>}
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
