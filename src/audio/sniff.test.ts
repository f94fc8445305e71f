import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sniffAudio } from './sniff.js';

const dir = mkdtempSync(join(tmpdir(), 'hark-sniff-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
function file(name: string, bytes: Buffer): [string, number] {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return [p, bytes.length];
}

function wav(dataBytes: number, actual: number): Buffer {
  const h = Buffer.alloc(44);
  h.write('RIFF', 0, 'latin1');
  h.writeUInt32LE(36 + dataBytes, 4);
  h.write('WAVEfmt ', 8, 'latin1');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20);
  h.writeUInt16LE(1, 22);
  h.writeUInt32LE(16000, 24);
  h.writeUInt32LE(32000, 28);
  h.writeUInt16LE(2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36, 'latin1');
  h.writeUInt32LE(dataBytes, 40);
  return Buffer.concat([h, Buffer.alloc(actual)]);
}

describe('sniffAudio', () => {
  it('recognises containers from their first bytes', async () => {
    const cases: [string, Buffer][] = [
      ['flac', Buffer.from('fLaC\0\0\0\x22' + '\0'.repeat(30), 'latin1')],
      ['ogg', Buffer.from('OggS' + '\0'.repeat(30), 'latin1')],
      ['mp4', Buffer.from('\0\0\0\x20ftypM4A ' + '\0'.repeat(30), 'latin1')],
      ['webm', Buffer.concat([Buffer.from([0x1a, 0x45, 0xdf, 0xa3]), Buffer.alloc(30)])],
      ['mp3', Buffer.from('ID3\x04' + '\0'.repeat(30), 'latin1')],
    ];
    for (const [container, bytes] of cases) expect((await sniffAudio(...file(container, bytes)))?.container).toBe(container);
  });

  it('reads a WAV duration, never more than the file holds', async () => {
    expect(await sniffAudio(...file('a.wav', wav(32000, 32000)))).toEqual({ container: 'wav', durationSeconds: 1 });
    expect((await sniffAudio(...file('huge.wav', wav(0xffffff00, 16000))))?.durationSeconds).toBe(0.5);
  });

  it('does not recognise text or random bytes', async () => {
    expect(await sniffAudio(...file('t.wav', Buffer.from('hello, this is not audio at all\n')))).toBeUndefined();
    expect(await sniffAudio(...file('short', Buffer.from('RIFF')))).toBeUndefined();
  });
});
