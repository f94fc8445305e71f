import type { FastifyInstance } from 'fastify';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import { jsonSchemaTransform } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ERROR_CODES } from '../errors.js';
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

/**
 * OpenAPI at /docs. Upload routes parse multipart themselves (streaming, with
 * limits), so their request body is described here for the document only.
 */
export async function registerOpenApi(app: FastifyInstance, version: string): Promise<void> {
  await app.register(fastifySwagger, {
    openapi: {
      info: {
        title: 'hark',
        description:
          'Self-hosted speech-to-text. Every error answers `{"error": {"code", "message"}}`. ' +
          '`/v1/audio/transcriptions` and `/v1/models` speak the OpenAI API, so its clients work unchanged.',
        version,
      },
    },
    transform: (input) => {
      const out = jsonSchemaTransform(input);
      const upload = (input.route.config as UploadRouteConfig | undefined)?.upload;
      if (upload === undefined) return out;
      const properties = Object.fromEntries(
        Object.entries(upload.fields).map(([name, f]) => [name, name === 'file' ? { type: 'string', format: 'binary', description: f.description } : f]),
      );
      return { ...out, schema: { ...out.schema, body: { type: 'object', required: ['file'], properties } } };
    },
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' });
}
