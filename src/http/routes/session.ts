import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { clearSessionCookie, mintStreamTicket, setSessionCookie } from '../auth.js';
import { errorResponses } from '../openapi.js';
import type { AppDeps } from '../types.js';

/**
 * The web page's credentials (AUTH_MODE=api_key): the page POSTs its key here and
 * gets a cookie that lets the browser fetch, by GET only, what the page cannot
 * add a header to (see SESSION_COOKIE in ../auth.ts), and a single-use ticket for
 * each WebSocket it opens, so its key never goes in a URL (see TICKET_MS).
 */
export const sessionRoutes: FastifyPluginAsyncZod<AppDeps> = async (app, deps) => {
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
        summary:
          "Ends the key's browser sessions: every session cookie made for it until now stops working on the server (copies included, in every browser), and this browser drops its own",
        response: { 204: z.null(), ...errorResponses(401) },
      },
      config: { scope: 'any' },
    },
    async (request, reply) => {
      if (request.apiKey !== undefined) await deps.keys?.endSessions(request.apiKey.id, Date.now());
      clearSessionCookie(reply);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/api/v1/stream-ticket',
    {
      schema: {
        tags: ['streaming'],
        summary:
          'A ticket that opens one live stream (GET /v1/audio/stream?ticket=...) within 60 s, for the key sent with this request, so a browser need not put its key in the URL; 204 when keys are off (the stream needs none)',
        response: {
          200: z.object({
            ticket: z.string().describe('Opaque; good for one WebSocket upgrade.'),
            expires_in: z.number().describe('Seconds it stays valid.'),
          }),
          204: z.null(),
          ...errorResponses(401, 403),
        },
      },
      // What the ticket opens needs transcribe, so asking for one does too.
      config: { scope: 'transcribe' },
    },
    async (request, reply) => {
      if (request.apiKey === undefined) return reply.code(204).send(null);
      const { ticket, expiresInSeconds } = mintStreamTicket(request.apiKey);
      void reply.header('cache-control', 'no-store');
      return { ticket, expires_in: expiresInSeconds };
    },
  );
};
