export { WorkerPool, type PoolSnapshot, type PoolTotals, type WorkerView, type RecycleReason, type WorkerPoolOptions, type PoolObserver } from './pool.js';
export type { WorkerState } from './worker-process.js';
