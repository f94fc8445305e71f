import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { loadConfig, type Config, type ConfigInput } from '../../src/config/index.js';
import { createLogger } from '../../src/logger.js';
import { startServer, type RunningServer } from '../../src/server.js';

export interface TestServer extends RunningServer {
  config: Config;
  dataDir: string;
  /** Files left under DATA_DIR/tmp (uploads and PCM in flight), in every process's folder. */
  tempFiles(): Promise<string[]>;
  stop(): Promise<void>;
}

/** A real hark on 127.0.0.1 and an ephemeral port, with its own DATA_DIR, engines loaded. */
export async function startTestServer(env: ConfigInput = {}, opts: { waitReady?: boolean; now?: () => number; dataDirIn?: string } = {}): Promise<TestServer> {
  const dataDir = await mkdtemp(join(opts.dataDirIn ?? tmpdir(), 'hark-test-'));
  const config = loadConfig({
    env: {
      HOST: '127.0.0.1',
      PORT: '0',
      DATA_DIR: dataDir,
      LOG_LEVEL: process.env['TEST_LOG_LEVEL'] ?? 'silent',
      IN_PROCESS_CONCURRENCY: '1',
      // Files that test the pool turn it on; the rest need no worker processes.
      ENABLE_PROCESS_ISOLATED: 'false',
      ...env,
    },
  });
  const server = await startServer(config, createLogger(config.LOG_LEVEL), { now: opts.now });
  if (opts.waitReady !== false) await server.ready;
  return {
    ...server,
    config,
    dataDir,
    tempFiles: () => filesUnder(join(dataDir, 'tmp')),
    stop: async () => {
      await server.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** POSTs a multipart form built from real files and fields. */
export async function postForm(
  url: string,
  parts: Record<string, string | { path: string; name?: string; type?: string } | Blob>,
  init: RequestInit = {},
): Promise<Response> {
  const { readFile } = await import('node:fs/promises');
  const form = new FormData();
  for (const [name, value] of Object.entries(parts)) {
    if (typeof value === 'string') form.append(name, value);
    else if (value instanceof Blob) form.append(name, value, 'blob.bin');
    else form.append(name, new Blob([await readFile(value.path)], { type: value.type ?? 'audio/wav' }), value.name ?? value.path.split('/').pop());
  }
  return fetch(url, { method: 'POST', body: form, ...init });
}

/** Every file under `dir`, as paths relative to it (no folders); [] when it does not exist. */
export async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => !e.isDirectory()).map((e) => relative(dir, join(e.parentPath, e.name))).sort();
}
