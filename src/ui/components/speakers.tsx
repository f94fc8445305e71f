import type { JobResult } from '../api.js';
import { clock, span, stamp } from '../format.js';
import { speakerColour, speakerName, speakerTurns, type Turn } from '../speakers.js';
import { RenameField, useRenameInPlace } from './rename-in-place.js';

interface Props {
  result: JobResult;
  /** The result's speaker labels, in order of first appearance. */
  labels: readonly string[];
  names: Readonly<Record<string, string>>;
  hidden: ReadonlySet<string>;
  onToggle: (label: string) => void;
  onShowAll: () => void;
  /** Saves a speaker's name (undefined: back to its label); rejects with a message to show. */
  onRename: (label: string, name: string | undefined) => Promise<void>;
  /** Given when the audio can be played: a turn on the timeline seeks to it. */
  onSeek?: ((seconds: number) => void) | undefined;
  position?: number | undefined;
}

/** Where on the track a time falls, in percent of the file. */
function at(seconds: number, duration: number): string {
  return `${Math.min(100, Math.max(0, (seconds / Math.max(duration, 0.001)) * 100)).toFixed(3)}%`;
}

/**
 * A speaker's name with a Rename button and its talk time, or the field that
 * edits the name in their place (Enter saves, Escape cancels).
 */
function SpeakerName({ label, name, talk, onRename }: { label: string; name: string; talk: number; onRename: Props['onRename'] }) {
  // An empty name gives the speaker its label back.
  const edit = useRenameInPlace((text) => onRename(label, text === '' ? undefined : text));
  if (edit.editing) {
    const letter = speakerName(label, {});
    return (
      <RenameField
        edit={edit}
        label={`Name for ${letter}`}
        placeholder={letter}
        maxLength={64}
        id={`speaker-${label}`}
        classes={{ form: 'speaker-edit', input: 'speaker-input', error: 'speaker-error' }}
      />
    );
  }
  return (
    <>
      <span class="speaker-name">
        <span class="speaker-label">{name}</span>
        <button ref={edit.button} type="button" class="button button-small button-quiet speaker-rename" onClick={() => edit.open(name === speakerName(label, {}) ? '' : name)}>
          Rename<span class="visually-hidden"> {name}</span>
        </button>
      </span>
      <span class="speaker-time muted">{span(talk)}</span>
    </>
  );
}

interface TrackProps {
  turns: Turn[];
  label: string;
  name: string;
  duration: number;
  onSeek: Props['onSeek'];
  position: number | undefined;
}

function Track({ turns, label, name, duration, onSeek, position }: TrackProps) {
  const mine = turns.filter((t) => t.speaker === label);
  return (
    <div class="speaker-track" role="group" aria-label={`${name}: ${mine.length} ${mine.length === 1 ? 'turn' : 'turns'}`}>
      {position !== undefined && position > 0 && <span class="speaker-now" style={{ left: at(position, duration) }} aria-hidden="true" />}
      {mine.map((t) => {
        const style = { left: at(t.start, duration), width: `max(3px, calc(${at(t.end, duration)} - ${at(t.start, duration)}))` };
        const what = `${name}, ${stamp(t.start)} to ${stamp(t.end)}`;
        return onSeek === undefined ? (
          <span key={t.start} class="speaker-turn" style={style} title={what} />
        ) : (
          <button key={t.start} type="button" class="speaker-turn" style={style} title={what} aria-label={`Play ${what}`} onClick={() => onSeek(t.start)} />
        );
      })}
    </div>
  );
}

/**
 * The speakers of a diarized job: one row each with its colour, its name (renamed
 * in place), a switch that shows or hides its segments in the transcript, and its
 * turns on a timeline of the whole file (a turn plays from its start when the
 * audio is kept). Colour is never the only cue: every row and turn is named.
 */
export function SpeakerPanel({ result, labels, names, hidden, onToggle, onShowAll, onRename, onSeek, position }: Props) {
  const turns = speakerTurns(result.segments);
  const duration = result.duration_seconds;
  const talk = (label: string) => turns.filter((t) => t.speaker === label).reduce((sum, t) => sum + (t.end - t.start), 0);
  return (
    <div class="panel speakers-panel">
      <div class="speakers-head">
        <h2 id="speakers-title">Speakers</h2>
        {hidden.size > 0 && (
          <p class="speakers-filter muted small">
            Transcript shows {labels.length - hidden.size} of {labels.length}.{' '}
            <button type="button" class="button button-small" onClick={onShowAll}>
              Show all
            </button>
          </p>
        )}
      </div>
      <ul class="speakers" aria-labelledby="speakers-title">
        {labels.map((label) => {
          const name = speakerName(label, names);
          const shown = !hidden.has(label);
          return (
            <li key={label} class={`speaker ${speakerColour(label, labels)}${shown ? '' : ' speaker-off'}`} data-speaker={label}>
              <div class="speaker-info">
                <label class="speaker-show">
                  <input type="checkbox" checked={shown} onChange={() => onToggle(label)} />
                  <span class="visually-hidden">Show {name} in the transcript</span>
                  <span class="speaker-swatch" aria-hidden="true" />
                </label>
                <SpeakerName label={label} name={name} talk={talk(label)} onRename={onRename} />
              </div>
              <Track turns={turns} label={label} name={name} duration={duration} onSeek={onSeek} position={position} />
            </li>
          );
        })}
      </ul>
      <div class="speaker-scale muted" aria-hidden="true">
        <span>0:00</span>
        <span>{clock(duration)}</span>
      </div>
    </div>
  );
}
