import { api, type CapacityView, type PoolView } from '../api.js';
import { MemoryChart } from '../components/memory-chart.js';
import { PageHead, Stat } from '../components/page-head.js';
import { ErrorNote } from '../components/status.js';
import { bytes, span } from '../format.js';
import { usePoll } from '../hooks.js';
import { href } from '../router.js';

const MODE_LABELS: Record<string, string> = { 'in-process': 'In-process', process: 'Worker processes' };

function CapacityCard({ mode, c }: { mode: string; c: CapacityView }) {
  const used = c.max_workers === 0 ? 0 : Math.min(1, c.active_jobs / c.max_workers);
  return (
    <div class="card">
      <h3>{MODE_LABELS[mode] ?? mode}</h3>
      <dl class="stats">
        <Stat label="Active" value={c.active_jobs} of={c.max_workers} />
        <Stat label="In line" value={c.queued_jobs} of={c.max_queue_size} />
        <Stat label="Jobs waiting" value={c.store_queued_jobs} />
        <Stat label="Free" value={c.available_capacity} />
      </dl>
      <meter class="meter" min={0} max={1} low={0.7} high={0.95} optimum={0} value={used} aria-label={`${MODE_LABELS[mode] ?? mode}: engines busy`} />
      {c.at_capacity && <p class="note note-warn">At capacity: new requests get 503 AT_CAPACITY.</p>}
    </div>
  );
}

function Workers({ pool }: { pool: PoolView }) {
  if (pool.workers.length === 0) return <p class="muted">No worker process is running.</p>;
  return (
    <div class="table-wrap">
      <table class="workers-table">
        <caption class="visually-hidden">Worker processes</caption>
        <thead>
          <tr>
            <th scope="col">Slot</th>
            <th scope="col">PID</th>
            <th scope="col">State</th>
            <th scope="col" class="num">
              Tasks
            </th>
            <th scope="col" class="num">
              RSS
            </th>
            <th scope="col" class="num">
              Uptime
            </th>
            <th scope="col">Current task</th>
          </tr>
        </thead>
        <tbody>
          {pool.workers.map((w) => (
            <tr key={w.pid}>
              <td data-label="Slot">{w.slot}</td>
              <td data-label="PID" class="worker-pid">
                {w.pid}
              </td>
              <td data-label="State">
                <span class={`state state-${w.state}`}>{w.state}</span>
              </td>
              <td data-label="Tasks" class="num">
                {w.tasks_done}
              </td>
              <td data-label="RSS" class="num">
                {bytes(w.rss_bytes)}
              </td>
              <td data-label="Uptime" class="num">
                {span(w.uptime_seconds)}
              </td>
              <td data-label="Current task">
                {w.current_task === null ? (
                  <span class="muted">–</span>
                ) : (
                  <span>
                    <span class="mono">{w.current_task.id.slice(0, 8)}</span>
                    <span class="muted"> for {span(w.current_task.age_seconds)}</span>
                  </span>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function Totals({ pool }: { pool: PoolView }) {
  const t = pool.totals;
  const recycled = Object.values(t.recycled).reduce((a, b) => a + b, 0);
  const items: [string, number, string?][] = [
    ['Spawned', t.spawned],
    ['Recycled', recycled, `tasks ${t.recycled.tasks}, RSS ${t.recycled.rss}, timeout ${t.recycled.timeout}, crash ${t.recycled.crash}, cancel ${t.recycled.cancel}`],
    ['Crashed', t.crashed],
    ['Timed out', t.timed_out],
    ['Start-up failures', t.startup_failures],
  ];
  return (
    <dl class="totals">
      {items.map(([k, v, sub]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd>
            {v}
            {sub !== undefined && <span class="totals-sub">{sub}</span>}
          </dd>
        </div>
      ))}
    </dl>
  );
}

export function SystemView() {
  const info = usePoll(() => api.system(), 10_000);
  const capacity = usePoll(() => api.capacity(), 2000);
  const pool = usePoll(() => api.pool(), 2000);
  const memory = usePoll(() => api.memory(), 2000);
  const poolOff = pool.error?.status === 404;
  const isolation = info.data?.process_isolation_enabled;

  return (
    <section aria-labelledby="system-title">
      <PageHead id="system-title" title="System">
        Capacity, worker processes and memory, refreshed every two seconds.
        {info.data !== undefined && (
          <>
            {' '}
            Process isolation is <strong>{isolation ? 'on' : 'off'}</strong>
            {isolation ? ` (${info.data.worker_count} worker${info.data.worker_count === 1 ? '' : 's'})` : ' (ENABLE_PROCESS_ISOLATED=false)'}; the default
            mode is <strong>{info.data.default_isolation}</strong>.
          </>
        )}
      </PageHead>

      <div class="panel">
        <h2>Capacity</h2>
        {capacity.error !== undefined && <ErrorNote title="Capacity cannot be loaded." detail={`${capacity.error.message} (${capacity.error.code})`} />}
        {capacity.data !== undefined && (
          <>
            <p class="muted small">
              <strong>In line</strong>: uploads that are in and wait for an engine of that mode. <strong>Jobs waiting</strong>: jobs stored until an engine is free, not in
              the line.
            </p>
            <div class="cards">
              {Object.entries(capacity.data.modes).map(([mode, c]) => (
                <CapacityCard key={mode} mode={mode} c={c} />
              ))}
            </div>
          </>
        )}
      </div>

      <div class="panel">
        <h2>Memory</h2>
        <p class="muted small">Resident memory (RSS, native allocations included) of the server and of each worker slot, sampled every 2 s.</p>
        {memory.error !== undefined && <ErrorNote title="The memory history cannot be loaded." detail={`${memory.error.message} (${memory.error.code})`} />}
        {memory.data !== undefined && <MemoryChart history={memory.data} />}
      </div>

      <div class="panel">
        <h2>Workers</h2>
        {poolOff ? (
          <div class="note">
            <p class="note-title">Worker details are not served here.</p>
            <p class="note-detail">
              They come from /debug/pool, which hark serves only when it listens on a loopback address or with ENABLE_DEBUG_ENDPOINTS=true. Capacity and memory above still come
              from the public API.
            </p>
          </div>
        ) : pool.error !== undefined ? (
          <ErrorNote title="The worker pool cannot be loaded." detail={`${pool.error.message} (${pool.error.code})`} />
        ) : pool.data === undefined ? (
          <p class="muted">Loading…</p>
        ) : !pool.data.enabled ? (
          <p class="muted">
            Process isolation is off (ENABLE_PROCESS_ISOLATED=false): no worker process is ever spawned, and every transcription runs in-process. See{' '}
            <a href={href.upload}>Upload</a> to choose a mode per request.
          </p>
        ) : (
          <>
            <p class="muted small">
              {pool.data.ready_workers} of {pool.data.size} ready, {pool.data.busy_workers} busy, {pool.data.waiting_tasks} task{pool.data.waiting_tasks === 1 ? '' : 's'} waiting
              {pool.data.degraded && <strong class="warn-text"> · degraded: a worker slot keeps failing</strong>}
            </p>
            <Workers pool={pool.data} />
            <h3>Since start</h3>
            <Totals pool={pool.data} />
          </>
        )}
      </div>
    </section>
  );
}
