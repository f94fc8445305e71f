import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tally, wer } from './support/eval/index.js';
import { spawnServer, type ChildServer } from './support/child-server.js';
import { hark as harkCli } from './support/cli.js';
import { clip } from './support/corpus.js';
import { createKeyWithCli } from './support/keys-cli.js';

let server: ChildServer;
beforeAll(async () => {
  server = await spawnServer({ ENABLE_PROCESS_ISOLATED: 'false' });
});
afterAll(async () => server?.stop());

const hark = (args: string[]) => harkCli(args, { HARK_URL: server.url });


describe('hark jobs', () => {
  const a = clip('1089-134686-0001');
  const b = clip('1089-134686-0004');

  it('submits files, waits, and prints their transcripts', async () => {
    const r = await hark(['jobs', 'submit', '--wait', a.path, b.path]);
    expect(r.code).toBe(0);
    const ids = [...r.stdout.matchAll(/^([0-9a-f-]{36}) {2}/gm)].map((m) => m[1]);
    expect(ids).toHaveLength(2);
    const text = r.stdout.split('# 1089-134686-0004.wav')[1] ?? '';
    expect(wer([tally(b.transcript, text)])).toBeLessThan(0.5);
    expect(r.stderr).toContain('completed');
  });

  it('lists jobs, shows a log, follows a live log to its end and refuses to cancel a finished job', async () => {
    const sub = await hark(['jobs', 'submit', a.path]);
    const id = sub.stdout.split(' ')[0]!;
    const follow = await hark(['jobs', 'logs', '--follow', id]);
    expect(follow.code).toBe(0);
    expect(follow.stdout).toMatch(/accepted: .*\n.*attempt 1 started[\s\S]*completed in/);
    const list = await hark(['jobs', 'list', '--status', 'completed']);
    expect(list.stdout).toContain(id);
    const tail = await hark(['jobs', 'logs', '--tail', '1', id]);
    expect(tail.stdout.trim().split('\n')).toHaveLength(1);
    const cancel = await hark(['jobs', 'cancel', id]);
    expect(cancel.code).toBe(1);
    expect(cancel.stderr.trim()).toBe(`hark: job ${id} already ended (completed) (JOB_ALREADY_FINISHED)`);
  });

  it('says in one line when the job or the server does not exist', async () => {
    const missing = await hark(['jobs', 'status', 'no-such-job']);
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim()).toBe('hark: no job no-such-job (JOB_NOT_FOUND)');
    const down = await hark(['jobs', 'list', '--url', 'http://127.0.0.1:9']);
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/^hark: cannot reach hark at http:\/\/127\.0\.0\.1:9 .*\(UNREACHABLE\)\n$/);
  });
});

describe('the CLI against a server with AUTH_MODE=api_key', () => {
  let locked: ChildServer;
  let key: string;
  beforeAll(async () => {
    locked = await spawnServer({ ENABLE_PROCESS_ISOLATED: 'false', AUTH_MODE: 'api_key' });
    key = await createKeyWithCli(locked.dataDir, 'cli', 'transcribe,jobs');
  });
  afterAll(async () => locked?.stop());
  const short = clip('1089-134686-0001');

  it('sends HARK_API_KEY (or --api-key) with every jobs call, and says so in one line when there is none', async () => {
    const refused = await harkCli(['jobs', 'list'], { HARK_URL: locked.url, HARK_API_KEY: '' });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^hark: an API key is required.*\(UNAUTHORIZED\)\n$/);

    const submitted = await harkCli(['jobs', 'submit', '--wait', short.path], { HARK_URL: locked.url, HARK_API_KEY: key });
    expect(submitted.code, submitted.stderr).toBe(0);
    expect(wer([tally(short.transcript, submitted.stdout.split('\n').slice(2).join(' '))])).toBeLessThan(0.5);
    const id = submitted.stdout.split(' ')[0]!;
    // The flag serves too, the live log's stream included; a wrong key is refused as such.
    const follow = await harkCli(['jobs', '--api-key', key, 'logs', '--follow', id], { HARK_URL: locked.url, HARK_API_KEY: '' });
    expect(follow.stdout).toContain('completed in');
    const wrong = await harkCli(['jobs', '--api-key', 'hk_wrong', 'status', id], { HARK_URL: locked.url });
    expect(wrong.stderr).toMatch(/the API key is not valid.*\(UNAUTHORIZED\)/);
  });

  it('streams with the key on the WebSocket upgrade, and is refused without it', async () => {
    const refused = await harkCli(['stream', '--url', locked.url, short.path], { HARK_API_KEY: '' });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('(UNAUTHORIZED)');
    const run = await harkCli(['stream', '--url', locked.url, '--api-key', key, short.path]);
    expect(run.code, run.stderr).toBe(0);
    expect(wer([tally(short.transcript, run.stdout)])).toBeLessThan(0.5);
  });
});
