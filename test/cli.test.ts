import { describe, expect, it } from 'vitest';
import { tally, wer } from './support/eval/index.js';
import { hark } from './support/cli.js';
import { clip } from './support/corpus.js';

describe('hark transcribe', () => {
  const c = clip('1089-134686-0000');

  it('prints the transcript of a real clip', async () => {
    const r = await hark(['transcribe', c.path]);
    expect(r.code).toBe(0);
    expect(wer([tally(c.transcript, r.stdout)])).toBeLessThan(0.35);
  });

  it('prints json with words and srt with cues', async () => {
    const json = await hark(['transcribe', '--format', 'json', c.path]);
    expect(json.code).toBe(0);
    const body = JSON.parse(json.stdout) as { file: string; words: unknown[]; duration_seconds: number };
    expect(body.file).toBe(c.path);
    expect(body.words.length).toBeGreaterThan(10);
    const srt = await hark(['transcribe', '-f', 'srt', c.path]);
    expect(srt.stdout).toMatch(/^1\n00:00:00,\d{3} --> 00:00:0\d,\d{3}\n/);
  });

  it('prints JSON Lines for several files with --format json', async () => {
    const other = clip('1089-134686-0001');
    const r = await hark(['transcribe', '--format', 'json', c.path, other.path]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { file: string; text: string });
    expect(lines.map((l) => l.file)).toEqual([c.path, other.path]);
  });

  it('runs the engine in a worker process with --isolation process, leaving no process behind', async () => {
    const r = await hark(['transcribe', '--isolation', 'process', c.path]);
    expect(r.code).toBe(0);
    expect(wer([tally(c.transcript, r.stdout)])).toBeLessThan(0.35);
  });

  it('exits non-zero with one clear line per bad file, still transcribing the good ones', async () => {
    const r = await hark(['transcribe', '/etc/hostname', 'does-not-exist.wav', c.path]);
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^hark: \/etc\/hostname: .*\(INVALID_AUDIO\)$/);
    expect(lines[1]).toMatch(/^hark: does-not-exist\.wav: no such file \(MISSING_FILE\)$/);
    expect(r.stdout).toContain(`# ${c.path}`);
  });

  it('rejects an unknown format with one line and exit code 1', async () => {
    const r = await hark(['transcribe', '--format', 'docx', c.path]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain("'docx' is invalid");
  });

  it('stops on an invalid setting with one line naming it', async () => {
    const r = await hark(['transcribe', c.path], { UTTERANCE_MAX_SECONDS: 'long' });
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe('hark: invalid configuration: UTTERANCE_MAX_SECONDS="long" is not allowed (expected a number from 5 to 60)');
  });
});

describe('hark serve / npm start', () => {
  it('refuses to start on an invalid setting, naming the variable, the value and what is allowed', async () => {
    const r = await hark(['serve'], { PORT: 'abc', ENABLE_DOCS: 'maybe', HOST: '127.0.0.1' });
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([
      'hark: invalid configuration: PORT="abc" is not allowed (expected an integer from 0 to 65535)',
      'hark: invalid configuration: ENABLE_DOCS="maybe" is not allowed (expected one of true, false, 1, 0, yes, no)',
    ]);
  });
});
