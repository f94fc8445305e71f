import { installCleanup } from './cleanup.js';
import { serverLaunch, type Launch } from './paths.js';
import { loadAverage, machine, printMachine } from './report.js';

/** What a bench knows once it has started: the machine, its load, and how it starts hark. */
export interface BenchStart {
  info: ReturnType<typeof machine>;
  loadAtStart: string;
  /** The first of the launches (by default `node dist/main.js`). */
  launch: Launch;
}

/**
 * The start every bench shares: cleanup on exit and Ctrl-C, the title, the
 * machine, and a warning for each launch that would not measure the sources
 * as they are (no build, or one older than src/).
 */
export function startBench(title: string, launches: readonly Launch[] = [serverLaunch()]): BenchStart {
  installCleanup();
  const info = machine();
  const loadAtStart = loadAverage();
  console.log(`hark ${title} benchmark`);
  printMachine(info);
  for (const l of launches) if (l.warning !== undefined) console.log(`WARNING: ${l.warning}`);
  return { info, loadAtStart, launch: launches[0] ?? serverLaunch() };
}

/** Runs a bench's `main`: exit 0, or the failure on stderr and exit 1 (children and temp files go by the cleanup). */
export function runBench(name: string, main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(`bench:${name} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      process.exit(1);
    },
  );
}

/** A `--name` flag that must be a positive number, or with `integer` a positive integer (a count). */
export function positiveFlag(name: string, value: string | undefined, integer = true): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) throw new Error(`--${name} must be a positive ${integer ? 'integer' : 'number'}, not ${String(value)}`);
  return n;
}
