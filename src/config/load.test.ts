import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { envExample } from './docs.js';
import { ConfigError, configShape, loadConfig } from './index.js';

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig({ env });
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('loadConfig', () => {
  it('gives documented defaults', () => {
    const c = loadConfig({ env: {} });
    expect(c).toMatchObject({ HOST: '127.0.0.1', PORT: 8000, MAX_FILE_SIZE_MB: 500, ENGINE: 'pocketsphinx', ENABLE_DOCS: true });
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('reports every bad value at once, one line each naming variable, value and what is allowed', () => {
    expect(problems({ PORT: 'abc', ENABLE_DOCS: 'maybe', LOG_LEVEL: 'loud', MAX_FILE_SIZE_MB: '-1' })).toEqual([
      'invalid configuration: PORT="abc" is not allowed (expected an integer from 0 to 65535)',
      'invalid configuration: LOG_LEVEL="loud" is not allowed (expected one of fatal, error, warn, info, debug, trace, silent)',
      'invalid configuration: MAX_FILE_SIZE_MB="-1" is not allowed (expected a number from 0.001 to 10240)',
      'invalid configuration: ENABLE_DOCS="maybe" is not allowed (expected one of true, false, 1, 0, yes, no)',
    ]);
    expect(problems({ PORT: '70000' })).toEqual(['invalid configuration: PORT="70000" is not allowed (expected an integer from 0 to 65535)']);
    expect(problems({ IN_PROCESS_CONCURRENCY: '1.5' })[0]).toContain('an integer from 1 to 64');
    expect(problems({ POCKETSPHINX_ARGS: '-lw' })[0]).toContain('pairs of "-name value"');
    expect(problems({ ENGINE: 'whisper' })[0]).toContain('ENGINE="whisper" is not allowed (expected one of ENGINES (pocketsphinx))');
    expect(problems({ ENGINE: 'vosk' })[0]).toContain('ENGINE="vosk" is not allowed (expected one of pocketsphinx, whisper, azure, upstream)');
    expect(problems({ ENGINES: 'pocketsphinx,vosk' })[0]).toContain('ENGINES="pocketsphinx,vosk" is not allowed (expected a comma list of pocketsphinx, whisper, azure, upstream)');
  });

  it('reads ENGINES as a list, with ENGINE defaulting to its first', () => {
    expect(loadConfig({ env: { ENGINES: ' whisper , pocketsphinx,whisper', WHISPER_MODEL_PATH: '/m.bin' } })).toMatchObject({
      ENGINES: ['whisper', 'pocketsphinx'],
      ENGINE: 'whisper',
    });
    expect(loadConfig({ env: { ENGINES: 'whisper,pocketsphinx', ENGINE: 'pocketsphinx' } }).ENGINE).toBe('pocketsphinx');
    expect(loadConfig({ env: {} })).toMatchObject({ ENGINES: ['pocketsphinx'], ENGINE: 'pocketsphinx' });
  });

  it('asks for what a remote engine needs to reach its service', () => {
    expect(problems({ ENGINES: 'upstream' })).toEqual([
      'invalid configuration: UPSTREAM_BASE_URL=undefined is not allowed (expected the upstream server\'s base URL when ENGINES includes upstream)',
    ]);
    expect(problems({ ENGINES: 'azure', AZURE_SPEECH_KEY: 'k' })[0]).toContain('AZURE_SPEECH_REGION');
    expect(problems({ ENGINES: 'azure' }).join('\n')).toContain('AZURE_SPEECH_ENDPOINT');
    expect(problems({ ENGINES: 'azure', AZURE_SPEECH_KEY: 'k', AZURE_SPEECH_REGION: 'westeurope' })).toEqual([]);
    expect(problems({ UPSTREAM_BASE_URL: 'ftp://x' })[0]).toContain('an http:// or https:// URL');
  });

  it.each([
    ['true', true], ['1', true], ['yes', true],
    ['false', false], ['0', false], ['no', false],
  ])('reads boolean %s as %s', (raw, value) => {
    expect(loadConfig({ env: { ENABLE_DOCS: raw } }).ENABLE_DOCS).toBe(value);
  });

  it.each(['TRUE', 'on', 'off', 'y', ' true'])('refuses boolean %j', (raw) => {
    expect(problems({ ENABLE_DOCS: raw })).toHaveLength(1);
  });

  it('accepts the seeds\' API_HOST/API_PORT, with HOST/PORT winning', () => {
    expect(loadConfig({ env: { API_HOST: '0.0.0.0', API_PORT: '9000' } })).toMatchObject({ HOST: '0.0.0.0', PORT: 9000 });
    expect(loadConfig({ env: { API_PORT: '9000', PORT: '9001' } }).PORT).toBe(9001);
  });

  it('accepts the seeds\' MAX_CONCURRENT_WORKERS for WORKER_COUNT, with WORKER_COUNT winning', () => {
    expect(loadConfig({ env: { MAX_CONCURRENT_WORKERS: '3' } }).WORKER_COUNT).toBe(3);
    expect(loadConfig({ env: { MAX_CONCURRENT_WORKERS: '3', WORKER_COUNT: '5' } }).WORKER_COUNT).toBe(5);
  });

  it('reads a .env file, with the environment winning, and treats empty values as unset', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hark-env-'));
    const file = join(dir, '.env');
    writeFileSync(file, 'PORT=9100\nLOG_LEVEL=debug\nMAX_QUEUE_SIZE=\n');
    try {
      const c = loadConfig({ env: { LOG_LEVEL: 'warn' }, envFile: file });
      expect(c).toMatchObject({ PORT: 9100, LOG_LEVEL: 'warn', MAX_QUEUE_SIZE: 32 });
      expect(loadConfig({ env: {}, envFile: join(dir, 'missing.env') }).PORT).toBe(8000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('.env.example', () => {
  const text = readFileSync(new URL('../../.env.example', import.meta.url), 'utf8');

  it('is generated from the schema (run `npm run env:example` after changing a setting)', () => {
    expect(text).toBe(envExample());
  });

  it('lists every setting, and its values load as the defaults', () => {
    const lines = Object.fromEntries(
      text
        .split('\n')
        .filter((l) => /^[A-Z_]+=/.test(l))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    expect(Object.keys(lines).sort()).toEqual(Object.keys(configShape).sort());
    expect(loadConfig({ env: lines })).toEqual(loadConfig({ env: {} }));
  });
});
