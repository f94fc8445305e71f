import type { FastifyBaseLogger } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ISOLATION_MODES } from '../../engines/index.js';
import { AppError } from '../../errors.js';
import { StreamSession, type StreamObserver } from '../../transcription/index.js';
import { errorResponses } from '../openapi.js';
import type { AppDeps } from '../types.js';

/**
 * `GET /v1/audio/stream`: live transcription over a WebSocket (protocol in
 * docs/streaming.md). Capacity is checked before the upgrade, so a full server
 * answers a plain 503 AT_CAPACITY with Retry-After.
 */
export const streamRoutes = (observer: StreamObserver | undefined): FastifyPluginAsyncZod<AppDeps> =>
  async (app, deps) => {
    app.get(
      '/v1/audio/stream',
      {
        websocket: true,
        schema: {
          tags: ['streaming'],
          summary: 'Live transcription over WebSocket: a JSON config, binary audio frames, {"type":"end"}; partial and final results back',
          querystring: z.object({ isolation: z.enum(ISOLATION_MODES).optional() }),
          response: errorResponses(400, 429, 503),
        },
        // After the querystring schema (an unknown ?isolation= is a 400 from it), before the upgrade.
        preHandler: async (request) => {
          const { active, max } = deps.service.streams();
          if (active >= max) {
            throw new AppError('AT_CAPACITY', `${active} live streams already (MAX_STREAMS=${max}); retry later`, { details: { retry_after_seconds: 5 } });
          }
          const isolation = (request.query as { isolation?: (typeof ISOLATION_MODES)[number] }).isolation;
          if (isolation !== undefined) deps.service.requireIsolation(isolation);
          await deps.usage?.check(request.apiKey?.id);
        },
      },
      (socket, request) => {
        const log = request.log;
        let release: () => void;
        try {
          release = deps.service.reserveStream();
        } catch (err) {
          socket.send(JSON.stringify({ type: 'error', code: 'AT_CAPACITY', message: (err as Error).message }));
          socket.close(1013, 'AT_CAPACITY');
          return;
        }
        const session = new StreamSession(
          {
            config: deps.config,
            service: deps.service,
            logger: log,
            observer: keyObserver(observer, deps, request.apiKey?.id, log),
            isolation: (request.query as { isolation?: (typeof ISOLATION_MODES)[number] }).isolation,
            onEnd: release,
          },
          socket,
        );
        socket.on('message', (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
          const buf = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
          session.onMessage(buf, isBinary);
        });
        socket.on('close', () => session.onClose());
        socket.on('error', () => session.onClose());
      },
    );
  };

/** The metrics observer, plus the stream's audio counted against its key's day when it ends (however it ends: the audio was decoded). */
function keyObserver(observer: StreamObserver | undefined, deps: AppDeps, keyId: string | undefined, log: Pick<FastifyBaseLogger, 'warn'>): StreamObserver | undefined {
  if (keyId === undefined || deps.usage === undefined) return observer;
  const usage = deps.usage;
  return {
    streamStarted: (event) => observer?.streamStarted(event),
    resultSent: (event) => observer?.resultSent(event),
    streamEnded: (event) => {
      observer?.streamEnded(event);
      void usage.charge(keyId, event.audioSeconds).catch((err: unknown) => log.warn({ err }, 'could not count the stream\'s audio against its key'));
    },
  };
}
