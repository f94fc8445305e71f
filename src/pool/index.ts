export { WorkerPool, type WorkerPoolOptions, type PoolObserver } from './pool.js';
export type { PoolSnapshot, WorkerView } from './pool-view.js';
export type { PoolTotals, RecycleReason } from './recycle-policy.js';
export type { WorkerState } from './worker-process.js';
