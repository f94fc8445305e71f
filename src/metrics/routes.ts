import type { FastifyInstance, RouteShorthandOptions } from 'fastify';
import { AppError } from '../errors.js';
import type { Metrics } from './metrics.js';

/**
 * GET /metrics in Prometheus text format, and the HTTP metrics hook. Route
 * labels are Fastify's patterns (`/api/v1/jobs/:id`), never raw URLs.
 */
export function metricsRoutes(app: FastifyInstance, metrics: Metrics): void {
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    if (route === '/metrics') return;
    const labels = { route, method: request.method };
    metrics.httpRequests.inc({ ...labels, status: String(reply.statusCode) });
    metrics.httpDuration.observe(labels, reply.elapsedTime / 1000);
    if (request.harkErrorCode !== undefined) metrics.errors.inc({ code: request.harkErrorCode });
  });
  // Admin keys, or METRICS_TOKEN for a scraper without one.
  const options: RouteShorthandOptions = {
    schema: { tags: ['metrics'], summary: 'Prometheus metrics (text format)', hide: false },
    config: { scope: 'admin', metricsToken: true },
  };
  app.get('/metrics', options, async (_request, reply) => {
    try {
      const body = await metrics.registry.metrics();
      return reply.type(metrics.registry.contentType).send(body);
    } catch (cause) {
      throw new AppError('INTERNAL_ERROR', 'metrics collection failed', { cause });
    }
  });
}
