import { chmodSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * vitest globalSetup: the whole run, and every process it starts (test files,
 * servers, workers), gets its own temp folder through TMPDIR, so what a test
 * leaves behind is seen after the run however many files ran in parallel, and
 * other runs on the machine cannot be mistaken for ours. An empty folder is
 * removed; hark-* leftovers are listed (each test must remove what it makes) and kept
 * for a look; with HARK_TEMP_GUARD=strict they fail the run.
 */
export function setup(): () => void {
  const outer = tmpdir();
  const dir = mkdtempSync(join(outer, 'hark-vitest-'));
  // Like /tmp itself: a test's PostgreSQL runs as another user and must reach its folder.
  chmodSync(dir, 0o1777);
  process.env['TMPDIR'] = dir;
  return () => {
    process.env['TMPDIR'] = outer;
    // Only ours: tools keep caches here too (tsx-<uid>, playwright-artifacts-*), removed with the folder.
    const left = readdirSync(dir).filter((name) => name.startsWith('hark-'));
    if (left.length === 0) {
      rmSync(dir, { recursive: true, force: true });
      return;
    }
    const message = `tests left ${left.length} entries in the temp folder ${dir} (each test must remove what it makes): ${left.sort().join(', ')}`;
    console.warn(`\n${message}\n`);
    // A throw here is only printed by vitest ("Error during close"): the exit code must say it.
    if (process.env['HARK_TEMP_GUARD'] === 'strict') process.exitCode = 1;
  };
}
