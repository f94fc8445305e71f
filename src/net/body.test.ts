import { describe, expect, it } from 'vitest';
import { BodyTooLargeError, readBodyLimited } from './body.js';

/** A body of `chunks` chunks of `size` bytes, counting how many were pulled. */
function streamed(chunks: number, size: number): { res: Response; pulled: () => number } {
  let pulled = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (pulled === chunks) return controller.close();
      pulled++;
      controller.enqueue(new Uint8Array(size).fill(97));
    },
  });
  return { res: new Response(body), pulled: () => pulled };
}

describe('readBodyLimited', () => {
  it('returns a body within the limit whole', async () => {
    const { res } = streamed(4, 1000);
    expect((await readBodyLimited(res, 4000)).length).toBe(4000);
  });

  it('stops reading a body that passes the limit, and says so', async () => {
    const { res, pulled } = streamed(1_000_000, 1024);
    await expect(readBodyLimited(res, 10 * 1024)).rejects.toBeInstanceOf(BodyTooLargeError);
    expect(pulled()).toBeLessThan(20);
  });

  it('refuses a declared Content-Length over the limit before reading', async () => {
    const { res, pulled } = streamed(10, 1024);
    const declared = new Response(res.body, { headers: { 'content-length': String(10 * 1024) } });
    await expect(readBodyLimited(declared, 1024)).rejects.toThrow('the answer is larger than 1024 bytes');
    expect(pulled()).toBeLessThanOrEqual(1);
  });
});
