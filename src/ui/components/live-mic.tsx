import { useEffect, useRef, useState } from 'preact/hooks';
import { announce } from '../announce.js';
import { api, ApiError, streamRefusal } from '../api.js';
import { ErrorNote } from './status.js';
import { apiKey, askForKey } from '../auth.js';
import { focusLost } from '../focus.js';
import { liveSessions, useLiveSession } from '../live-session.js';
import { explainStreamError, type StreamFailure } from '../messages.js';
import { MIME, PAGE_MAX_BYTES, type AudioLimits } from '../recorder.js';
import type { Word } from '../../engines/index.js';
import { ConfirmDelete, useConfirmDialog } from './confirm-dialog.js';
import { CaptionList, cutMessage, SessionActions } from './live-captions.js';
import { ElapsedClock, LevelMeter } from './mic-level.js';

/*
 * Live transcription from the microphone: MediaRecorder's Opus-in-WebM chunks go
 * to the streaming WebSocket (docs/streaming.md) as they are recorded; hark
 * decodes the container itself, so the page does no audio processing beyond a
 * level meter. The same chunks are kept (live-session.ts), to be saved as a job.
 */

/** Small chunks keep the delay from speech to partial short. */
const TIMESLICE_MS = 100;

/** Without the server's limits (GET /api/v1/system failed), the page's own bound alone; the upload says the rest. */
const UNKNOWN_LIMITS: AudioLimits = { maxBytes: PAGE_MAX_BYTES, maxSeconds: Infinity };

type Phase = 'idle' | 'starting' | 'live' | 'stopping';

interface ServerMessage {
  type: string;
  text?: string;
  /** A final's times: seconds of audio from the start of the stream, which is the start of the recording. */
  start?: number;
  end?: number;
  words?: Word[];
  code?: string;
  message?: string;
}

/** An open stream that closed without an error message: the server stopped, or the connection broke. */
const CLOSED: StreamFailure = {
  title: 'The connection to the server closed.',
  detail: 'The server may have stopped, or a proxy between may not pass WebSockets on.',
  fix: 'retry',
};

/**
 * The stream's URL. Browsers cannot set headers on a WebSocket, and a key in the
 * URL would sit in proxies' logs and the browser's history: with a key, the page
 * trades it (in a header) for a single-use ticket that expires within a minute.
 */
async function streamUrl(): Promise<string> {
  const base = `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/v1/audio/stream`;
  if (apiKey() === null) return base;
  const answer = await api.streamTicket();
  // None (204): the server takes no keys, so the stream needs no ticket.
  return answer === undefined ? base : `${base}?ticket=${encodeURIComponent(answer.ticket)}`;
}

/** Why a stream that never opened was refused: asked of the server again (see streamRefusal). */
async function refusedUpgrade(): Promise<StreamFailure> {
  const refusal = await streamRefusal();
  return refusal === undefined ? CLOSED : explainStreamError(refusal);
}

/** Failures of getUserMedia, in words a user can act on. */
function micFailure(err: unknown): StreamFailure {
  const name = err instanceof DOMException ? err.name : '';
  if (name === 'NotAllowedError') return { title: 'The microphone is blocked', detail: 'Allow this page to use the microphone in the browser, then try again.' };
  if (name === 'NotFoundError') return { title: 'No microphone found', detail: 'Connect a microphone, then try again.' };
  return { title: 'The microphone could not be started', detail: err instanceof Error ? err.message : String(err) };
}

export function LiveMic() {
  const [phase, setPhase] = useState<Phase>('idle');
  const [partial, setPartial] = useState('');
  const [failure, setFailure] = useState<StreamFailure>();
  const [stream, setStream] = useState<MediaStream>();
  const [limits, setLimits] = useState<AudioLimits>();
  const session = useLiveSession();
  const discard = useConfirmDialog();
  const socket = useRef<WebSocket | undefined>(undefined);
  const recorder = useRef<MediaRecorder | undefined>(undefined);
  const nextId = useRef(0);
  const button = useRef<HTMLButtonElement>(null);
  const captionList = useRef<HTMLOListElement>(null);
  const lastPhase = useRef<Phase>('idle');
  const supported = typeof MediaRecorder !== 'undefined' && typeof navigator.mediaDevices?.getUserMedia === 'function' && MediaRecorder.isTypeSupported(MIME);

  /** Stops recording and releases the microphone (the browser's recording indicator goes off). */
  const release = () => {
    const r = recorder.current;
    recorder.current = undefined;
    setStream(undefined);
    if (r === undefined) return;
    if (r.state !== 'inactive') r.stop();
    for (const t of r.stream.getTracks()) t.stop();
  };

  // Leaving the page mid-stream frees the microphone and the server's stream slot (the captions stay).
  useEffect(() => {
    api.system().then((info) => setLimits({ maxBytes: info.max_file_size_bytes, maxSeconds: info.max_audio_seconds }), () => undefined);
    return () => {
      release();
      socket.current?.close();
    };
  }, []);

  // Stop disables its button while the last words come back, which drops focus to the
  // document: once the stream has ended, focus goes to the captions it left.
  useEffect(() => {
    if (lastPhase.current === 'stopping' && phase === 'idle' && focusLost(button.current)) captionList.current?.focus();
    lastPhase.current = phase;
  }, [phase]);

  const start = async () => {
    setFailure(undefined);
    setPartial('');
    setPhase('starting');
    let media: MediaStream;
    try {
      media = await navigator.mediaDevices.getUserMedia({ audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true } });
    } catch (err) {
      setFailure(micFailure(err));
      setPhase('idle');
      return;
    }
    let url: string;
    try {
      url = await streamUrl();
    } catch (err) {
      for (const t of media.getTracks()) t.stop();
      setFailure(explainStreamError(err instanceof ApiError ? err : new ApiError(0, 'CLIENT', err instanceof Error ? err.message : String(err))));
      setPhase('idle');
      return;
    }
    const rec = new MediaRecorder(media, { mimeType: MIME });
    recorder.current = rec;
    const ws = new WebSocket(url);
    socket.current = ws;
    let ended = false;
    let opened = false;

    ws.onopen = () => {
      opened = true;
      ws.send(JSON.stringify({ encoding: 'webm' }));
    };
    /** The session this stream records; set at `ready`, when the previous one is replaced. */
    let id = 0;
    ws.onmessage = (e: MessageEvent) => {
      if (typeof e.data !== 'string') return;
      const m = JSON.parse(e.data) as ServerMessage;
      if (m.type === 'ready') {
        // Recording starts only once an engine is held, so the first words are not lost to a refusal.
        id = liveSessions.begin(limits ?? UNKNOWN_LIMITS);
        rec.ondataavailable = (d) => {
          if (d.data.size === 0) return;
          if (ws.readyState === WebSocket.OPEN) ws.send(d.data);
          liveSessions.addAudio(id, d.data, TIMESLICE_MS / 1000);
        };
        rec.onstop = () => {
          if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: 'end' }));
        };
        rec.start(TIMESLICE_MS);
        setStream(media);
        setPhase('live');
        announce('Listening');
      } else if (m.type === 'partial') {
        setPartial(m.text ?? '');
      } else if (m.type === 'final') {
        setPartial('');
        const text = (m.text ?? '').trim();
        const at = liveSessions.current?.id === id ? (performance.now() - liveSessions.current.startedAt) / 1000 : 0;
        if (text !== '') liveSessions.addCaption(id, { id: nextId.current++, start: m.start ?? at, end: m.end ?? at, text, words: m.words ?? [] });
      } else if (m.type === 'error') {
        ended = true;
        setFailure(explainStreamError(new ApiError(0, m.code ?? 'ERROR', m.message ?? 'The server ended the stream')));
      } else if (m.type === 'done') {
        ended = true;
      }
    };
    ws.onclose = () => {
      release();
      liveSessions.end(id);
      setPartial('');
      setPhase('idle');
      // A refused upgrade (the browser hides its status) or a dropped connection ends without a message.
      if (ended) announce('Live transcription ended');
      else if (opened) setFailure(CLOSED);
      else void refusedUpgrade().then(setFailure);
      if (socket.current === ws) socket.current = undefined;
    };
  };

  const stop = () => {
    setPhase('stopping');
    if (liveSessions.current !== undefined) liveSessions.end(liveSessions.current.id);
    // The recorder's last chunk comes before its stop event, which sends {"type":"end"}.
    if (recorder.current?.state === 'recording') release();
    else {
      release();
      const ws = socket.current;
      if (ws?.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: 'end' }));
    }
  };

  /** A new recording replaces the last one: one whose captions were neither copied, downloaded nor saved is asked about first. */
  const startAnew = () => {
    if (session !== undefined && !session.kept && session.captions.length > 0) discard.open();
    else void start();
  };

  const clear = () => {
    liveSessions.clear();
    button.current?.focus();
  };

  const live = phase === 'live' || phase === 'stopping';
  return (
    <section class="panel live-mic" aria-labelledby="live-mic-title">
      <h2 id="live-mic-title">Live from the microphone</h2>
      <p class="hint" id="live-mic-hint">
        Speak and watch the text appear; each pause ends a line. When you stop, the captions stay: copy them, download them, or save the recording as a job.
      </p>
      {!supported ? (
        <p class="muted">This browser cannot record Opus audio (MediaRecorder with audio/webm), so live transcription is not available here.</p>
      ) : live ? (
        <button ref={button} type="button" class="button button-danger" onClick={stop} disabled={phase === 'stopping'} aria-describedby="live-mic-hint">
          {phase === 'stopping' ? 'Finishing…' : 'Stop'}
          <span class="visually-hidden"> live transcription</span>
        </button>
      ) : (
        <button ref={button} type="button" class="button button-primary" onClick={startAnew} disabled={phase === 'starting'} aria-describedby="live-mic-hint">
          <svg class="mic-icon" viewBox="0 0 24 24" aria-hidden="true" focusable="false">
            <path d="M12 3a3 3 0 0 0-3 3v6a3 3 0 0 0 6 0V6a3 3 0 0 0-3-3zM5 11a7 7 0 0 0 14 0M12 18v3" />
          </svg>
          {phase === 'starting' ? 'Starting…' : 'Start the microphone'}
        </button>
      )}
      {failure !== undefined && (
        <div class="mic-failure">
          <ErrorNote title={failure.title} detail={failure.detail} />
          {failure.fix === 'retry' && (
            <button
              type="button"
              class="button button-small"
              onClick={() => {
                // The button goes with the failure: focus stays on the panel's own.
                button.current?.focus();
                void start();
              }}
            >
              Try again
            </button>
          )}
          {failure.fix === 'key' && (
            <button type="button" class="button button-small" onClick={askForKey}>
              Change the API key
            </button>
          )}
        </div>
      )}
      {session !== undefined && (
        <div class="mic-meters">
          <ElapsedClock key={session.id} since={session.startedAt} until={session.endedAt} />
          {live && stream !== undefined && <LevelMeter stream={stream} />}
        </div>
      )}
      {session?.cut !== undefined && (
        <p class="note note-warn" role="status">
          {cutMessage(session, limits)}
        </p>
      )}
      <CaptionList captions={session?.captions ?? []} partial={partial} listRef={captionList} />
      {session !== undefined && !live && <SessionActions session={session} limits={limits} onClear={clear} />}
      <ConfirmDelete dialog={discard} title="Delete the last recording?" onConfirm={() => void start()}>
        Starting again replaces its captions and audio, which were not copied, downloaded or saved as a job.
      </ConfirmDelete>
    </section>
  );
}
