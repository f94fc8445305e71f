export { Metrics, type MetricsSources } from './metrics.js';
export { metricsRoutes } from './routes.js';
