import { useState } from 'preact/hooks';
import { announce } from '../announce.js';
import { api, ApiError, type JobView } from '../api.js';
import { href } from '../router.js';
import { ConfirmDelete, useConfirmDialog } from './confirm-dialog.js';
import { ErrorNote } from './status.js';

/** What happened and what to do, for the codes a job can fail with. */
const FAILURES: Record<string, { what: string; todo: string }> = {
  INVALID_AUDIO: {
    what: 'The audio could not be decoded: the file is damaged, or not in a format hark reads.',
    todo: 'Check that it plays elsewhere, convert it to WAV or FLAC, and upload it again.',
  },
  EMPTY_AUDIO: { what: 'The file holds no audio.', todo: 'Upload a recording with sound in it.' },
  AUDIO_TOO_LONG: { what: 'The recording is longer than this server accepts.', todo: 'Split it into shorter parts, or ask the operator to raise MAX_AUDIO_SECONDS.' },
  TRANSCRIPTION_TIMEOUT: { what: 'The engine took longer than this server allows for one job.', todo: 'Retry; if it times out again, split the recording.' },
  WORKER_CRASHED: { what: 'The worker process transcribing it stopped unexpectedly.', todo: 'Retry; if it fails again, tell the server’s operator.' },
  ORPHANED: { what: 'The server running it stopped, too often to carry on.', todo: 'Retry; if it fails again, tell the server’s operator.' },
  UNSUPPORTED_LANGUAGE: { what: 'The engine does not know the language asked for.', todo: 'Upload it again with another language or engine.' },
};
const UPSTREAM = { what: 'The cloud engine refused the job or did not answer.', todo: 'Retry later; if it fails again, tell the server’s operator.' };
const OTHER = { what: 'The job failed.', todo: 'Retry; if it fails again, the log below says more.' };

function failure(code: string): { what: string; todo: string } {
  return FAILURES[code] ?? (code.startsWith('UPSTREAM_') ? UPSTREAM : OTHER);
}

/** Deletes the job after a confirmation (a modal <dialog>), then goes back to History. */
function DeleteButton({ job }: { job: JobView }) {
  const dialog = useConfirmDialog();
  const [error, setError] = useState<ApiError>();

  const remove = async () => {
    try {
      await api.remove(job.id);
    } catch (err) {
      setError(err instanceof ApiError ? err : new ApiError(0, 'CLIENT', String(err)));
      return;
    }
    announce('Job deleted');
    location.hash = href.history;
  };

  return (
    <>
      <button type="button" class="button" onClick={dialog.open}>
        Delete
      </button>
      {error !== undefined && <ErrorNote title="The job could not be deleted." detail={`${error.message} (${error.code})`} />}
      <ConfirmDelete dialog={dialog} title="Delete this job?" onConfirm={() => void remove()}>
        “{job.file_name}”, its log and its audio are removed for good.
      </ConfirmDelete>
    </>
  );
}

/**
 * A failed or cancelled job: what happened in words (a stop by its user is neutral, not an
 * alert), then Retry (a new job with the same settings, on the kept audio) and Delete.
 */
export function JobOutcome({ job }: { job: JobView }) {
  const [retrying, setRetrying] = useState(false);
  const [retryError, setRetryError] = useState<ApiError>();
  const audioGone = !job.audio_available || retryError?.code === 'JOB_AUDIO_GONE';

  const retry = async () => {
    setRetrying(true);
    try {
      const accepted = await api.retry(job.id);
      announce('A new job was started with the same settings');
      location.hash = href.job(accepted.job_id);
    } catch (err) {
      setRetryError(err instanceof ApiError ? err : new ApiError(0, 'CLIENT', String(err)));
    }
    setRetrying(false);
  };

  const failed = job.status === 'failed' && job.error !== null ? failure(job.error.code) : undefined;
  return (
    <div class={`note outcome${failed === undefined ? '' : ' note-error'}`} data-outcome={job.status}>
      {failed === undefined ? (
        <p class="note-title">Stopped before it finished, so there is no transcript.</p>
      ) : (
        <>
          <p class="note-title">{failed.what}</p>
          <p>{failed.todo}</p>
          <p class="note-detail">
            {job.error?.message} ({job.error?.code})
          </p>
        </>
      )}
      {audioGone && <p class="note-detail">Its audio was not kept (KEEP_JOB_AUDIO=false), so it cannot be run again here: upload the file again.</p>}
      {retryError !== undefined && retryError.code !== 'JOB_AUDIO_GONE' && <p class="note-detail">It could not be run again: {retryError.message} ({retryError.code})</p>}
      <div class="outcome-actions">
        {!audioGone && (
          <button type="button" class="button button-primary" disabled={retrying} onClick={() => void retry()}>
            {retrying ? 'Starting…' : 'Retry'}
          </button>
        )}
        <DeleteButton job={job} />
      </div>
    </div>
  );
}
