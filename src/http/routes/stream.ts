import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { WebSocket } from 'ws';
import { z } from 'zod';
import { ISOLATION_MODES, type Isolation } from '../../engines/index.js';
import type { Config } from '../../config/index.js';
import type { StreamObserver, StreamOwner, StreamPlace } from '../../transcription/index.js';
import { refuseSocket, StreamSocketSession, type StreamSocketDeps } from '../stream-socket.js';
import { errorResponses } from '../openapi.js';
import type { AppDeps } from '../types.js';

/**
 * `GET /v1/audio/stream`: live transcription over a WebSocket (protocol in
 * docs/streaming.md). MAX_STREAMS and the key's KEY_MAX_STREAMS are checked
 * before the upgrade, so a full server answers a plain 503 AT_CAPACITY (429
 * RATE_LIMITED for a key at its share) with Retry-After; a busy engine is told
 * after the config message (an error message, close 1013).
 */
const streamQuery = z.object({ isolation: z.enum(ISOLATION_MODES).optional() });
type StreamQuery = z.infer<typeof streamQuery>;

/** Whose KEY_MAX_STREAMS share a stream takes: its key, or without keys its client address (when the setting is on). */
export function streamOwner(request: FastifyRequest, config: Config): StreamOwner | undefined {
  if (request.apiKey !== undefined) return { kind: 'key', id: request.apiKey.id };
  return config.KEY_MAX_STREAMS > 0 ? { kind: 'address', id: request.ip } : undefined;
}

/** What a socket session needs from the upgrade request: the same for hark's protocol and OpenAI's Realtime API. */
export function socketSessionDeps(request: FastifyRequest, deps: AppDeps, observer: StreamObserver | undefined, place: StreamPlace, isolation: Isolation | undefined): StreamSocketDeps {
  return { config: deps.config, service: deps.service, logger: request.log, observer, place, isolation, usage: deps.usage?.meter(request.apiKey?.id) };
}

/**
 * The checks both WebSocket routes make before the upgrade, so a refusal is a
 * plain HTTP answer: the mode the query asks for is on, and the key has hours
 * left today.
 */
export async function checkBeforeUpgrade(request: FastifyRequest, deps: AppDeps, isolation: Isolation | undefined): Promise<void> {
  if (isolation !== undefined) deps.service.requireIsolation(isolation);
  await deps.usage?.check(request.apiKey?.id);
}

/** Hands a socket's messages to its session, and its end (closed or failed) to the session's close. */
export function wireSocket(socket: WebSocket, session: { onMessage(data: Buffer, isBinary: boolean): void; onClose(): void }): void {
  socket.on('message', (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
    const buf = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
    session.onMessage(buf, isBinary);
  });
  socket.on('close', () => session.onClose());
  socket.on('error', () => session.onClose());
}

export const streamRoutes = (observer: StreamObserver | undefined): FastifyPluginAsyncZod<AppDeps> =>
  async (app, deps) => {
    app.get(
      '/v1/audio/stream',
      {
        websocket: true,
        schema: {
          tags: ['streaming'],
          summary: 'Live transcription over WebSocket: a JSON config, binary audio frames, {"type":"end"}; partial and final results and speech start/stop events back',
          querystring: streamQuery,
          response: errorResponses(400, 429, 503),
        },
        // The key may come as ?api_key= (browsers cannot set WebSocket headers); the session cookie never counts.
        config: { scope: 'transcribe', websocketKey: true },
        // After the querystring schema (an unknown ?isolation= is a 400 from it), before the upgrade.
        preHandler: async (request) => {
          deps.service.requireStreamRoom(streamOwner(request, deps.config));
          await checkBeforeUpgrade(request, deps, (request.query as StreamQuery).isolation);
        },
      },
      (socket, request) => {
        let place;
        try {
          // The place checked before the upgrade may have gone to another stream (of this key) since.
          place = deps.service.streamPlace(streamOwner(request, deps.config));
        } catch (err) {
          return refuseSocket(socket, err);
        }
        wireSocket(socket, new StreamSocketSession(socketSessionDeps(request, deps, observer, place, (request.query as StreamQuery).isolation), socket));
      },
    );
  };
