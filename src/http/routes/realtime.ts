import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ISOLATION_MODES } from '../../engines/index.js';
import { toSerializedError } from '../../errors.js';
import type { StreamObserver } from '../../transcription/index.js';
import { errorResponses } from '../openapi.js';
import { appErrorEvent } from '../realtime-events.js';
import { RealtimeSession } from '../realtime-socket.js';
import { closeCodeFor } from '../stream-socket.js';
import type { AppDeps } from '../types.js';
import { checkBeforeUpgrade, socketSessionDeps, streamOwner, wireSocket } from './stream.js';

/**
 * `GET /v1/realtime`: OpenAI's Realtime API for transcription over a WebSocket
 * (docs/streaming.md, "OpenAI Realtime API"), on the same live streams,
 * limits and keys as `/v1/audio/stream`. Unlike hark's own protocol, a full
 * server (MAX_STREAMS, KEY_MAX_STREAMS) and a busy engine are told as OpenAI
 * tells them: the upgrade succeeds, then an `error` event and a close.
 * `model` and `intent` are what OpenAI's clients put in the URL; the
 * transcription model is the session's.
 */
const realtimeQuery = z.object({
  model: z.string().max(128).optional(),
  intent: z.string().max(64).optional(),
  isolation: z.enum(ISOLATION_MODES).optional(),
});
type RealtimeQuery = z.infer<typeof realtimeQuery>;

export const realtimeRoutes = (observer: StreamObserver | undefined): FastifyPluginAsyncZod<AppDeps> =>
  async (app, deps) => {
    app.get(
      '/v1/realtime',
      {
        websocket: true,
        schema: {
          tags: ['streaming'],
          summary: "OpenAI's Realtime API, transcription sessions: session.update, input_audio_buffer.append/commit/clear in; speech, commit, delta and completed events out",
          querystring: realtimeQuery,
          response: errorResponses(400, 401, 403, 429),
        },
        // OpenAI's clients send `Authorization: Bearer`; browsers may use ?api_key= or a ticket as on /v1/audio/stream.
        config: { scope: 'transcribe', websocketKey: true },
        preHandler: (request) => checkBeforeUpgrade(request, deps, (request.query as RealtimeQuery).isolation),
      },
      (socket, request) => {
        let place;
        try {
          place = deps.service.streamPlace(streamOwner(request, deps.config));
        } catch (err) {
          const e = toSerializedError(err);
          socket.send(JSON.stringify(appErrorEvent(e)));
          return socket.close(closeCodeFor(e.code), e.code);
        }
        wireSocket(socket, new RealtimeSession(socketSessionDeps(request, deps, observer, place, (request.query as RealtimeQuery).isolation), socket));
      },
    );
  };
