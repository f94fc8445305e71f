import { useEffect, useRef, useState } from 'preact/hooks';
import { announce } from '../announce.js';
import { ApiError } from '../api.js';
import { askForKey } from '../auth.js';
import { ConfirmDelete, useConfirmDialog } from '../components/confirm-dialog.js';
import { PageHead } from '../components/page-head.js';
import { ErrorNote, ProgressBar } from '../components/status.js';
import { focusLost } from '../focus.js';
import { bytes, count, percent, span } from '../format.js';
import { usePoll } from '../hooks.js';
import { explainModelError, modelsApi, needsAdminKey, type ModelAction, type ModelPlace, type ModelState, type ModelView } from '../models-api.js';

/** Loads and idle unloads happen without the page: the list is read again this often. */
const LIST_MS = 5000;
/**
 * A download's progress is read this often: 60 reads a minute, half of a key's default
 * RATE_LIMIT_PER_MINUTE (120), so a long download leaves the key room for other tabs.
 */
const PROGRESS_MS = 1000;

const STATE_LABELS: Record<ModelState, string> = {
  not_downloaded: 'Not downloaded',
  downloading: 'Downloading',
  available: 'Available',
  loaded: 'Loaded',
  failed: 'Failed',
};

/** What the row of a model offers now. */
type Offer = 'download' | 'delete' | undefined;

/**
 * Download for a catalogue model that is not here (or whose pull failed); Delete for a
 * downloaded whisper model file that is not the default (the server refuses that one).
 * Engines are neither: they come with the server.
 */
function offer(m: ModelView): Offer {
  if (m.engine !== 'whisper' || !m.id.startsWith('whisper-')) return undefined;
  if (m.state === 'not_downloaded' || m.state === 'failed') return 'download';
  if ((m.state === 'available' || m.state === 'loaded') && m.default !== true) return 'delete';
  return undefined;
}

function StateBadge({ state }: { state: ModelState | undefined }) {
  if (state === undefined) return <span class="muted">–</span>;
  return (
    <span class={`badge badge-model badge-model-${state}`}>
      <span class="badge-dot" aria-hidden="true" />
      {STATE_LABELS[state]}
    </span>
  );
}

function placeName(p: ModelPlace): string {
  if (p.isolation === 'in-process') return 'Server (in-process)';
  return p.slot === undefined ? 'Worker' : `Worker slot ${p.slot}`;
}

/** Each process holding the model, with its pid and the memory the model takes there. */
function Places({ places }: { places: ModelPlace[] | undefined }) {
  if (places === undefined || places.length === 0) return <span class="muted">Not loaded</span>;
  return (
    <ul class="model-places">
      {places.map((p) => (
        <li key={`${p.isolation}-${p.pid}`}>
          {placeName(p)}
          <span class="muted"> · pid {p.pid} · </span>
          {bytes(p.bytes)}
          {p.in_use && <span class="state-busy"> · in use</span>}
        </li>
      ))}
    </ul>
  );
}

/**
 * A download under way: GET /v1/models/{id} every PROGRESS_MS, shown as a bar and in
 * figures. `onEnded` gets the model's view once it is no longer downloading.
 */
function DownloadProgress({ model, onEnded }: { model: ModelView; onEnded: (ended: ModelView) => void }) {
  const poll = usePoll(() => modelsApi.get(model.id), PROGRESS_MS, [model.id]);
  const now = poll.data ?? model;
  useEffect(() => {
    if (now.state !== 'downloading') onEnded(now);
  }, [now.state]);

  const d = now.download ?? model.download;
  const received = d?.received_bytes ?? 0;
  const total = d?.total_bytes ?? model.bytes ?? 0;
  const speed = d?.bytes_per_second ?? 0;
  const parts = [`${bytes(received)} of ${bytes(total)}`];
  if (total > 0) parts.push(percent(received / total));
  if (speed > 0) parts.push(`${bytes(speed)}/s`, `about ${span((total - received) / speed)} left`);
  return (
    // Focus comes here when Download, pressed, gives way to the bar.
    <div class="model-progress" tabIndex={-1} data-focus>
      <ProgressBar value={total > 0 ? received / total : undefined} label={`Downloading ${model.id}`} />
      <p class="model-progress-text">{parts.join(' · ')}</p>
    </div>
  );
}

/** Delete, after a confirmation (Escape, or the focused "Keep it", keeps the model). */
function DeleteButton({ model, busy, onConfirm }: { model: ModelView; busy: boolean; onConfirm: () => void }) {
  const dialog = useConfirmDialog();
  return (
    <>
      <button type="button" class="button button-small" aria-disabled={busy ? 'true' : undefined} onClick={() => !busy && dialog.open()}>
        {busy ? 'Deleting…' : 'Delete'}
        <span class="visually-hidden"> {model.id}</span>
      </button>
      <ConfirmDelete dialog={dialog} title={`Delete ${model.id}?`} onConfirm={onConfirm}>
        Its file ({bytes(model.bytes)}) is removed from this server, after it is unloaded everywhere (a transcription using it finishes first). Requests naming it are
        refused until it is downloaded again.
      </ConfirmDelete>
    </>
  );
}

interface RowProps {
  model: ModelView;
  /** False once the key was refused the admin scope: no button a retry cannot help. */
  actions: boolean;
  pending: ModelAction | undefined;
  onAction: (model: ModelView, action: ModelAction) => void;
  onDownloadEnded: (ended: ModelView) => void;
}

function ModelRow({ model, actions, pending, onAction, onDownloadEnded }: RowProps) {
  const can = actions ? offer(model) : undefined;
  return (
    <tr data-model={model.id}>
      {/* The row's heading takes focus when its button goes (a download ended, a delete done). */}
      <th scope="row" class="model-name" tabIndex={-1} data-focus={model.state === 'downloading' ? undefined : true}>
        <span class="mono">{model.id}</span>
        {model.default === true && <span class="model-tag">default model</span>}
      </th>
      <td data-label="State">
        {model.state === 'downloading' ? <DownloadProgress model={model} onEnded={onDownloadEnded} /> : <StateBadge state={model.state} />}
        {model.state === 'failed' && model.error !== undefined && <p class="model-error">The download failed: {model.error.message}</p>}
      </td>
      <td data-label="Size" class="num">
        {model.state === 'available' || model.state === 'loaded' ? (
          bytes(model.bytes)
        ) : (
          <span class="muted">
            {bytes(model.bytes)}
            <span class="visually-hidden"> to download</span>
          </span>
        )}
      </td>
      <td data-label="Loaded in">
        <Places places={model.loaded} />
      </td>
      <td data-label="Actions" class="model-actions">
        {can === 'download' && (
          <button type="button" class="button button-small" aria-disabled={pending ? 'true' : undefined} onClick={() => pending === undefined && onAction(model, 'download')}>
            {pending === 'download' ? 'Starting…' : 'Download'}
            <span class="visually-hidden"> {model.id}</span>
          </button>
        )}
        {can === 'delete' && <DeleteButton model={model} busy={pending === 'delete'} onConfirm={() => onAction(model, 'delete')} />}
      </td>
    </tr>
  );
}

/** The engines: ready or not, the default one marked; whisper's own figures are its default model's. */
function Engines({ engines, whisperDefault }: { engines: ModelView[]; whisperDefault: ModelView | undefined }) {
  return (
    <div class="table-wrap">
      <table class="models-table">
        <caption class="visually-hidden">Engines</caption>
        <thead>
          <tr>
            <th scope="col">Engine</th>
            <th scope="col">State</th>
            <th scope="col" class="num">
              On disk
            </th>
            <th scope="col">Loaded in</th>
          </tr>
        </thead>
        <tbody>
          {engines.map((e) => {
            const shared = e.engine === 'whisper' ? whisperDefault : undefined;
            return (
              <tr key={e.id} data-model={e.id}>
                <th scope="row" class="model-name">
                  <span class="mono">{e.id}</span>
                  {e.default === true && <span class="model-tag">default engine</span>}
                  {shared !== undefined && <span class="model-sub">default model: {shared.id}</span>}
                </th>
                <td data-label="State">
                  <StateBadge state={e.state} />
                  {e.state === 'failed' && e.error !== undefined && <p class="model-error">{e.error.message}</p>}
                </td>
                <td data-label="On disk" class="num">
                  {shared !== undefined ? <span class="muted">as {shared.id}</span> : bytes(e.bytes)}
                </td>
                <td data-label="Loaded in">{shared !== undefined ? <span class="muted">as {shared.id}</span> : <Places places={e.loaded} />}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

/** OpenAI's model names, which stand for the default engine: one line, not rows. */
function Aliases({ aliases }: { aliases: ModelView[] }) {
  const target = aliases[0]?.alias_of;
  if (target === undefined) return null;
  return (
    <p class="muted small">
      {aliases.map((a, i) => (
        <span key={a.id}>
          {i > 0 && ', '}
          <span class="mono">{a.id}</span>
        </span>
      ))}{' '}
      are OpenAI’s names, accepted as <span class="mono">model</span> for OpenAI clients: they stand for the default engine, <span class="mono">{target}</span>.
    </p>
  );
}

/** The last download or delete refused, in words; a 403 says an admin key is needed and offers to change the key. */
function ActionFailure({ failure }: { failure: { id: string; action: ModelAction; error: ApiError } }) {
  const said = explainModelError(failure.error, failure.action, failure.id);
  return (
    <div class="model-failure" tabIndex={-1}>
      <ErrorNote title={said.title} detail={said.detail} />
      {needsAdminKey(failure.error) && (
        <button type="button" class="button button-small" onClick={askForKey}>
          Change the API key
        </button>
      )}
    </div>
  );
}

/** Whether focus is in `id`'s row: only then does the row take it back when its control goes. */
function focusInRow(id: string): boolean {
  return document.activeElement?.closest('tr')?.getAttribute('data-model') === id;
}

function listError(err: ApiError): string {
  if (err.status === 403) return 'This API key may not list models: it lacks the “transcribe” scope.';
  return 'The models cannot be listed.';
}

export function ModelsView() {
  const list = usePoll(() => modelsApi.list(), LIST_MS);
  const [pending, setPending] = useState<Record<string, ModelAction>>({});
  const [failure, setFailure] = useState<{ id: string; action: ModelAction; error: ApiError }>();
  const [adminRefused, setAdminRefused] = useState(false);
  /** The model whose row gets focus once the list read after its action shows, if the action's button went. */
  const focusAfter = useRef<string | undefined>(undefined);
  /** Actions answered, whose button shows "…" until the list read after them arrives (no flash of the old button). */
  const answered = useRef(new Set<string>());

  useEffect(() => {
    if (answered.current.size > 0) {
      const done = new Set(answered.current);
      answered.current.clear();
      setPending((p) => Object.fromEntries(Object.entries(p).filter(([id]) => !done.has(id))));
    }
    const id = focusAfter.current;
    focusAfter.current = undefined;
    if (id === undefined || !focusLost()) return;
    (document.querySelector<HTMLElement>(`tr[data-model="${CSS.escape(id)}"] [data-focus]`) ?? document.getElementById('whisper-models-title'))?.focus();
  }, [list.data, list.error]);

  useEffect(() => {
    // A 403 takes the buttons away: focus goes to what says why.
    if (failure !== undefined && focusLost()) document.querySelector<HTMLElement>('.model-failure')?.focus();
  }, [failure, adminRefused]);

  const act = async (model: ModelView, action: ModelAction) => {
    setPending((p) => ({ ...p, [model.id]: action }));
    setFailure(undefined);
    try {
      if (action === 'download') {
        const now = await modelsApi.pull(model.id);
        announce(now.state === 'downloading' ? `Downloading ${model.id}` : `${model.id} is already downloaded`);
      } else {
        await modelsApi.remove(model.id);
        announce(`${model.id} deleted`);
      }
      if (focusInRow(model.id)) focusAfter.current = model.id;
    } catch (err) {
      const error = err instanceof ApiError ? err : new ApiError(0, 'CLIENT', err instanceof Error ? err.message : String(err));
      if (needsAdminKey(error)) setAdminRefused(true);
      setFailure({ id: model.id, action, error });
    }
    answered.current.add(model.id);
    list.refresh();
  };

  const downloadEnded = (ended: ModelView) => {
    announce(ended.state === 'failed' ? `The download of ${ended.id} failed` : `${ended.id} downloaded`);
    // A download started elsewhere (another tab, the CLI) ends without taking focus from the document.
    if (focusInRow(ended.id)) focusAfter.current = ended.id;
    list.refresh();
  };

  const all = list.data ?? [];
  const aliases = all.filter((m) => m.alias_of !== undefined);
  const engines = all.filter((m) => m.alias_of === undefined && m.engine !== undefined && m.id === m.engine);
  const models = all.filter((m) => m.alias_of === undefined && !engines.includes(m));
  const whisperDefault = models.find((m) => m.engine === 'whisper' && m.default === true);
  const onDisk = models.filter((m) => m.state === 'available' || m.state === 'loaded').length;
  const loaded = models.filter((m) => m.state === 'loaded').length;

  return (
    <section aria-labelledby="models-title">
      <PageHead id="models-title" title="Models">
        The engines and whisper models this server offers: what is downloaded, where each is loaded and the memory it takes there. A request picks one with{' '}
        <span class="mono">model</span> (OpenAI routes) or <span class="mono">engine</span> (hark’s). Downloading and deleting need an admin key.
      </PageHead>

      {list.error !== undefined && <ErrorNote title={listError(list.error)} detail={`${list.error.message} (${list.error.code})`} />}
      {list.data === undefined && list.error === undefined && <p class="muted">Loading…</p>}

      {list.data !== undefined && (
        <>
          <div class="panel">
            <h2>Engines</h2>
            <Engines engines={engines} whisperDefault={whisperDefault} />
            <Aliases aliases={aliases} />
          </div>

          <div class="panel">
            <h2 id="whisper-models-title" tabIndex={-1}>
              Whisper models
            </h2>
            {models.length === 0 ? (
              <p class="empty">The whisper engine is not in this server’s ENGINES: there are no model files to manage.</p>
            ) : (
              <>
                <p class="muted small">
                  {`${onDisk} of ${count(models.length, 'model')} downloaded, ${loaded} loaded. Refreshed every five seconds; a download every half second.`}
                </p>
                {failure !== undefined && <ActionFailure failure={failure} />}
                <div class="table-wrap">
                  <table class="models-table">
                    <caption class="visually-hidden">Whisper models</caption>
                    <thead>
                      <tr>
                        <th scope="col">Model</th>
                        <th scope="col">State</th>
                        <th scope="col" class="num">
                          Size
                        </th>
                        <th scope="col">Loaded in</th>
                        <th scope="col">
                          <span class="visually-hidden">Actions</span>
                        </th>
                      </tr>
                    </thead>
                    <tbody>
                      {models.map((m) => (
                        <ModelRow key={m.id} model={m} actions={!adminRefused} pending={pending[m.id]} onAction={(mm, a) => void act(mm, a)} onDownloadEnded={downloadEnded} />
                      ))}
                    </tbody>
                  </table>
                </div>
              </>
            )}
          </div>
        </>
      )}
    </section>
  );
}
