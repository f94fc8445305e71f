import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // Each file starts its own server on an ephemeral port with its own DATA_DIR,
    // so files run in parallel; decoding is CPU-bound, two cores here.
    // Every file's temp files go to one folder per run, checked after it (test/support/temp-guard.ts).
    globalSetup: ['test/support/temp-guard.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
