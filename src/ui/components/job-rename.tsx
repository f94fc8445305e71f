import { useEffect, useState } from 'preact/hooks';
import { announce } from '../announce.js';
import { ApiError, type JobView } from '../api.js';
import { manageApi } from '../manage-jobs.js';
import { href } from '../router.js';
import { RenameField, useRenameInPlace, type RenameEdit } from './rename-in-place.js';

/** What a refused name means to the user; the server's words follow it. */
function renameError(err: unknown): string {
  if (!(err instanceof ApiError)) return String(err);
  if (err.code === 'INVALID_REQUEST') return 'A name is 1 to 255 characters on one line, without “/” or “\\”.';
  if (err.code === 'JOB_NOT_FOUND') return 'This job no longer exists: it was deleted.';
  return `The name could not be saved: ${err.message} (${err.code})`;
}

/** The name a job shows (the one just saved, until the next poll brings it) and its rename. */
function useJobRename(job: JobView, onRenamed: () => void): [RenameEdit, string] {
  const [saved, setSaved] = useState<string>();
  useEffect(() => setSaved(undefined), [job.file_name]);
  const name = saved ?? job.file_name;
  const edit = useRenameInPlace(async (next) => {
    if (next === name) return;
    try {
      setSaved((await manageApi.rename(job.id, next)).file_name);
    } catch (err) {
      throw new Error(renameError(err));
    }
    announce(`Renamed to ${next}`);
    onRenamed();
  });
  return [edit, name];
}

function RenameButton({ edit, name }: { edit: RenameEdit; name: string }) {
  return (
    <button ref={edit.button} type="button" class="button button-small button-quiet job-rename" onClick={() => edit.open(name)}>
      Rename<span class="visually-hidden"> {name}</span>
    </button>
  );
}

const FIELD_CLASSES = { form: 'job-name-edit', input: 'job-name-input', error: 'job-name-error' };

/**
 * A job's file name, a link to its page, with a Rename button; or the field that edits
 * the name in its place (Enter saves, Escape cancels, focus back on Rename either way).
 */
export function JobName({ job, onRenamed }: { job: JobView; onRenamed: () => void }) {
  const [edit, name] = useJobRename(job, onRenamed);
  if (edit.editing) return <RenameField edit={edit} label={`New name for ${name}`} maxLength={255} id={`rename-${job.id}`} classes={FIELD_CLASSES} />;
  return (
    <span class="job-name">
      <a href={href.job(job.id)}>{name}</a>
      <RenameButton edit={edit} name={name} />
    </span>
  );
}

/** Rename under the job page's heading (the heading itself stays, the page's focus target). */
export function JobRename({ job, onRenamed }: { job: JobView; onRenamed: () => void }) {
  const [edit, name] = useJobRename(job, onRenamed);
  if (edit.editing) return <RenameField edit={edit} label={`New name for ${name}`} maxLength={255} id="rename-this-job" classes={FIELD_CLASSES} />;
  return <RenameButton edit={edit} name={name} />;
}
