import type { RefObject } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { focusLost } from '../focus.js';
import { bytes, clock, count, percent, span } from '../format.js';
import { liveSessions, type Session } from '../live-session.js';
import { captionFile, PAGE_MAX_BYTES, timedCaptions, type AudioLimits, type Caption, type CaptionFormat } from '../recorder.js';
import { href } from '../router.js';
import { saveFile } from '../save-file.js';
import { ErrorNote, ProgressBar } from './status.js';
import { useCopy } from './transcript-tools.js';

/*
 * A recording's captions, each with the time it was said, and what can be done with them once
 * the recording stops: copy, download, save the audio as a job, clear.
 */

const DOWNLOADS: { format: CaptionFormat; label: string }[] = [
  { format: 'txt', label: 'Text' },
  { format: 'vtt', label: 'WebVTT' },
  { format: 'srt', label: 'SRT' },
];

/**
 * The captions so far, a polite live region (each final is read out once), each line with its
 * time from the start of the recording; the current guess under them, seen but not read aloud.
 */
export function CaptionList({ captions, partial, listRef }: { captions: readonly Caption[]; partial: string; listRef: RefObject<HTMLOListElement | null> }) {
  return (
    <>
      <ol ref={listRef} class="captions" aria-label="Captions" tabIndex={-1} aria-live="polite" aria-relevant="additions">
        {captions.map((c) => (
          <li key={c.id} class="caption">
            <time class="caption-time" datetime={`PT${Math.floor(c.start)}S`}>
              {clock(c.start)}
            </time>{' '}
            {c.text}
          </li>
        ))}
      </ol>
      {partial !== '' && (
        <p class="caption caption-partial" aria-hidden="true">
          {partial}
        </p>
      )}
    </>
  );
}

/** What the audio kept comes to, and the server's limits it was kept within. */
function audioFacts(session: Session, limits: AudioLimits | undefined): string {
  const kept = `${bytes(session.audio.size)}, ${clock(session.audio.seconds)}`;
  return limits === undefined ? `Audio: ${kept}.` : `Audio: ${kept} (this server takes up to ${bytes(limits.maxBytes)} and ${span(limits.maxSeconds)} a file).`;
}

/** Why the audio kept is shorter than the recording (and, while it goes on, that the captions do too). */
export function cutMessage(session: Session, limits: AudioLimits | undefined): string {
  const serverBytes = limits?.maxBytes ?? Infinity;
  const limit =
    session.cut === 'length'
      ? `this server takes up to ${span(limits?.maxSeconds)} of audio a file`
      : serverBytes <= PAGE_MAX_BYTES
        ? `this server takes files up to ${bytes(serverBytes)}`
        : `the page keeps up to ${bytes(PAGE_MAX_BYTES)}`;
  const more = session.endedAt === undefined ? ' The captions go on.' : '';
  return `Only the first ${clock(session.audio.seconds)} of audio is kept for saving: ${limit}.${more}`;
}

/** Save as a job, its progress, and then where the job is. */
function SaveAsJob({ session, limits }: { session: Session; limits: AudioLimits | undefined }) {
  const saved = useRef<HTMLParagraphElement>(null);
  const button = useRef<HTMLButtonElement>(null);
  const s = session.save;
  const [diarize, setDiarize] = useState(false);
  // The Save button goes once the job is accepted: focus goes to the words that say where it is.
  useEffect(() => {
    if (s.phase === 'saved' && focusLost(button.current)) saved.current?.focus();
  }, [s.phase]);
  if (s.phase === 'saved') {
    return (
      <p ref={saved} class="live-saved" tabIndex={-1}>
        Saved as a job. <a href={href.job(s.jobId)}>Open the job</a> to follow it; it is also in the History.
      </p>
    );
  }
  const empty = session.audio.size === 0;
  return (
    <div class="live-save">
      <label class="choice">
        <input type="checkbox" name="live-diarize" checked={diarize} disabled={s.phase === 'sending'} onChange={(e) => setDiarize(e.currentTarget.checked)} />
        <span>
          Label speakers in the saved job <span class="muted">(who spoke when)</span>
        </span>
      </label>
      <button
        ref={button}
        type="button"
        class="button button-small"
        disabled={s.phase === 'sending' || empty || (s.phase === 'failed' && !s.retryable)}
        aria-describedby="live-audio-facts"
        onClick={() => void liveSessions.save(limits?.maxBytes, diarize)}
      >
        {s.phase === 'sending' ? 'Saving…' : 'Save as a job'}
      </button>
      <span id="live-audio-facts" class="muted small">
        {empty ? 'No audio was recorded.' : audioFacts(session, limits)}
      </span>
      {s.phase === 'sending' && <ProgressBar value={s.total > 0 ? s.sent / s.total : undefined} label={`Saving the recording: ${percent(s.total > 0 ? s.sent / s.total : 0)}`} />}
      {s.phase === 'failed' && <ErrorNote title={s.error.title} detail={s.error.detail} />}
    </div>
  );
}

/** Under a stopped recording's captions: copy, download, save as a job, clear. */
export function SessionActions({ session, limits, onClear }: { session: Session; limits: AudioLimits | undefined; onClear: () => void }) {
  const [note, copy] = useCopy();
  const base = session.fileName.replace(/\.webm$/, '');
  const { captions } = session;
  return (
    <div class="live-actions">
      {captions.length > 0 && (
        <div class="downloads" role="group" aria-label="The captions">
          <button
            type="button"
            class="button button-small"
            onClick={() =>
              copy(() => {
                liveSessions.markKept();
                return { text: timedCaptions(captions), what: count(captions.length, 'line') };
              })
            }
          >
            Copy with times
          </button>
          <span class="muted">Download:</span>
          {DOWNLOADS.map((d) => (
            <button
              key={d.format}
              type="button"
              class="button button-small"
              onClick={() => {
                saveFile(captionFile(captions, d.format), `${base}.${d.format}`);
                liveSessions.markKept();
              }}
            >
              <span class="visually-hidden">Download the captions as </span>
              {d.label}
            </button>
          ))}
          <span class="copy-note muted small" role="status">
            {note}
          </span>
        </div>
      )}
      <SaveAsJob session={session} limits={limits} />
      <button type="button" class="button button-small button-quiet" onClick={onClear}>
        Clear the recording
      </button>
    </div>
  );
}
