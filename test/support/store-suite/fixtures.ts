import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import type { NewJob } from '../../../src/jobs/model.js';
import { SqliteStore, type Store } from '../../../src/store/index.js';

/** Opens a new, empty store (a fresh file or database per test). */
export type OpenStore = () => Promise<Store>;

export const transcript = { text: 'hi', language: 'en', duration_seconds: 1, confidence: 0.9, segments: [], words: [] };

export function newJob(over: Partial<NewJob> = {}): NewJob {
  const id = over.id ?? randomUUID();
  return {
    id,
    priority: 'normal',
    createdAt: Date.now(),
    fileName: 'a.wav',
    fileSize: 10,
    durationSeconds: 1,
    audioPath: `/tmp/${id}.wav`,
    options: {},
    engine: 'pocketsphinx',
    isolation: 'process',
    idempotencyKey: null,
    callbackUrl: null,
    ...over,
  };
}

/**
 * A migrated store for each test of the enclosing `describe`, closed after it;
 * call the returned function inside a test to get it.
 */
export function storePerTest(open: OpenStore): () => Store {
  let store: Store | undefined;
  beforeEach(async () => {
    store = await open();
    await store.migrate();
  });
  afterEach(async () => {
    await store?.close();
    store = undefined;
  });
  return () => {
    if (store === undefined) throw new Error('the store is opened by beforeEach: call this inside a test');
    return store;
  };
}

/** Claims the next job for instance `i1` (priority aging of `agingMs`). */
export function claimer(store: () => Store) {
  return (now = Date.now(), agingMs = 300_000) => store().runs.claimNext({ instanceId: 'i1', now, agingMs });
}

/** A migrated SQLite store in a temp folder of its own, for unit tests beside the code. */
export interface TempSqliteStore {
  store: SqliteStore;
  /** The folder that holds the database (tests may put files beside it). */
  dir: string;
  /** Closes the store and deletes the folder. */
  remove(): Promise<void>;
}

export async function tempSqliteStore(prefix: string): Promise<TempSqliteStore> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const store = await SqliteStore.open(join(dir, 'hark.db'));
  await store.migrate();
  return {
    store,
    dir,
    remove: async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
