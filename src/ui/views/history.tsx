import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { api, JOB_STATUSES, type JobStatus, type JobView } from '../api.js';
import { JobName } from '../components/job-rename.js';
import { SelectionBar, type Notice } from '../components/job-select.js';
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

type Order = 'newest' | 'oldest';

/**
 * What the list shows: a status, a search over every job on the server, the days it was
 * submitted (`from` and `to` included, dates of the browser's calendar, `''` for open) and the order.
 */
interface Filter {
  status: JobStatus | undefined;
  q: string;
  from: string;
  to: string;
  order: Order;
}

/** A date input's value (`2026-12-05`); anything else is no date. */
function dateOf(value: string | null): string {
  return value !== null && /^\d{4}-\d{2}-\d{2}$/.test(value) && !Number.isNaN(Date.parse(value)) ? value : '';
}

/** The start of a local calendar day `days` after `date`, as the ISO time the API takes. */
function dayStart(date: string, days = 0): string {
  const [y = 0, m = 1, d = 1] = date.split('-').map(Number);
  return new Date(y, m - 1, d + days).toISOString();
}

/** The filter a URL's hash query names (`#/jobs?status=failed&q=budget&from=2026-12-01`); anything else is no filter. */
function filterOf(params: URLSearchParams): Filter {
  const status = params.get('status');
  return {
    status: (JOB_STATUSES as readonly string[]).includes(status ?? '') ? (status as JobStatus) : undefined,
    q: params.get('q') ?? '',
    from: dateOf(params.get('from')),
    to: dateOf(params.get('to')),
    order: params.get('order') === 'oldest' ? 'oldest' : 'newest',
  };
}

function paramsOf(filter: Filter): URLSearchParams {
  const params = new URLSearchParams();
  if (filter.status !== undefined) params.set('status', filter.status);
  if (filter.q.trim() !== '') params.set('q', filter.q.trim());
  if (filter.from !== '') params.set('from', filter.from);
  if (filter.to !== '') params.set('to', filter.to);
  if (filter.order === 'oldest') params.set('order', 'oldest');
  return params;
}

/** Whether two filters differ in more than the search text: a choice made at once, applied at once. */
function choicesDiffer(a: Filter, b: Filter): boolean {
  return a.status !== b.status || a.from !== b.from || a.to !== b.to || a.order !== b.order;
}

/** The submission days a filter keeps, in words (" submitted from 2026-12-01 to 2026-12-05"), or nothing. */
function daysWords({ from, to }: Filter): string {
  if (from !== '' && to !== '') return from === to ? ` submitted on ${from}` : ` submitted from ${from} to ${to}`;
  if (from !== '') return ` submitted on or after ${from}`;
  return to === '' ? '' : ` submitted on or before ${to}`;
}

/**
 * The first `count` jobs (in the filter's order) under a filter. Polling re-reads every
 * page already shown, so statuses change in place and new jobs appear at the top.
 */
async function loadFirst(filter: Filter, count: number): Promise<Loaded> {
  const jobs: JobView[] = [];
  let cursor: string | undefined;
  let nextCursor: string | null = null;
  const q = filter.q.trim() === '' ? undefined : filter.q.trim();
  // The `to` day is included: the list ends where the next day starts.
  const from = filter.from === '' ? undefined : dayStart(filter.from);
  const to = filter.to === '' ? undefined : dayStart(filter.to, 1);
  const order = filter.order === 'oldest' ? 'oldest' : undefined;
  do {
    const page = await api.jobs({ status: filter.status, q, from, to, order, limit: Math.min(MAX_LIMIT, count - jobs.length), cursor });
    jobs.push(...page.jobs);
    nextCursor = page.next_cursor;
    cursor = nextCursor ?? undefined;
  } while (cursor !== undefined && jobs.length < count);
  return { jobs, nextCursor };
}

/** Why the list is empty, in words, for the filter it was loaded with. */
function Empty({ filter }: { filter: Filter }) {
  const q = filter.q.trim();
  const days = daysWords(filter);
  const status = filter.status === undefined ? '' : `${filter.status} `;
  if (q !== '') return <>{days === '' ? `No ${status}job's file name or transcript contains “${q}”.` : `No ${status}job${days} has “${q}” in its file name or transcript.`}</>;
  if (filter.status !== undefined || days !== '') return <>{`No ${status}jobs${days}.`}</>;
  return (
    <>
      No jobs yet. <a href={href.upload}>Upload a file</a> to start one.
    </>
  );
}

interface RowProps {
  job: JobView;
  selected: boolean;
  onSelect: (id: string, selected: boolean) => void;
  onRenamed: () => void;
}

function Row({ job, selected, onSelect, onRenamed }: RowProps) {
  const ran = between(job.started_at, job.finished_at);
  return (
    <tr class={selected ? 'row-selected' : undefined}>
      <td data-label="File" class="cell-file">
        {/* In the file's cell, not a column of its own: on a phone the row is a card and the box stays by the name. */}
        <div class="file-line">
          <input type="checkbox" class="row-select" checked={selected} aria-label={`Select ${job.file_name}`} onChange={(e) => onSelect(job.id, e.currentTarget.checked)} />
          <JobName job={job} onRenamed={onRenamed} />
        </div>
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

/** What History said after an action; focused when asked, since what it replaces is gone. */
function NoticeNote({ notice }: { notice: Notice }) {
  const ref = useRef<HTMLDivElement>(null);
  useLayoutEffect(() => {
    if (notice.focus === true) ref.current?.focus();
  }, [notice]);
  const tone = notice.tone === 'error' ? ' note-error' : notice.tone === 'warn' ? ' note-warn' : '';
  return (
    <div ref={ref} class={`note history-notice${tone}`} role={notice.tone === 'error' ? 'alert' : 'status'} tabIndex={-1}>
      <p class="note-title">{notice.title}</p>
      {notice.lines?.map((line) => (
        <p key={line} class="note-detail">
          {line}
        </p>
      ))}
    </div>
  );
}

export function HistoryView() {
  const params = useHashParams();
  /** What the inputs show; `applied` follows it once typing pauses, and is what the list and the URL hold. */
  const [typed, setTyped] = useState(() => filterOf(params));
  const [applied, setApplied] = useState(typed);
  const [count, setCount] = useState(PAGE_SIZE);
  const [selected, setSelected] = useState<ReadonlySet<string>>(new Set());
  const [notice, setNotice] = useState<Notice>();
  const key = paramsOf(applied).toString();
  const list = usePoll(() => loadFirst(applied, count), 2000, [key, count]);

  // A navigation to this view (Back, the History link) brings its own filter.
  useEffect(() => {
    const f = filterOf(params);
    setTyped(f);
    setApplied(f);
    setCount(PAGE_SIZE);
  }, [params]);

  useEffect(() => {
    if (!choicesDiffer(typed, applied) && typed.q === applied.q) return;
    const apply = () => {
      setApplied(typed);
      setCount(PAGE_SIZE);
    };
    // A status, a date or the order is a choice made at once; a search waits for a pause in the typing.
    if (choicesDiffer(typed, applied)) return apply();
    const timer = window.setTimeout(apply, SEARCH_PAUSE_MS);
    return () => window.clearTimeout(timer);
  }, [typed]);

  useEffect(() => replaceHashParams(paramsOf(applied)), [applied]);
  // Another list: a selection or a word about the last one would name jobs it may not show.
  useEffect(() => {
    setSelected(new Set());
    setNotice(undefined);
  }, [key]);

  const q = applied.q.trim();
  const jobs = list.data?.jobs ?? [];
  const more = list.data !== undefined && list.data.nextCursor !== null;
  const statusWord = applied.status === undefined ? '' : ` with status ${applied.status}`;
  const chosen = jobs.filter((j) => selected.has(j.id));
  const select = (id: string, on: boolean) => {
    const next = new Set(selected);
    if (on) next.add(id);
    else next.delete(id);
    setSelected(next);
  };
  const setTypedDate = (which: 'from' | 'to', value: string) => setTyped({ ...typed, [which]: dateOf(value) });

  return (
    <section aria-labelledby="history-title">
      <PageHead id="history-title" title="History">
        Every job, {applied.order} first. The list refreshes itself every two seconds.
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
          <div class="field">
            <label for="order-filter">Order</label>
            <select id="order-filter" value={typed.order} onChange={(e) => setTyped({ ...typed, order: e.currentTarget.value === 'oldest' ? 'oldest' : 'newest' })}>
              <option value="newest">Newest first</option>
              <option value="oldest">Oldest first</option>
            </select>
          </div>
          <div class="field">
            <label for="from-filter">Submitted from</label>
            <input id="from-filter" type="date" value={typed.from} max={typed.to || undefined} onChange={(e) => setTypedDate('from', e.currentTarget.value)} />
          </div>
          <div class="field">
            <label for="to-filter">Submitted to</label>
            <input id="to-filter" type="date" value={typed.to} min={typed.from || undefined} onChange={(e) => setTypedDate('to', e.currentTarget.value)} />
          </div>
        </form>

        {notice !== undefined && <NoticeNote notice={notice} />}

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
          <>
            <SelectionBar
              shown={jobs}
              selected={chosen}
              onSelectAll={(all) => setSelected(new Set(all ? jobs.map((j) => j.id) : []))}
              onClear={() => setSelected(new Set())}
              onDone={(n, deleted) => {
                setNotice(n);
                if (!deleted) return;
                setSelected(new Set());
                list.refresh();
              }}
            />
            <div class="table-wrap">
              <table class="jobs-table">
                <caption class="visually-hidden">
                  Jobs{statusWord}
                  {q === '' ? '' : ` whose file name or transcript contains “${q}”`}
                  {daysWords(applied)}
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
                    <Row key={j.id} job={j} selected={selected.has(j.id)} onSelect={select} onRenamed={list.refresh} />
                  ))}
                </tbody>
              </table>
            </div>
          </>
        )}

        {list.data !== undefined && list.error === undefined && (
          <div class="list-foot">
            <p class="muted" aria-live="polite">
              {`${jobs.length} job${jobs.length === 1 ? '' : 's'} ${q === '' ? 'shown' : 'found'}${more ? `; more are ${applied.order === 'oldest' ? 'newer' : 'older'}` : ''}.`}
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
