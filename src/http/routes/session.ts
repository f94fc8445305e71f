import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { clearSessionCookie, setSessionCookie } from '../auth.js';
import { errorResponses } from '../openapi.js';
import type { AppDeps } from '../types.js';

/**
 * The web page's session (AUTH_MODE=api_key): the page POSTs its key here and
 * gets a cookie that lets the browser fetch, by GET only, what the page cannot
 * add a header to (see SESSION_COOKIE in ../auth.ts).
 */
export const sessionRoutes: FastifyPluginAsyncZod<AppDeps> = async (app) => {
  app.post(
    '/api/v1/session',
    {
      schema: {
        tags: ['system'],
        summary: 'Makes a browser session cookie for the key sent with this request (GET requests only, 12 h at most); 204 and no cookie when keys are off',
        response: { 204: z.null(), ...errorResponses(401) },
      },
      config: { scope: 'any' },
    },
    async (request, reply) => {
      if (request.apiKey !== undefined) setSessionCookie(request, reply, request.apiKey);
      return reply.code(204).send(null);
    },
  );

  app.delete(
    '/api/v1/session',
    {
      schema: {
        tags: ['system'],
        summary: 'Ends the browser session cookie',
        response: { 204: z.null(), ...errorResponses(401) },
      },
      config: { scope: 'any' },
    },
    async (_request, reply) => {
      clearSessionCookie(reply);
      return reply.code(204).send(null);
    },
  );
};
