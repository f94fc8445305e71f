import type { FastifyInstance } from 'fastify';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import { jsonSchemaTransform } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ERROR_CODES } from '../errors.js';
import { routeDefaults } from './auth.js';
import type { UploadRouteConfig } from './transcribe-handler.js';

export const errorBodySchema = z.object({
  error: z.object({
    code: z.enum(ERROR_CODES),
    message: z.string(),
    details: z.record(z.string(), z.unknown()).optional(),
  }),
});

/** Error answers for a route's OpenAPI document, all of the one `{ error }` shape. */
export function errorResponses(...statuses: number[]): Record<number, typeof errorBodySchema> {
  return Object.fromEntries(statuses.map((s) => [s, errorBodySchema]));
}

const AUTH_DESCRIPTION =
  ' With `AUTH_MODE=api_key` every route but the probes, the web page and these docs needs an API key ' +
  '(`hark keys create`), sent as `Authorization: Bearer <key>` or `X-API-Key: <key>` (the WebSocket stream also ' +
  'takes `?api_key=`). Scopes: `transcribe` for `/v1/audio/*`, `/v1/models`, `/transcriptions*`; `jobs` for ' +
  '`/api/v1/jobs*`; `admin` for `/debug/*` and `/metrics`. Missing or invalid: 401 `UNAUTHORIZED`; without the scope: ' +
  '403 `FORBIDDEN`.';

/**
 * OpenAPI at /docs. Upload routes parse multipart themselves (streaming, with
 * limits), so their request body is described here for the document only.
 * With API keys on, the document says so: both ways to send a key as security
 * schemes, required everywhere but on the open paths.
 */
export async function registerOpenApi(app: FastifyInstance, version: string, apiKeys: boolean): Promise<void> {
  await app.register(fastifySwagger, {
    openapi: {
      info: {
        title: 'hark',
        description:
          'Self-hosted speech-to-text. Every error answers `{"error": {"code", "message"}}`. ' +
          '`/v1/audio/transcriptions` and `/v1/models` speak the OpenAI API, so its clients work unchanged.' +
          (apiKeys ? AUTH_DESCRIPTION : ''),
        version,
      },
      ...(apiKeys
        ? {
            components: {
              securitySchemes: {
                bearer: { type: 'http', scheme: 'bearer', description: 'An API key from `hark keys create` (what the openai client sends as apiKey).' },
                apiKeyHeader: { type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'The same key in a header of its own.' },
              },
            },
            security: [{ bearer: [] }, { apiKeyHeader: [] }],
          }
        : {}),
    },
    transform: (input) => {
      const transformed = jsonSchemaTransform(input);
      // Public routes (probes, page, docs) need no key: an empty requirement overrides the global one.
      const out = apiKeys && input.route.config?.scope === 'public' ? { ...transformed, schema: { ...transformed.schema, security: [] } } : transformed;
      const config = input.route.config as UploadRouteConfig | undefined;
      const upload = config?.upload;
      if (upload === undefined) return out;
      const properties = Object.fromEntries(
        Object.entries(upload.fields).map(([name, f]) => [name, name === 'file' ? { type: 'string', format: 'binary', description: f.description } : f]),
      );
      const schema: Record<string, unknown> = { ...out.schema, body: { type: 'object', required: ['file'], properties } };
      const response = schema['response'] as Record<string, unknown> | undefined;
      if (config?.events !== undefined && response?.['200'] !== undefined) {
        // One 200, two media types: the JSON (or text) answer, or the event stream.
        schema['response'] = {
          ...response,
          200: {
            description: 'The transcript; with stream=true, Server-Sent Events',
            content: { 'application/json': { schema: response['200'] }, 'text/event-stream': { schema: { type: 'string', description: config.events } } },
          },
        };
      }
      return { ...out, schema };
    },
  });
  // The docs are public; @fastify/swagger-ui takes no route config, so its routes get it in a context of their own.
  await app.register(async (docs) => {
    docs.addHook('onRoute', routeDefaults({ scope: 'public' }));
    await docs.register(fastifySwaggerUi, { routePrefix: '/docs' });
  });
}
