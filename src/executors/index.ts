export type { Executor, ExecutionResult, ExecutorStreamCallbacks, TranscriptionTask } from './types.js';
export { InProcessExecutor, type InProcessExecutorOptions } from './in-process.js';
export { Admission, Lease, Ticket, type AdmissionOptions, type AdmissionSnapshot } from './admission.js';
export { PoolExecutor } from './pool-executor.js';
