import { useEffect, useState } from 'preact/hooks';
import { api, JOB_STATUSES, type JobStatus, type JobView } from '../api.js';
import { ErrorNote, StatusBadge } from '../components/status.js';
import { PageHead } from '../components/page-head.js';
import { between, clock, percent, span, when } from '../format.js';
import { usePoll } from '../hooks.js';
import { href, replaceHashParams, useHashParams } from '../router.js';

const PAGE_SIZE = 25;
/** The API's largest page. */
const MAX_LIMIT = 200;
/** Typing waits this long for a pause before the server is asked. */
const SEARCH_PAUSE_MS = 300;

interface Loaded {
  jobs: JobView[];
  nextCursor: string | null;
}

/** What the list shows: a status, a search over every job on the server, or neither. */
interface Filter {
  status: JobStatus | undefined;
  q: string;
}

/** The filter a URL's hash query names (`#/jobs?status=failed&q=budget`); anything else is no filter. */
function filterOf(params: URLSearchParams): Filter {
  const status = params.get('status');
  return { status: (JOB_STATUSES as readonly string[]).includes(status ?? '') ? (status as JobStatus) : undefined, q: params.get('q') ?? '' };
}

function paramsOf(filter: Filter): URLSearchParams {
  const params = new URLSearchParams();
  if (filter.status !== undefined) params.set('status', filter.status);
  if (filter.q.trim() !== '') params.set('q', filter.q.trim());
  return params;
}

/**
 * The first `count` jobs (newest first) under a filter. Polling re-reads every
 * page already shown, so statuses change in place and new jobs appear at the top.
 */
async function loadFirst(filter: Filter, count: number): Promise<Loaded> {
  const jobs: JobView[] = [];
  let cursor: string | undefined;
  let nextCursor: string | null = null;
  const q = filter.q.trim() === '' ? undefined : filter.q.trim();
  do {
    const page = await api.jobs({ status: filter.status, q, limit: Math.min(MAX_LIMIT, count - jobs.length), cursor });
    jobs.push(...page.jobs);
    nextCursor = page.next_cursor;
    cursor = nextCursor ?? undefined;
  } while (cursor !== undefined && jobs.length < count);
  return { jobs, nextCursor };
}

/** Why the list is empty, in words, for the filter it was loaded with. */
function Empty({ filter }: { filter: Filter }) {
  const q = filter.q.trim();
  if (q !== '') return <>{`No ${filter.status === undefined ? '' : `${filter.status} `}job's file name or transcript contains “${q}”.`}</>;
  if (filter.status !== undefined) return <>{`No ${filter.status} jobs.`}</>;
  return (
    <>
      No jobs yet. <a href={href.upload}>Upload a file</a> to start one.
    </>
  );
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
  const params = useHashParams();
  /** What the inputs show; `applied` follows it once typing pauses, and is what the list and the URL hold. */
  const [typed, setTyped] = useState(() => filterOf(params));
  const [applied, setApplied] = useState(typed);
  const [count, setCount] = useState(PAGE_SIZE);
  const list = usePoll(() => loadFirst(applied, count), 2000, [applied.status, applied.q.trim(), count]);

  // A navigation to this view (Back, the History link) brings its own filter.
  useEffect(() => {
    const f = filterOf(params);
    setTyped(f);
    setApplied(f);
    setCount(PAGE_SIZE);
  }, [params]);

  useEffect(() => {
    if (typed.status === applied.status && typed.q === applied.q) return;
    const apply = () => {
      setApplied(typed);
      setCount(PAGE_SIZE);
    };
    // A status is a choice made at once; a search waits for a pause in the typing.
    if (typed.status !== applied.status) return apply();
    const timer = window.setTimeout(apply, SEARCH_PAUSE_MS);
    return () => window.clearTimeout(timer);
  }, [typed]);

  useEffect(() => replaceHashParams(paramsOf(applied)), [applied]);

  const q = applied.q.trim();
  const jobs = list.data?.jobs ?? [];
  const more = list.data !== undefined && list.data.nextCursor !== null;
  const statusWord = applied.status === undefined ? '' : ` with status ${applied.status}`;

  return (
    <section aria-labelledby="history-title">
      <PageHead id="history-title" title="History">
        Every job, newest first. The list refreshes itself every two seconds.
      </PageHead>

      <div class="panel">
        <form
          class="filters"
          role="search"
          onSubmit={(e) => {
            e.preventDefault();
            setApplied(typed);
            setCount(PAGE_SIZE);
          }}
        >
          <div class="field">
            <label for="search">Search file names and transcripts</label>
            <input id="search" type="search" value={typed.q} onInput={(e) => setTyped({ ...typed, q: e.currentTarget.value })} placeholder="e.g. meeting" autocomplete="off" />
          </div>
          <div class="field">
            <label for="status-filter">Status</label>
            <select
              id="status-filter"
              value={typed.status ?? ''}
              onChange={(e) => {
                const v = e.currentTarget.value;
                setTyped({ ...typed, status: v === '' ? undefined : (v as JobStatus) });
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

        {/* Without an answer there is nothing to say about the jobs: an error says so above. */}
        {list.data === undefined ? (
          list.error === undefined && <p class="muted">Loading…</p>
        ) : jobs.length === 0 ? (
          list.error === undefined && (
            <p class="empty" role="status">
              <Empty filter={applied} />
            </p>
          )
        ) : (
          <div class="table-wrap">
            <table class="jobs-table">
              <caption class="visually-hidden">
                Jobs{statusWord}
                {q === '' ? '' : ` whose file name or transcript contains “${q}”`}
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
                {jobs.map((j) => (
                  <Row key={j.id} job={j} />
                ))}
              </tbody>
            </table>
          </div>
        )}

        {list.data !== undefined && list.error === undefined && (
          <div class="list-foot">
            <p class="muted" aria-live="polite">
              {`${jobs.length} job${jobs.length === 1 ? '' : 's'} ${q === '' ? 'shown' : 'found'}${more ? '; more are older' : ''}.`}
            </p>
            {more && (
              <button type="button" class="button" onClick={() => setCount((c) => c + PAGE_SIZE)}>
                Load {PAGE_SIZE} more
              </button>
            )}
          </div>
        )}
      </div>
    </section>
  );
}
