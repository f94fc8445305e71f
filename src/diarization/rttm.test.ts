import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { corpusDir } from '../../test/support/eval/index.js';
import { formatRttm, parseRttm } from './rttm.js';

describe('RTTM', () => {
  it('writes NIST SPEAKER lines sorted by start, to the millisecond', () => {
    const text = formatRttm('call', [
      { start: 4.25, end: 6.0004, speaker: 'B' },
      { start: 0, end: 1.5, speaker: 'A' },
      { start: 1.2, end: 3.1, speaker: 'Ann Lee' },
    ]);
    expect(text).toBe(
      'SPEAKER call 1 0.000 1.500 <NA> <NA> A <NA> <NA>\n' +
        'SPEAKER call 1 1.200 1.900 <NA> <NA> Ann_Lee <NA> <NA>\n' +
        'SPEAKER call 1 4.250 1.750 <NA> <NA> B <NA> <NA>\n',
    );
  });

  it('leaves out a turn that rounds to no time, and writes nothing for no turns', () => {
    expect(formatRttm('f', [{ start: 2, end: 2.0004, speaker: 'A' }])).toBe('');
    expect(formatRttm('f', [])).toBe('');
  });

  it('reads back what it writes', () => {
    const turns = [
      { start: 0.5, end: 2.25, speaker: 'A' },
      { start: 2, end: 7.125, speaker: 'B' },
      { start: 7.5, end: 9, speaker: 'A' },
    ];
    const parsed = parseRttm(formatRttm('a', turns) + formatRttm('b', turns.slice(1)));
    expect([...parsed.keys()]).toEqual(['a', 'b']);
    expect(parsed.get('a')).toEqual(turns);
    expect(parsed.get('b')).toEqual(turns.slice(1));
  });

  it('skips blank lines, comments and rows of other types', () => {
    const parsed = parseRttm(
      ';; a comment\n\nSPKR-INFO f 1 <NA> <NA> <NA> unknown A <NA> <NA>\r\n  SPEAKER f 1 1.0 2.0 <NA> <NA> A <NA> <NA>  \r\n',
    );
    expect([...parsed.entries()]).toEqual([['f', [{ start: 1, end: 3, speaker: 'A' }]]]);
  });

  it('names the line of a malformed SPEAKER row', () => {
    const good = 'SPEAKER f 1 0.0 1.0 <NA> <NA> A <NA> <NA>\n';
    expect(() => parseRttm(`${good}SPEAKER f 1 zero 1.0 <NA> <NA> A <NA> <NA>\n`)).toThrow(/RTTM line 2 .*zero/);
    expect(() => parseRttm(`${good}\nSPEAKER f 1 0.0 -1 <NA> <NA> A <NA> <NA>\n`)).toThrow(/RTTM line 3 /);
    expect(() => parseRttm('SPEAKER f 1 0.0 1.0\n')).toThrow(/RTTM line 1 /);
  });

  it('reads the meetings reference: 12 files, 94 turns, 1 to 4 speakers per file', () => {
    const parsed = parseRttm(readFileSync(join(corpusDir(process.env), 'meetings', 'reference.rttm'), 'utf8'));
    const speakers = Object.fromEntries([...parsed].map(([id, turns]) => [id, new Set(turns.map((t) => t.speaker)).size]));
    // Counted with awk '$1=="SPEAKER"{print $2, $8}' reference.rttm | sort -u.
    expect(speakers).toEqual({ trn00: 3, trn01: 4, trn02: 1, trn03: 2, trn04: 3, trn05: 4, trn06: 3, trn07: 4, trn08: 4, trn09: 3, dev00: 2, dev01: 2 });
    expect([...parsed.values()].reduce((n, turns) => n + turns.length, 0)).toBe(94);
    expect(parsed.get('trn03')).toEqual([
      { start: 0, end: 1.184, speaker: 'MEE067' },
      { start: 1.104, end: 30, speaker: 'MÉO069' },
    ]);
  });
});
