import { pbkdf2 } from 'node:crypto';
import { existsSync, mkdtempSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { pipeToFile } from './file-sink.js';

describe('pipeToFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hark-sink-'));
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  /** Fills libuv's four threads, so a file's open waits behind them, as on a loaded server. */
  function busyThreadPool(): Promise<void> {
    return Promise.all(
      Array.from({ length: 4 }, () => new Promise<void>((resolve) => pbkdf2('x', 'y', 300_000, 64, 'sha512', () => resolve()))),
    ).then(() => undefined);
  }

  /**
   * Once the call has rejected, the file is there or never will be: a caller's
   * `rm` then is final. (A late open would create it after that `rm` ran.)
   */
  async function expectSettled(path: string, busy: Promise<void>): Promise<void> {
    const atReject = existsSync(path);
    await busy;
    await new Promise((r) => setTimeout(r, 50));
    expect(existsSync(path)).toBe(atReject);
    await rm(path, { force: true });
    expect(existsSync(path)).toBe(false);
  }

  it('a source that fails before the file is even opened: once it rejects, removing the file is final', async () => {
    const busy = busyThreadPool();
    const path = join(dir, 'broken.upload');
    const source = new Readable({
      read() {
        this.destroy(new Error('Unexpected end of form'));
      },
    });
    await expect(pipeToFile(source, path, { flags: 'wx' })).rejects.toThrow('Unexpected end of form');
    await expectSettled(path, busy);
  });

  it('a source that ends writes the whole file', async () => {
    const path = join(dir, 'whole.bin');
    await pipeToFile(Readable.from([Buffer.from('abc'), Buffer.from('def')]), path);
    expect(await readFile(path, 'utf8')).toBe('abcdef');
  });
});
