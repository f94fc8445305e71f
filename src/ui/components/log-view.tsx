import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { jobUrls } from '../api.js';
import { logTime } from '../format.js';

export type StreamState = 'connecting' | 'live' | 'reconnecting' | 'ended' | 'closed';

const STATE_TEXT: Record<StreamState, string> = {
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Reconnecting…',
  ended: 'Ended',
  closed: 'Disconnected',
};

/** Lines kept on the page; a long job's oldest lines scroll out. */
const MAX_LINES = 5000;

/** A job's log lines so far and the state of the stream that brings them. */
export interface LogStream {
  lines: string[];
  state: StreamState;
}

/**
 * Follows a job's log over Server-Sent Events. EventSource reconnects by itself
 * (the server asks for 2 s), for instance after a server restart, and the server
 * resumes after the last line it had sent.
 */
export function useLogStream(id: string): LogStream {
  const [lines, setLines] = useState<string[]>([]);
  const [state, setState] = useState<StreamState>('connecting');

  useEffect(() => {
    setLines([]);
    setState('connecting');
    // Each line's event id is its number in the job's log. EventSource sends the last one back when it
    // reconnects (Last-Event-ID) and the server resumes after it; the check below drops any line seen twice.
    let lastSeq = 0;
    const source = new EventSource(jobUrls.logStream(id));
    source.onopen = () => setState('live');
    source.addEventListener('log', (e: MessageEvent<string>) => {
      const seq = Number(e.lastEventId);
      if (Number.isInteger(seq) && seq > 0) {
        if (seq <= lastSeq) return;
        lastSeq = seq;
      }
      setLines((ls) => (ls.length >= MAX_LINES ? [...ls.slice(ls.length - MAX_LINES + 1), e.data] : [...ls, e.data]));
    });
    source.addEventListener('end', () => {
      // The job ended: without close() EventSource would reconnect and replay the log.
      source.close();
      setState('ended');
    });
    source.onerror = () => setState(source.readyState === EventSource.CLOSED ? 'closed' : 'reconnecting');
    return () => source.close();
  }, [id]);

  return { lines, state };
}

/** A job log line is "<ISO time> <message>": the time is shown short, in local time. */
function splitLine(line: string): { time: string | undefined; text: string } {
  const space = line.indexOf(' ');
  const t = space > 0 ? Date.parse(line.slice(0, space)) : NaN;
  return Number.isNaN(t) ? { time: undefined, text: line } : { time: logTime(t), text: line.slice(space + 1) };
}

/** Shows a stream the job page opened once (its progress reads the same lines; a stream is a follower place of the key's). */
export function LogView({ stream }: { stream: LogStream }) {
  const { lines, state } = stream;
  const [paused, setPaused] = useState(false);
  const box = useRef<HTMLDivElement>(null);

  useLayoutEffect(() => {
    if (!paused && box.current !== null) box.current.scrollTop = box.current.scrollHeight;
  }, [lines, paused]);

  return (
    <div class="log">
      <div class="log-bar">
        <span class={`conn conn-${state}`} role="status">
          <span class="conn-dot" aria-hidden="true" />
          <span class="visually-hidden">Log stream: </span>
          {STATE_TEXT[state]}
        </span>
        <span class="muted log-count">
          {lines.length} line{lines.length === 1 ? '' : 's'}
        </span>
        <button type="button" class="button button-small" aria-pressed={paused} onClick={() => setPaused((p) => !p)}>
          {paused ? 'Resume auto-scroll' : 'Pause auto-scroll'}
        </button>
      </div>
      <div class="log-lines" ref={box} role="log" aria-live="off" aria-label="Job log" tabIndex={0}>
        {lines.length === 0 ? (
          <p class="muted">{state === 'ended' ? 'The log is empty.' : 'Waiting for log lines…'}</p>
        ) : (
          lines.map((l, i) => {
            const { time, text } = splitLine(l);
            return (
              <div key={i} class="log-line">
                {time !== undefined && <span class="log-time">{time}</span>}
                {text}
              </div>
            );
          })
        )}
      </div>
    </div>
  );
}
