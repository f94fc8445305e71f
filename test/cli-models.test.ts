import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { hark } from './support/cli.js';
import { startFakeModelHost, type FakeModelHost } from './support/fake-model-host.js';

// whisper.cpp's own test model: a real ggml file (tiny.en architecture, no trained weights).
const TEST_MODEL = fileURLToPath(new URL('../../shared/models/for-tests-ggml-tiny.en.bin', import.meta.url));
const TEST_MODEL_BYTES = 586_836;
const TEST_MODEL_SHA1 = '06f45ff6b30e9678b40ca36ce3bc175a50fd4929';
const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));

const model = readFileSync(TEST_MODEL);
let host: FakeModelHost;
let root: string;
let dir: string;
let catalogue: string;
let run = 0;

beforeAll(async () => {
  host = await startFakeModelHost({ 'ggml-tiny.en.bin': model });
  root = mkdtempSync(join(tmpdir(), 'hark-models-'));
  // The built-in catalogue describes the real 77.7 MB tiny.en; this one describes the test file.
  catalogue = join(root, 'catalogue.json');
  writeFileSync(catalogue, JSON.stringify({ 'tiny.en': { bytes: TEST_MODEL_BYTES, sha1: TEST_MODEL_SHA1 } }));
});
afterAll(async () => {
  await host?.close();
  rmSync(root, { recursive: true, force: true });
});
beforeEach(() => {
  dir = join(root, `models-${++run}`);
  host.set({});
  host.requests.length = 0;
});

const env = (extra: Record<string, string> = {}) => ({
  MODELS_DIR: dir,
  MODELS_BASE_URL: host.baseUrl,
  DATA_DIR: root,
  ENV_FILE: join(root, 'no.env'),
  WHISPER_MODEL_SIZE: 'base.en',
  WHISPER_MODEL_PATH: '',
  ...extra,
});
const pull = (args: string[] = [], extra: Record<string, string> = {}) => hark(['models', 'pull', 'tiny.en', '--catalogue', catalogue, ...args], env(extra));
const target = () => join(dir, 'ggml-tiny.en.bin');
const part = () => `${target()}.part`;

describe('hark models pull', () => {
  it('downloads, verifies and installs a model, then does not download it again unless --force', async () => {
    const r = await pull();
    expect(r.stderr).toContain('downloaded and verified');
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(target());
    expect(readFileSync(target()).equals(model)).toBe(true);
    expect(existsSync(part())).toBe(false);
    expect(r.stderr).toContain(`SHA-1 ${TEST_MODEL_SHA1}`);
    expect(r.stderr).toContain('set WHISPER_MODEL_SIZE=tiny.en');
    expect(host.requests).toEqual([{ method: 'GET', path: '/models/ggml-tiny.en.bin', range: undefined, status: 200 }]);

    const again = await pull();
    expect(again.code).toBe(0);
    expect(again.stderr).toContain('already installed and verified');
    expect(host.requests).toHaveLength(1);

    const forced = await pull(['--force']);
    expect(forced.code).toBe(0);
    expect(host.requests).toHaveLength(2);
    expect(readFileSync(target()).equals(model)).toBe(true);
  });

  it('leaves a different file in place and replaces it only with --force', async () => {
    mkdirSync(dir, { recursive: true });
    writeFileSync(target(), 'my own file');
    const r = await pull();
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${target()} exists but it has 11 bytes, not ${TEST_MODEL_BYTES}; run with --force`);
    expect(readFileSync(target(), 'utf8')).toBe('my own file');
    expect(host.requests).toHaveLength(0);
    expect((await pull(['--force'])).code).toBe(0);
    expect(readFileSync(target()).equals(model)).toBe(true);
  });

  it('resumes an interrupted download with a Range request and ends with the identical file', async () => {
    host.set({ cutAfterBytes: 200_000 });
    const cut = await pull();
    expect(cut.code).toBe(1);
    expect(cut.stderr).toMatch(/interrupted .* kept in .*ggml-tiny\.en\.bin\.part; run the same command again to resume/);
    expect(existsSync(target())).toBe(false);
    const kept = statSync(part()).size;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThanOrEqual(200_000);

    host.set({});
    const resumed = await pull();
    expect(resumed.code).toBe(0);
    expect(resumed.stderr).toContain('resuming ggml-tiny.en.bin');
    expect(host.requests.at(-1)).toEqual({ method: 'GET', path: '/models/ggml-tiny.en.bin', range: `bytes=${kept}-`, status: 206 });
    expect(readFileSync(target()).equals(model)).toBe(true);
    expect(existsSync(part())).toBe(false);
  });

  it('starts again from byte 0 when the server ignores the Range and answers 200', async () => {
    host.set({ cutAfterBytes: 100_000 });
    expect((await pull()).code).toBe(1);
    host.set({ ignoreRange: true });
    const r = await pull();
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('ignored the range request');
    expect(host.requests.at(-1)).toMatchObject({ range: expect.stringMatching(/^bytes=\d+-$/), status: 200 });
    expect(readFileSync(target()).equals(model)).toBe(true);
  });

  it('deletes a download whose SHA-1 is wrong and fails with a clear message', async () => {
    host.set({ corrupt: true });
    const r = await pull();
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/ggml-tiny\.en\.bin failed verification: its SHA-1 is [0-9a-f]{40}, expected 06f45ff6b30e9678b40ca36ce3bc175a50fd4929\. The download was deleted/);
    expect(existsSync(target())).toBe(false);
    expect(existsSync(part())).toBe(false);
  });

  it('rejects a file whose resumed prefix is wrong, because the prefix is hashed too', async () => {
    mkdirSync(dir, { recursive: true });
    const bad = Buffer.from(model.subarray(0, 300_000));
    bad[5000] = (bad[5000] ?? 0) ^ 0xff;
    writeFileSync(part(), bad);
    const r = await pull();
    expect(r.code).toBe(1);
    expect(host.requests.at(-1)?.range).toBe('bytes=300000-');
    expect(r.stderr).toContain('failed verification');
    expect(existsSync(part())).toBe(false);
  });

  it('follows a redirect to the CDN, also when resuming', async () => {
    host.set({ redirect: true, cutAfterBytes: 150_000 });
    expect((await pull()).code).toBe(1);
    host.set({ redirect: true });
    const r = await pull();
    expect(r.code).toBe(0);
    expect(host.requests.map((q) => `${q.path} ${q.status}`)).toEqual([
      '/models/ggml-tiny.en.bin 302',
      '/cdn/ggml-tiny.en.bin 200',
      '/models/ggml-tiny.en.bin 302',
      '/cdn/ggml-tiny.en.bin 206',
    ]);
    expect(host.requests.at(-1)?.range).toMatch(/^bytes=\d+-$/);
    expect(readFileSync(target()).equals(model)).toBe(true);
  });

  it('keeps the .part on Ctrl-C and resumes it on the next run', async () => {
    host.set({ stallAfterBytes: 120_000 });
    const child = spawn(process.execPath, [CLI, 'models', 'pull', 'tiny.en', '--catalogue', catalogue], { env: { ...process.env, ...env() }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    for (let i = 0; i < 200 && !(existsSync(part()) && statSync(part()).size === 120_000); i++) await new Promise((r) => setTimeout(r, 50));
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(stderr).toContain('download stopped: 0.1 MB of 0.6 MB kept in');
    expect(statSync(part()).size).toBe(120_000);

    host.set({});
    const r = await pull();
    expect(r.code).toBe(0);
    expect(host.requests.at(-1)?.range).toBe('bytes=120000-');
    expect(readFileSync(target()).equals(model)).toBe(true);
  });

  it('starts again when the server answers 416, and refuses a file of the wrong length', async () => {
    const longer = join(root, 'longer.json');
    writeFileSync(longer, JSON.stringify({ 'tiny.en': { bytes: TEST_MODEL_BYTES + 1000, sha1: null } }));
    mkdirSync(dir, { recursive: true });
    copyFileSync(TEST_MODEL, part());
    const r = await hark(['models', 'pull', 'tiny.en', '--catalogue', longer], env());
    expect(r.code).toBe(1);
    expect(host.requests.map((q) => `${q.range ?? '-'} ${q.status}`)).toEqual([`bytes=${TEST_MODEL_BYTES}- 416`, '- 200']);
    expect(r.stderr).toContain(`the server offers ggml-tiny.en.bin with ${TEST_MODEL_BYTES} bytes but the catalogue expects ${TEST_MODEL_BYTES + 1000}`);
    expect(existsSync(part())).toBe(false);
  });

  it('refuses a model its disk cannot take before any request, counting what a partial download already holds', async () => {
    // A petabyte: no disk here has that much room.
    const huge = join(root, 'huge.json');
    writeFileSync(huge, JSON.stringify({ 'tiny.en': { bytes: 1e15, sha1: null } }));
    mkdirSync(dir, { recursive: true });
    copyFileSync(TEST_MODEL, part());
    const r = await hark(['models', 'pull', 'tiny.en', '--catalogue', huge], env());
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^hark: not enough disk space in ${dir}: ggml-tiny\\.en\\.bin needs 999999999\\.4 MB more, \\d+\\.\\d MB is free$`, 'm'));
    expect(host.requests).toHaveLength(0);
    // What it had is kept for a pull once there is room.
    expect(statSync(part()).size).toBe(TEST_MODEL_BYTES);
  });

  it('lists the valid sizes for an unknown one, without any request', async () => {
    const r = await hark(['models', 'pull', 'huge'], env());
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("hark: unknown model size 'huge'; one of: tiny, tiny.en, base, base.en, small, small.en, medium, medium.en, large-v1, large-v2, large-v3, large-v3-turbo\n");
    expect(host.requests).toHaveLength(0);
  });

  it('says when the host has no such file', async () => {
    const r = await hark(['models', 'pull', 'base.en'], env());
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('download of ggml-base.en.bin failed: HTTP 404 Not Found');
    expect(existsSync(join(dir, 'ggml-base.en.bin.part'))).toBe(false);
  });
});

interface Listing {
  modelsDir: string;
  modelsDirExists: boolean;
  configured: { path: string; source: string; exists: boolean };
  installed: { name: string; path: string; bytes: number; ggml: boolean; architecture: string | null; configured: boolean; location: string; sizeMatchesCatalogue: boolean | null }[];
  partial: { name: string; bytes: number; expectedBytes: number | null }[];
  available: { name: string; bytes: number; sha1: string | null }[];
}

describe('hark models list', () => {
  beforeEach(() => {
    mkdirSync(dir, { recursive: true });
    copyFileSync(TEST_MODEL, target());
    writeFileSync(join(dir, 'ggml-notes.bin'), 'these are not weights\n');
    writeFileSync(join(dir, 'ggml-small.bin.part'), Buffer.alloc(1000));
  });

  it('shows each file, whether it is ggml, which one the engine loads, and what can be downloaded', async () => {
    const r = await hark(['models', 'list', '--json'], env({ WHISPER_MODEL_SIZE: 'tiny.en' }));
    expect(r.code).toBe(0);
    const l = JSON.parse(r.stdout) as Listing;
    expect(l.modelsDir).toBe(dir);
    expect(l.configured).toMatchObject({ path: target(), source: 'WHISPER_MODEL_SIZE', exists: true });
    expect(l.installed.map((m) => [m.name, m.ggml, m.architecture, m.configured])).toEqual([
      ['ggml-notes.bin', false, null, false],
      ['ggml-tiny.en.bin', true, 'tiny.en', true],
    ]);
    // The test model is not the published 77.7 MB tiny.en, and the listing says so.
    expect(l.installed[1]?.sizeMatchesCatalogue).toBe(false);
    expect(l.partial).toEqual([expect.objectContaining({ name: 'ggml-small.bin.part', bytes: 1000, expectedBytes: 487_601_967 })]);
    expect(l.available.map((a) => a.name)).not.toContain('tiny.en');
    expect(l.available).toContainEqual({ name: 'base.en', bytes: 147_964_211, sha1: '137c40403d78fd54d454da0f9bd998f78703390c' });

    const text = await hark(['models', 'list'], env({ WHISPER_MODEL_SIZE: 'tiny.en' }));
    expect(text.stdout).toMatch(/^\* ggml-tiny\.en\.bin +0\.6 MB {2}ggml, tiny\.en architecture, f16; 77\.7 MB expected for tiny\.en/m);
    expect(text.stdout).toMatch(/^ {2}ggml-notes\.bin +0\.0 MB {2}NOT a ggml model/m);
    expect(text.stdout).toContain('`hark models pull small` resumes it');
    expect(text.stdout).toContain('* = the file the whisper engine loads (WHISPER_MODEL_SIZE=tiny.en)');
    expect(text.stdout).toMatch(/^ {2}large-v3-turbo +1\.62 GB$/m);
  });

  it('marks the WHISPER_MODEL_PATH file as the one loaded, and says when the configured file is missing', async () => {
    const custom = join(root, `custom-${run}.bin`);
    copyFileSync(TEST_MODEL, custom);
    const l = JSON.parse((await hark(['models', 'list', '--json'], env({ WHISPER_MODEL_PATH: custom }))).stdout) as Listing;
    expect(l.installed.filter((m) => m.configured)).toEqual([expect.objectContaining({ path: custom, location: 'WHISPER_MODEL_PATH', ggml: true })]);

    const missing = await hark(['models', 'list'], env());
    expect(missing.stdout).toContain(`The whisper engine would load ${join(dir, 'ggml-base.en.bin')} (WHISPER_MODEL_SIZE=base.en), which does not exist: run \`hark models pull base.en\`.`);
  });

  it('says clearly when MODELS_DIR does not exist', async () => {
    const r = await hark(['models', 'list'], env({ MODELS_DIR: join(root, 'nowhere') }));
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`MODELS_DIR ${join(root, 'nowhere')} does not exist yet: \`hark models pull SIZE\` creates it`);
    expect(r.stdout).toContain('Not installed (`hark models pull SIZE`):');
  });
});
