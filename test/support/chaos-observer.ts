import dc from 'node:diagnostics_channel';
import type { ClientRequest, IncomingMessage } from 'node:http';

/** One answer the load runner received, as its HTTP client saw it. */
export interface SeenAnswer {
  method: string;
  path: string;
  status: number;
  /** The request body's length: each clip's upload has its own, so it names the clip. */
  requestBytes: number | undefined;
  retryAfter: string | undefined;
  body: string;
}

const CHANNEL = 'http.client.response.finish';

/**
 * Records every answer the built-in load runner gets, through Node's own
 * diagnostics channel for its HTTP client: the runner keeps only statuses and
 * codes, while the chaos test needs each accepted job's id, each transcript
 * and the Retry-After header. The runner is not changed in any way (its
 * `data` listener and this one both receive every chunk). Only node:http
 * traffic is seen; the test's own fetch() calls go through undici and are not.
 */
export class AnswerRecorder {
  readonly answers: SeenAnswer[] = [];
  private readonly onMessage = (message: unknown) => {
    const { request, response } = message as { request: ClientRequest; response: IncomingMessage };
    const chunks: Buffer[] = [];
    response.on('data', (c: Buffer) => chunks.push(c));
    response.on('end', () => {
      const length = request.getHeader('content-length');
      const retryAfter = response.headers['retry-after'];
      this.answers.push({
        method: request.method,
        path: request.path,
        status: response.statusCode ?? 0,
        requestBytes: length === undefined ? undefined : Number(length),
        retryAfter: Array.isArray(retryAfter) ? retryAfter.join(',') : retryAfter,
        body: Buffer.concat(chunks).toString('utf8'),
      });
    });
  };

  start(): void {
    dc.subscribe(CHANNEL, this.onMessage);
  }

  stop(): void {
    dc.unsubscribe(CHANNEL, this.onMessage);
  }
}
