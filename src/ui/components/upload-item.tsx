import { useEffect, useState } from 'preact/hooks';
import type { ResultFormat, UploadAnswer } from '../api.js';
import { bytes, percent } from '../format.js';
import { href } from '../router.js';
import { baseName } from '../save-file.js';
import type { Item, Keeping } from '../upload-queue.js';
import { ErrorNote, ProgressBar } from './status.js';
import { Transcript } from './transcript.js';

/*
 * One file on the upload view: its name, size and phase, then its progress, refusal or
 * answer. An answer stays until dismissed; a sync transcript can be kept as a job.
 */

const EXTENSIONS: Record<ResultFormat, string> = { json: 'json', text: 'txt', srt: 'srt', vtt: 'vtt' };

/** A download link for a sync answer, from a blob made here (never a URL outside the page). */
function BlobLink({ content, type, name }: { content: string; type: string; name: string }) {
  const [url, setUrl] = useState<string>();
  useEffect(() => {
    const u = URL.createObjectURL(new Blob([content], { type }));
    setUrl(u);
    return () => URL.revokeObjectURL(u);
  }, [content, type]);
  return url === undefined ? null : (
    <a class="button button-small" href={url} download={name}>
      Download {name.split('.').pop()}
    </a>
  );
}

function Answer({ fileName, answer: a, kept, onKeep }: { fileName: string; answer: UploadAnswer; kept: Keeping | undefined; onKeep: () => void }) {
  if (a.mode === 'job') {
    return (
      <p class="item-result">
        Job accepted.{' '}
        <a href={href.job(a.jobId)}>
          Open the job<span class="visually-hidden"> for {fileName}</span>
        </a>{' '}
        to follow it.
      </p>
    );
  }
  const name = `${baseName(fileName)}.${EXTENSIONS[a.format]}`;
  const keep = <KeepAsJob fileName={fileName} kept={kept} onKeep={onKeep} />;
  if (a.format === 'json') {
    return (
      <div class="item-result">
        <Transcript result={a.result} />
        <p class="item-result-actions">
          <BlobLink content={JSON.stringify(a.result, null, 2)} type="application/json" name={name} />
        </p>
        {keep}
      </div>
    );
  }
  return (
    <div class="item-result">
      <pre class="plain-result">{a.text}</pre>
      <p class="item-result-actions">
        <BlobLink content={a.text} type="text/plain" name={name} />
      </p>
      {keep}
    </div>
  );
}

/**
 * A sync transcript lives only on this page: "Keep as a job" sends the file again as a job
 * (transcribed anew, with the same settings), which History then keeps.
 */
function KeepAsJob({ fileName, kept, onKeep }: { fileName: string; kept: Keeping | undefined; onKeep: () => void }) {
  if (kept?.phase === 'kept') {
    return (
      <p class="item-kept">
        Kept as a job.{' '}
        <a href={href.job(kept.jobId)}>
          Open the job<span class="visually-hidden"> for {fileName}</span>
        </a>
      </p>
    );
  }
  return (
    <div class="item-kept">
      <button type="button" class="button button-small" onClick={onKeep} disabled={kept?.phase === 'sending'}>
        {kept?.phase === 'sending' ? 'Keeping…' : 'Keep as a job'}
        <span class="visually-hidden"> {fileName}</span>
      </button>
      <span class="hint">This transcript is kept nowhere else: as a job it stays in History (the file is sent and transcribed again).</span>
      {kept?.phase === 'error' && <ErrorNote title={kept.error.title} detail={kept.error.detail} />}
    </div>
  );
}

export function ItemRow({ item, onRemove, onRetry, onKeep, busy }: { item: Item; onRemove: () => void; onRetry: () => void; onKeep: () => void; busy: boolean }) {
  const s = item.state;
  return (
    <li class={`item item-${s.phase}`} data-key={item.key} tabIndex={-1}>
      <div class="item-head">
        <span class="item-name">{item.file.name}</span>
        <span class="item-size">{bytes(item.file.size)}</span>
        <span class="item-phase">
          {s.phase === 'ready' && 'Ready'}
          {s.phase === 'uploading' && (s.sent < s.total ? `Uploading ${percent(s.sent / Math.max(1, s.total))}` : s.mode === 'sync' ? 'Transcribing…' : 'Checking the audio…')}
          {s.phase === 'done' && (s.answer.mode === 'job' ? 'Accepted' : 'Done')}
          {s.phase === 'error' && 'Failed'}
          {s.phase === 'refused' && 'Not uploaded'}
        </span>
        {(s.phase === 'ready' || s.phase === 'error' || s.phase === 'refused') && !busy && (
          <span class="item-actions">
            {s.phase === 'error' && s.retryable && (
              <button type="button" class="button button-small" onClick={onRetry}>
                Retry<span class="visually-hidden"> {item.file.name}</span>
              </button>
            )}
            <button type="button" class="button button-small button-quiet" onClick={onRemove}>
              Remove<span class="visually-hidden"> {item.file.name}</span>
            </button>
          </span>
        )}
        {s.phase === 'done' && (
          <span class="item-actions">
            <button type="button" class="button button-small button-quiet" onClick={onRemove}>
              Dismiss<span class="visually-hidden"> {item.file.name}</span>
            </button>
          </span>
        )}
      </div>
      {s.phase === 'uploading' && <ProgressBar value={s.sent < s.total ? s.sent / Math.max(1, s.total) : undefined} label={`Upload of ${item.file.name}`} />}
      {(s.phase === 'error' || s.phase === 'refused') && <ErrorNote title={s.error.title} detail={s.error.detail} />}
      {s.phase === 'done' && <Answer fileName={item.file.name} answer={s.answer} kept={s.kept} onKeep={onKeep} />}
    </li>
  );
}
