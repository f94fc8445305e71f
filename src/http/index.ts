export { buildApp, VERSION } from './build-app.js';
export type { AppDeps, Readiness } from './types.js';
export { ERROR_STATUS } from './error-status.js';
