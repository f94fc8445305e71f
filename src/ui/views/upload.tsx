import { useEffect, useRef, useState } from 'preact/hooks';
import { api, type Isolation, type Priority, type ResultFormat, type SystemInfo, type UploadMode } from '../api.js';
import { EnginePicker, engineField, languageProblem, NO_CHOICE, offerOf, type EngineChoice } from '../components/engine-picker.js';
import { LiveMic } from '../components/live-mic.js';
import { PageHead } from '../components/page-head.js';
import { ItemRow } from '../components/upload-item.js';
import { focusLost } from '../focus.js';
import { bytes, span } from '../format.js';
import { modelsApi, type ModelView } from '../models-api.js';
import { href, parseHash } from '../router.js';
import { useUploadQueue } from '../upload-queue.js';

const FORMAT_LABELS: Record<ResultFormat, string> = { json: 'JSON with segments', text: 'Plain text', srt: 'SRT subtitles', vtt: 'WebVTT subtitles' };
/** The exact counts a request may ask for (num_speakers, 1-20). */
const SPEAKER_COUNTS = Array.from({ length: 20 }, (_, i) => i + 1);

export function UploadView() {
  const queue = useUploadQueue();
  const items = queue.items;
  const busy = queue.busy;
  const [mode, setMode] = useState<UploadMode>('job');
  const [isolation, setIsolation] = useState<Isolation | 'default'>('default');
  const [format, setFormat] = useState<ResultFormat>('json');
  const [priority, setPriority] = useState<Priority>('normal');
  const [diarize, setDiarize] = useState(false);
  /** 0: let the server estimate the count. */
  const [numSpeakers, setNumSpeakers] = useState(0);
  const [dragging, setDragging] = useState(false);
  /**
   * dragenter minus dragleave over the zone: moving onto its own text or button leaves the
   * zone's box for a child's (a dragleave) after entering the child (a dragenter), so the
   * highlight goes off only when the count is back to 0.
   */
  const depth = useRef(0);
  const [info, setInfo] = useState<SystemInfo>();
  const [models, setModels] = useState<ModelView[]>();
  const [choice, setChoice] = useState<EngineChoice>(NO_CHOICE);
  const input = useRef<HTMLInputElement>(null);
  const choose = useRef<HTMLButtonElement>(null);
  const submit = useRef<HTMLButtonElement>(null);
  const cancel = useRef<HTMLButtonElement>(null);
  const list = useRef<HTMLUListElement>(null);
  /** The files the last Upload sent: the first of them takes focus when they are through. */
  const sent = useRef<number[]>([]);
  const wasBusy = useRef(false);

  useEffect(() => {
    api.system().then(setInfo, () => undefined);
    // Without the list (a key that may not read it), the engines come from /api/v1/system alone.
    modelsApi.list().then(setModels, () => undefined);
  }, []);
  const offer = offerOf(models, info);
  const badLanguage = languageProblem(choice, offer, info);

  // A file dropped anywhere but the zone would make the browser open it in place of the page
  // (and drop the uploads under way): outside the zone, a drag is told it cannot drop.
  useEffect(() => {
    const refuse = (e: DragEvent) => {
      if (e.defaultPrevented) return;
      e.preventDefault();
      if (e.dataTransfer) e.dataTransfer.dropEffect = 'none';
    };
    addEventListener('dragover', refuse);
    addEventListener('drop', refuse);
    return () => {
      removeEventListener('dragover', refuse);
      removeEventListener('drop', refuse);
    };
  }, []);

  // Upload disables its button while files go up, which would drop focus to the document:
  // it goes to Cancel meanwhile, then to the first answer (or refusal).
  useEffect(() => {
    if (busy && !wasBusy.current && focusLost(submit.current)) cancel.current?.focus();
    if (!busy && wasBusy.current && focusLost(submit.current, cancel.current)) {
      const first = sent.current.map((key) => list.current?.querySelector<HTMLElement>(`[data-key="${key}"]`)).find((el) => el != null);
      first?.focus();
    }
    wasBusy.current = busy;
  }, [busy]);

  const start = async () => {
    sent.current = items.filter((x) => x.state.phase === 'ready').map((x) => x.key);
    const { sent: count, answers } = await queue.start({
      mode,
      isolation: isolation === 'default' ? undefined : isolation,
      format,
      priority,
      diarize: diarize ? { numSpeakers: numSpeakers === 0 ? undefined : numSpeakers } : undefined,
      engine: engineField(choice, offer),
      language: choice.language.trim() || undefined,
    });
    // One file accepted as a job: its page is where the user goes next, unless they went elsewhere
    // meanwhile. Its answer stays here too, for Back.
    const only = count === 1 ? answers[0] : undefined;
    if (only?.mode === 'job' && parseHash(location.hash).name === 'upload') location.hash = href.job(only.jobId);
  };

  /** Dismiss or Remove takes the row, and its button, away: focus goes to the next row (or the one before). */
  const removeItem = (key: number) => {
    const at = items.findIndex((x) => x.key === key);
    const next = items[at + 1] ?? items[at - 1];
    queue.remove(key);
    const el = next === undefined ? undefined : list.current?.querySelector<HTMLElement>(`[data-key="${next.key}"]`);
    (el ?? choose.current)?.focus();
  };
  const done = items.filter((x) => x.state.phase === 'done').length;

  const ready = items.filter((x) => x.state.phase === 'ready').length;
  const processOff = info !== undefined && !info.process_isolation_enabled;
  const defaultLabel = info === undefined ? 'Server default' : `Server default (${info.default_isolation})`;

  return (
    <section aria-labelledby="upload-title">
      <PageHead id="upload-title" title="Transcribe audio">
        Upload one or more recordings. A job runs in the background and stays in the History; a sync request waits for the transcript.
      </PageHead>

      <div class="upload-grid">
        <div class="panel">
          <div
            class={`dropzone${dragging ? ' dropzone-active' : ''}`}
            onDragEnter={(e) => {
              e.preventDefault();
              depth.current++;
              setDragging(true);
            }}
            onDragOver={(e) => {
              e.preventDefault();
              if (e.dataTransfer) e.dataTransfer.dropEffect = 'copy';
            }}
            onDragLeave={() => {
              depth.current = Math.max(0, depth.current - 1);
              if (depth.current === 0) setDragging(false);
            }}
            onDrop={(e) => {
              e.preventDefault();
              depth.current = 0;
              setDragging(false);
              queue.add(e.dataTransfer?.files ?? null);
            }}
          >
            <svg class="dropzone-icon" viewBox="0 0 24 24" aria-hidden="true" focusable="false">
              <path d="M12 15V4m0 0L8 8m4-4 4 4M5 14v4a2 2 0 0 0 2 2h10a2 2 0 0 0 2-2v-4" />
            </svg>
            <p class="dropzone-title">Drop audio files here</p>
            <p class="muted" id="formats-hint">
              WAV, MP3, FLAC, Ogg/Opus, M4A or WebM
              {info !== undefined && (
                <>
                  , up to <span data-limit="size">{bytes(info.max_file_size_bytes)}</span> and <span data-limit="length">{span(info.max_audio_seconds)}</span> of audio each
                </>
              )}
            </p>
            <button ref={choose} type="button" class="button" onClick={() => input.current?.click()} aria-describedby="formats-hint" disabled={busy}>
              Choose files…
            </button>
            <input
              ref={input}
              id="file-input"
              type="file"
              multiple
              accept="audio/*,video/webm,.wav,.mp3,.flac,.ogg,.opus,.m4a,.webm"
              hidden
              onChange={(e) => {
                queue.add(e.currentTarget.files);
                e.currentTarget.value = '';
              }}
            />
          </div>

          {items.length > 0 && (
            <ul ref={list} class="items" aria-label="Files">
              {items.map((item) => (
                <ItemRow
                  key={item.key}
                  item={item}
                  busy={busy}
                  onRemove={() => removeItem(item.key)}
                  onRetry={() => queue.retry(item.key)}
                  onKeep={() => void queue.keep(item.key)}
                />
              ))}
            </ul>
          )}
          {done > 1 && (
            <p class="items-foot">
              <button
                type="button"
                class="button button-small button-quiet"
                onClick={() => {
                  queue.dismissDone();
                  choose.current?.focus();
                }}
              >
                Dismiss all {done} results
              </button>
            </p>
          )}
        </div>

        <form
          class="panel options"
          onSubmit={(e) => {
            e.preventDefault();
            void start();
          }}
        >
          <fieldset>
            <legend>Run as</legend>
            <label class="choice">
              <input type="radio" name="mode" value="job" checked={mode === 'job'} onChange={() => setMode('job')} />
              <span>
                Job <span class="muted">(background, kept in History)</span>
              </span>
            </label>
            <label class="choice">
              <input type="radio" name="mode" value="sync" checked={mode === 'sync'} onChange={() => setMode('sync')} />
              <span>
                Sync <span class="muted">(wait for the transcript)</span>
              </span>
            </label>
          </fieldset>

          <EnginePicker offer={offer} info={info} value={choice} onChange={setChoice} />

          <fieldset>
            <legend>Speakers</legend>
            <label class="choice">
              <input type="checkbox" name="diarize" checked={diarize} onChange={(e) => setDiarize(e.currentTarget.checked)} />
              <span>
                Label speakers <span class="muted">(who spoke when)</span>
              </span>
            </label>
            {diarize && (
              <div class="field field-nested">
                <label for="num-speakers">How many speakers</label>
                <select id="num-speakers" value={numSpeakers} onChange={(e) => setNumSpeakers(Number(e.currentTarget.value))}>
                  <option value={0}>Find out (up to 8)</option>
                  {SPEAKER_COUNTS.map((n) => (
                    <option key={n} value={n}>
                      {n === 1 ? '1 speaker' : `${n} speakers`}
                    </option>
                  ))}
                </select>
              </div>
            )}
          </fieldset>

          {mode === 'sync' ? (
            <div class="field">
              <label for="format">Output format</label>
              <select id="format" value={format} onChange={(e) => setFormat(e.currentTarget.value as ResultFormat)}>
                {(Object.keys(FORMAT_LABELS) as ResultFormat[]).map((f) => (
                  <option key={f} value={f}>
                    {FORMAT_LABELS[f]}
                  </option>
                ))}
              </select>
            </div>
          ) : (
            <div class="field">
              <label for="priority">Priority</label>
              <select id="priority" value={priority} onChange={(e) => setPriority(e.currentTarget.value as Priority)}>
                <option value="high">High</option>
                <option value="normal">Normal</option>
                <option value="low">Low</option>
              </select>
              <p class="hint">A job's transcript downloads as text, JSON, SRT or WebVTT from its page.</p>
            </div>
          )}

          <details class="advanced">
            <summary>
              Advanced{isolation !== 'default' && <span class="muted"> (isolation: {isolation})</span>}
            </summary>
            <fieldset>
              <legend>Isolation</legend>
              <label class="choice">
                <input type="radio" name="isolation" value="default" checked={isolation === 'default'} onChange={() => setIsolation('default')} />
                <span>{defaultLabel}</span>
              </label>
              <label class="choice">
                <input type="radio" name="isolation" value="in-process" checked={isolation === 'in-process'} onChange={() => setIsolation('in-process')} />
                <span>
                  In-process <span class="muted">(fastest)</span>
                </span>
              </label>
              <label class="choice">
                <input type="radio" name="isolation" value="process" checked={isolation === 'process'} onChange={() => setIsolation('process')} />
                <span>
                  Worker process <span class="muted">{processOff ? '(off on this server)' : '(isolated)'}</span>
                </span>
              </label>
            </fieldset>
          </details>

          <button ref={submit} type="submit" class="button button-primary button-block" disabled={busy || ready === 0 || badLanguage !== undefined}>
            {busy ? 'Uploading…' : ready === 0 ? 'Upload' : `Upload ${ready} file${ready === 1 ? '' : 's'}`}
          </button>
          {busy && (
            <button
              ref={cancel}
              type="button"
              class="button button-block button-quiet"
              onClick={() => queue.cancel()}
            >
              Cancel uploads
            </button>
          )}
        </form>
      </div>

      <LiveMic />
    </section>
  );
}
