import { PassThrough } from 'node:stream';
import type { FastifyReply } from 'fastify';

/**
 * A Server-Sent Events answer body: each event is one `data:` line of JSON
 * and a blank line, the framing OpenAI's streaming answers use and its
 * clients parse. Sent through Fastify (not hijacked), so the usual headers
 * and the metrics hook still apply. Events written before the body is sent
 * wait in it; events after the client left are dropped.
 */
export class SseBody {
  private readonly stream = new PassThrough();

  /** True once ended, or destroyed because the client went away. */
  get closed(): boolean {
    return this.stream.destroyed || this.stream.writableEnded;
  }

  send(event: object): void {
    // JSON.stringify escapes newlines, so an event is always a single data line.
    if (!this.closed) this.stream.write(`data: ${JSON.stringify(event)}\n\n`);
  }

  /** A comment line: parsers skip it, and it makes the headers go out at once. */
  comment(text: string): void {
    if (!this.closed) this.stream.write(`: ${text.replace(/[\r\n]+/g, ' ')}\n\n`);
  }

  end(): void {
    if (!this.closed) this.stream.end();
  }

  /** Answers 200 with this body; nothing may cache it, and proxies must not hold it back (nginx: X-Accel-Buffering). */
  reply(reply: FastifyReply): FastifyReply {
    return reply
      .code(200)
      .headers({ 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-accel-buffering': 'no' })
      .send(this.stream);
  }
}
