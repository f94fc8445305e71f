import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, isPretty } from './logger.js';

describe('LOG_FORMAT', () => {
  it.each([
    ['auto', true, true],
    ['auto', false, false],
    ['pretty', false, true],
    ['pretty', true, true],
    ['json', true, false],
    ['json', false, false],
  ] as const)('%s with a terminal=%s is pretty=%s', (format, terminal, pretty) => {
    expect(isPretty(format, terminal)).toBe(pretty);
  });
});

function sink(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  return { stream, text: () => chunks.join('') };
}

describe('createLogger', () => {
  it('writes one JSON object per line by default', () => {
    const out = sink();
    createLogger('info', out.stream).info({ jobId: 'j1' }, 'job queued');
    const line = JSON.parse(out.text().trim()) as Record<string, unknown>;
    expect(line).toMatchObject({ msg: 'job queued', jobId: 'j1', level: 30, service: 'hark' });
  });

  it('writes a readable line for a person, with the same redaction', () => {
    const out = sink();
    const logger = createLogger('info', out.stream, true);
    logger.info({ jobId: 'j1', upstream: { headers: { authorization: 'Bearer hark_secret' } } }, 'job queued');
    const text = out.text();
    expect(text).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: job queued \{"jobId":"j1",.*\}\n$/);
    expect(text).not.toContain('hark_secret');
    expect(text).toContain('[redacted]');
    expect(() => JSON.parse(text.split('\n')[0] ?? '')).toThrow();
  });
});
