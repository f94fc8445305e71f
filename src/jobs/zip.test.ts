import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { zipArchive } from './zip.js';

describe('zipArchive', () => {
  it('writes an archive Python\'s zipfile reads back byte for byte, with UTF-8 names and checked CRCs', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hark-zip-'));
    try {
      const big = Buffer.from('the same words again '.repeat(5000));
      const srt = Buffer.from('1\n00:00:00,000 --> 00:00:01,000\nbonjour\n');
      const file = join(dir, 'a.zip');
      writeFileSync(
        file,
        zipArchive([
          { name: 'réunion budget.srt', data: srt, modified: new Date(2026, 11, 5, 8, 30, 14) },
          { name: 'folder/big.txt', data: big, modified: new Date(2026, 0, 1) },
          { name: 'empty.txt', data: Buffer.alloc(0), modified: new Date(2026, 0, 1) },
        ]),
      );
      const script =
        'import sys, zipfile, json\n' +
        'z = zipfile.ZipFile(sys.argv[1])\n' +
        'assert z.testzip() is None\n' +
        'print(json.dumps([[i.filename, i.file_size, i.compress_type, list(i.date_time), len(z.read(i))] for i in z.infolist()]))\n';
      const listed = JSON.parse(execFileSync('python3', ['-c', script, file], { encoding: 'utf8' })) as unknown[];
      expect(listed).toEqual([
        ['réunion budget.srt', srt.length, 8, [2026, 12, 5, 8, 30, 14], srt.length],
        ['folder/big.txt', big.length, 8, [2026, 1, 1, 0, 0, 0], big.length],
        ['empty.txt', 0, 8, [2026, 1, 1, 0, 0, 0], 0],
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
