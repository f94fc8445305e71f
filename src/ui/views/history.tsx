import { useState } from 'preact/hooks';
import { api, JOB_STATUSES, type JobStatus, type JobView } from '../api.js';
import { ErrorNote, StatusBadge } from '../components/status.js';
import { PageHead } from '../components/page-head.js';
import { between, clock, percent, span, when } from '../format.js';
import { usePoll } from '../hooks.js';
import { href } from '../router.js';

const PAGE_SIZE = 25;
/** The API's largest page. */
const MAX_LIMIT = 200;

interface Loaded {
  jobs: JobView[];
  nextCursor: string | null;
}

/**
 * The first `count` jobs (newest first) under a status filter. Polling re-reads every
 * page already shown, so statuses change in place and new jobs appear at the top.
 */
async function loadFirst(status: JobStatus | undefined, count: number): Promise<Loaded> {
  const jobs: JobView[] = [];
  let cursor: string | undefined;
  let nextCursor: string | null = null;
  do {
    const page = await api.jobs({ status, limit: Math.min(MAX_LIMIT, count - jobs.length), cursor });
    jobs.push(...page.jobs);
    nextCursor = page.next_cursor;
    cursor = nextCursor ?? undefined;
  } while (cursor !== undefined && jobs.length < count);
  return { jobs, nextCursor };
}

function Row({ job }: { job: JobView }) {
  const ran = between(job.started_at, job.finished_at);
  return (
    <tr>
      <td data-label="File" class="cell-file">
        <a href={href.job(job.id)}>{job.file_name}</a>
      </td>
      <td data-label="Status">
        <StatusBadge status={job.status} />
        {job.status === 'running' && <span class="muted cell-progress">{percent(job.progress)}</span>}
      </td>
      <td data-label="Audio" class="num">
        {clock(job.duration_seconds)}
      </td>
      <td data-label="Submitted">{when(job.created_at)}</td>
      <td data-label="Run time" class="num">
        {job.started_at === null ? '–' : span(ran)}
      </td>
      <td data-label="Mode">{job.isolation}</td>
    </tr>
  );
}

export function HistoryView() {
  const [status, setStatus] = useState<JobStatus | undefined>(undefined);
  const [query, setQuery] = useState('');
  const [count, setCount] = useState(PAGE_SIZE);
  const list = usePoll(() => loadFirst(status, count), 2000, [status, count]);

  const needle = query.trim().toLowerCase();
  const jobs = list.data?.jobs ?? [];
  const shown = needle === '' ? jobs : jobs.filter((j) => j.file_name.toLowerCase().includes(needle));
  const more = list.data?.nextCursor !== null && list.data !== undefined;

  return (
    <section aria-labelledby="history-title">
      <PageHead id="history-title" title="History">
        Every job, newest first. The list refreshes itself every two seconds.
      </PageHead>

      <div class="panel">
        <form class="filters" role="search" onSubmit={(e) => e.preventDefault()}>
          <div class="field">
            <label for="search">Search file names</label>
            <input id="search" type="search" value={query} onInput={(e) => setQuery(e.currentTarget.value)} placeholder="e.g. meeting" autocomplete="off" />
          </div>
          <div class="field">
            <label for="status-filter">Status</label>
            <select
              id="status-filter"
              value={status ?? ''}
              onChange={(e) => {
                const v = e.currentTarget.value;
                setStatus(v === '' ? undefined : (v as JobStatus));
                setCount(PAGE_SIZE);
              }}
            >
              <option value="">All</option>
              {JOB_STATUSES.map((s) => (
                <option key={s} value={s}>
                  {s[0]!.toUpperCase() + s.slice(1)}
                </option>
              ))}
            </select>
          </div>
        </form>

        {list.error !== undefined && <ErrorNote title="The job list cannot be loaded." detail={`${list.error.message} (${list.error.code})`} />}

        {list.data === undefined && list.error === undefined ? (
          <p class="muted">Loading…</p>
        ) : shown.length === 0 ? (
          <p class="empty" role="status">
            {jobs.length === 0 ? (
              status === undefined ? (
                <>
                  No jobs yet. <a href={href.upload}>Upload a file</a> to start one.
                </>
              ) : (
                `No ${status} jobs.`
              )
            ) : (
              `No loaded job's file name contains “${query.trim()}”.`
            )}
          </p>
        ) : (
          <div class="table-wrap">
            <table class="jobs-table">
              <caption class="visually-hidden">
                Jobs{status === undefined ? '' : ` with status ${status}`}
                {needle === '' ? '' : ` whose file name contains “${query.trim()}”`}
              </caption>
              <thead>
                <tr>
                  <th scope="col">File</th>
                  <th scope="col">Status</th>
                  <th scope="col" class="num">
                    Audio
                  </th>
                  <th scope="col">Submitted</th>
                  <th scope="col" class="num">
                    Run time
                  </th>
                  <th scope="col">Mode</th>
                </tr>
              </thead>
              <tbody>
                {shown.map((j) => (
                  <Row key={j.id} job={j} />
                ))}
              </tbody>
            </table>
          </div>
        )}

        <div class="list-foot">
          <p class="muted" aria-live="polite">
            {list.data !== undefined &&
              (needle === ''
                ? `${jobs.length} job${jobs.length === 1 ? '' : 's'} shown${more ? '; more are older' : ''}.`
                : `${shown.length} of the ${jobs.length} loaded jobs match${more ? '; load more to search older ones' : ''}.`)}
          </p>
          {more && (
            <button type="button" class="button" onClick={() => setCount((c) => c + PAGE_SIZE)}>
              Load {PAGE_SIZE} more
            </button>
          )}
        </div>
      </div>
    </section>
  );
}
