import { useEffect, useRef, useState } from 'preact/hooks';
import { announce } from '../announce.js';
import { api, ApiError, jobUrls, TERMINAL_STATUSES, type JobRevision, type JobView } from '../api.js';
import { JobOutcome } from '../components/job-outcome.js';
import { JobProgress, PartialTranscript, useJobProgress } from '../components/job-progress.js';
import { LogView, useLogStream } from '../components/log-view.js';
import { ErrorNote, ProgressBar, StatusBadge } from '../components/status.js';
import { SpeakerPanel } from '../components/speakers.js';
import { JobRename } from '../components/job-rename.js';
import { JobTranscript } from '../components/job-transcript.js';
import { between, bytes, clock, span, when } from '../format.js';
import { useNow, usePoll } from '../hooks.js';
import { href } from '../router.js';
import { speakerLabels } from '../speakers.js';

/** Asks before stopping a job: a modal <dialog> (focus stays inside, Escape keeps the job). */
function StopButton({ job, onStopped }: { job: JobView; onStopped: () => void }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [error, setError] = useState<ApiError>();
  const [stopping, setStopping] = useState(false);

  const confirm = async () => {
    setStopping(true);
    try {
      await api.cancel(job.id);
      announce('Job stopped');
      setError(undefined);
    } catch (err) {
      setError(err instanceof ApiError ? err : new ApiError(0, 'CLIENT', String(err)));
    }
    setStopping(false);
    onStopped();
  };

  return (
    <>
      <button type="button" class="button button-danger" disabled={stopping} onClick={() => dialog.current?.showModal()}>
        {stopping ? 'Stopping…' : 'Stop job'}
      </button>
      {error !== undefined && <ErrorNote title="The job could not be stopped." detail={`${error.message} (${error.code})`} />}
      <dialog
        ref={dialog}
        class="dialog"
        aria-labelledby="stop-title"
        aria-describedby="stop-desc"
        onClose={() => {
          if (dialog.current?.returnValue === 'stop') void confirm();
        }}
      >
        <form method="dialog">
          <h2 id="stop-title">Stop this job?</h2>
          <p id="stop-desc">
            “{job.file_name}” is {job.status}. Stopping cancels it{job.status === 'running' ? ' and kills its worker process' : ''}; it cannot be resumed.
          </p>
          <div class="dialog-actions">
            <button type="submit" value="keep" class="button" autofocus>
              Keep running
            </button>
            <button type="submit" value="stop" class="button button-danger">
              Stop job
            </button>
          </div>
        </form>
      </dialog>
    </>
  );
}

/** What a job asked of diarization, in a few words ("2 asked", "2–4 asked", "estimated"). */
function speakerAsk(d: NonNullable<JobView['diarize']>): string {
  if (d.num_speakers !== null) return `${d.num_speakers} asked`;
  if (d.min_speakers !== null && d.max_speakers !== null) return `${d.min_speakers}–${d.max_speakers} asked`;
  if (d.min_speakers !== null) return `${d.min_speakers} or more asked`;
  if (d.max_speakers !== null) return `up to ${d.max_speakers} asked`;
  return 'estimated';
}

function Facts({ job, fetchedAt, speakersFound }: { job: JobView; fetchedAt: number; speakersFound: number | undefined }) {
  const now = useNow(1000);
  // Aged locally from the server's own figure, so the browser's clock does not matter.
  const heartbeat = job.heartbeat_age_seconds === null ? null : job.heartbeat_age_seconds + (now - fetchedAt) / 1000;
  const facts: [string, string][] = [
    ['Audio', clock(job.duration_seconds)],
    ['File size', bytes(job.file_size)],
    ['Engine', job.engine],
    ['Isolation', job.isolation],
    ['Priority', job.priority],
    ['Worker pid', job.process_id === null ? '–' : String(job.process_id)],
    ['Attempts', String(job.attempts)],
    ['Heartbeat', heartbeat === null ? '–' : `${span(heartbeat)} ago`],
    ['Submitted', when(job.created_at)],
    ['Started', when(job.started_at)],
    ['Finished', when(job.finished_at)],
    ['Run time', job.started_at === null ? '–' : span(between(job.started_at, job.finished_at))],
  ];
  if (job.diarize !== null) facts.push(['Speakers', speakersFound === undefined ? speakerAsk(job.diarize) : `${speakersFound} found, ${speakerAsk(job.diarize)}`]);
  return (
    <dl class="facts">
      {facts.map(([k, v]) => (
        <div key={k} class="fact">
          <dt>{k}</dt>
          <dd data-fact={k}>{v}</dd>
        </div>
      ))}
    </dl>
  );
}

function Player({ id, audio, onTime }: { id: string; audio: { current: HTMLAudioElement | null }; onTime: (t: number) => void }) {
  const [failed, setFailed] = useState(false);
  if (failed) return <p class="muted small">The audio cannot be played (it may have just been deleted).</p>;
  return (
    <audio
      ref={(el) => {
        audio.current = el;
      }}
      class="player"
      controls
      preload="metadata"
      src={jobUrls.audio(id)}
      onTimeUpdate={(e) => onTime(e.currentTarget.currentTime)}
      onError={() => setFailed(true)}
      aria-label="Recording"
    />
  );
}

export function JobPage({ id }: { id: string }) {
  const [fetchedAt, setFetchedAt] = useState(Date.now());
  const [finished, setFinished] = useState(false);
  const poll = usePoll(
    async () => {
      const j = await api.job(id);
      setFetchedAt(Date.now());
      return j;
    },
    // A finished job still changes: its audio goes (KEEP_JOB_AUDIO=false), retention removes it.
    finished ? 5000 : 1000,
    [id],
  );
  const job = poll.data?.id === id ? poll.data : undefined;
  // One stream for the log panel and the progress, which reads its lines (each stream is one of the key's follower places).
  const log = useLogStream(id);
  const progress = useJobProgress(job, log.lines);
  const [result, setResult] = useState<JobRevision>();
  const [resultError, setResultError] = useState<ApiError>();
  const [position, setPosition] = useState<number>();
  /** Speakers left out of the transcript. */
  const [hidden, setHidden] = useState<ReadonlySet<string>>(new Set());
  /** The names just saved, until the next poll of the job brings them. */
  const [savedNames, setSavedNames] = useState<Record<string, string>>();
  const audio = useRef<HTMLAudioElement | null>(null);
  const lastStatus = useRef<string | undefined>(undefined);

  useEffect(() => {
    setFinished(false);
    setResult(undefined);
    setResultError(undefined);
    setHidden(new Set());
    setSavedNames(undefined);
    lastStatus.current = undefined;
  }, [id]);

  // The server's names win once a poll brings a change (this tab's save, or another's).
  const serverNames = JSON.stringify(job?.speaker_names ?? {});
  useEffect(() => setSavedNames(undefined), [serverNames]);

  useEffect(() => {
    if (job === undefined) return;
    if (lastStatus.current !== undefined && lastStatus.current !== job.status) announce(`Job ${job.status}`);
    lastStatus.current = job.status;
    if (TERMINAL_STATUSES.includes(job.status)) setFinished(true);
    if (job.status === 'completed' && result === undefined) {
      api.result(id).then(setResult, (err: unknown) => setResultError(err instanceof ApiError ? err : new ApiError(0, 'CLIENT', String(err))));
    }
  }, [job?.status, id]);

  if (job === undefined) {
    return (
      <section aria-labelledby="job-title">
        <p class="crumbs">
          <a href={href.history}>← History</a>
        </p>
        <div class="job-head">
          <div class="job-title">
            <h1 id="job-title" tabIndex={-1}>
              Job
            </h1>
          </div>
        </div>
        {poll.error === undefined ? (
          <p class="muted">Loading…</p>
        ) : poll.error.code === 'JOB_NOT_FOUND' ? (
          <ErrorNote title="There is no such job." detail="It may have been deleted, or removed by retention (JOB_CLEANUP_MAX_AGE_HOURS)." />
        ) : (
          <ErrorNote title="The job cannot be loaded." detail={`${poll.error.message} (${poll.error.code})`} />
        )}
      </section>
    );
  }

  const active = !TERMINAL_STATUSES.includes(job.status);
  const labels = result === undefined ? [] : speakerLabels(result);
  const names = savedNames ?? job.speaker_names;
  const rename = async (label: string, name: string | undefined) => {
    const next = Object.fromEntries(Object.entries(names).filter(([l]) => l !== label));
    if (name !== undefined) next[label] = name;
    try {
      setSavedNames((await api.nameSpeakers(job.id, next)).speaker_names);
    } catch (err) {
      throw new Error(err instanceof ApiError ? `${err.message} (${err.code})` : String(err));
    }
    announce(name === undefined ? 'Name removed' : `Renamed to ${name}`);
    poll.refresh();
  };
  const toggle = (label: string) => {
    const next = new Set(hidden);
    if (!next.delete(label)) next.add(label);
    setHidden(next);
  };
  const seek = (t: number) => {
    const a = audio.current;
    if (a === null) return;
    a.currentTime = t;
    void a.play().catch(() => undefined);
  };

  // The heading sits where the loading view's did, so Preact keeps the element and the focus the
  // router gave it survives the first answer (a new element would drop focus to the document).
  return (
    <section aria-labelledby="job-title">
      <p class="crumbs">
        <a href={href.history}>← History</a>
      </p>
      <div class="job-head">
        <div class="job-title">
          <h1 id="job-title" tabIndex={-1}>
            {job.file_name}
          </h1>
          <p class="muted mono">{job.id}</p>
          <div class="job-rename-line">
            <JobRename job={job} onRenamed={poll.refresh} />
          </div>
        </div>
        {active && (
          <div class="job-actions">
            <StopButton job={job} onStopped={poll.refresh} />
          </div>
        )}
      </div>

      {poll.error !== undefined &&
        (poll.error.code === 'NETWORK' ? (
          <ErrorNote title="The server cannot be reached; retrying." />
        ) : poll.error.code === 'JOB_NOT_FOUND' ? (
          // Polling stops at a 404 (hooks.ts): the job was deleted, or this key may no longer see it.
          <ErrorNote title="This job no longer exists: it was deleted." detail={`${poll.error.message} (${poll.error.code})`} />
        ) : (
          <ErrorNote title="The job cannot be refreshed; retrying." detail={`${poll.error.message} (${poll.error.code})`} />
        ))}

      <div class="panel status-panel">
        <div class="status-line">
          <StatusBadge status={job.status} />
          {active && <JobProgress job={job} progress={progress} />}
        </div>
        {active && <ProgressBar value={progress.fraction} label="Job progress" />}
        {job.status === 'failed' || job.status === 'cancelled' ? (
          <JobOutcome job={job} />
        ) : (
          job.error !== null && <ErrorNote title={`Last attempt ended: ${job.error.code}`} detail={job.error.message} />
        )}
        <Facts job={job} fetchedAt={fetchedAt} speakersFound={result === undefined ? undefined : (result.speakers ?? labels.length)} />
      </div>

      {result !== undefined && labels.length > 0 && (
        <SpeakerPanel
          result={result}
          labels={labels}
          names={names}
          hidden={hidden}
          onToggle={toggle}
          onShowAll={() => setHidden(new Set())}
          onRename={rename}
          onSeek={job.audio_available ? seek : undefined}
          position={position}
        />
      )}

      <div class="job-grid">
        <div class="panel">
          <h2>Transcript</h2>
          {job.audio_available ? (
            <Player id={job.id} audio={audio} onTime={setPosition} />
          ) : (
            <p class="muted small">The audio is not kept after a job ends (KEEP_JOB_AUDIO=false), so it cannot be played here.</p>
          )}
          {job.status === 'completed' ? (
            result !== undefined ? (
              <JobTranscript job={job} result={result} onResult={setResult} onSeek={job.audio_available ? seek : undefined} player={audio} names={names} hidden={hidden} />
            ) : resultError !== undefined ? (
              <ErrorNote title="The transcript cannot be loaded." detail={`${resultError.message} (${resultError.code})`} />
            ) : (
              <p class="muted">Loading the transcript…</p>
            )
          ) : active ? (
            <PartialTranscript segments={progress.segments} />
          ) : (
            <p class="muted">No transcript: the job {job.status}.</p>
          )}
        </div>
        <div class="panel">
          <h2>Log</h2>
          <LogView stream={log} />
        </div>
      </div>
    </section>
  );
}
