import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project root (bench/lib/ is two levels down). */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Where benches write their JSON copies (git-ignored). */
export const RESULTS_DIR = join(ROOT, 'bench', 'results');

/** How a child hark is started: the built service when there is one, else the sources through tsx. */
export interface Launch {
  command: string;
  args: string[];
  /** `dist` or `tsx`; printed next to the figures, since tsx adds memory and start-up time. */
  kind: 'dist' | 'tsx';
  /** Set when the build is missing or older than src/ (figures would be for other code). */
  warning?: string;
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

function launch(distEntry: string, srcEntry: string, extraArgs: string[]): Launch {
  const dist = join(ROOT, distEntry);
  if (!existsSync(dist)) {
    return {
      command: process.execPath,
      args: ['--import', 'tsx', join(ROOT, srcEntry), ...extraArgs],
      kind: 'tsx',
      warning: `${distEntry} is missing: running the sources through tsx (slower start, more memory); run \`npm run build\` for real figures`,
    };
  }
  const stale = newestMtime(join(ROOT, 'src')) > statSync(dist).mtimeMs;
  return {
    command: process.execPath,
    args: [dist, ...extraArgs],
    kind: 'dist',
    ...(stale ? { warning: `src/ has changes newer than ${distEntry}: run \`npm run build\` to measure them` } : {}),
  };
}

/** `node dist/main.js` (the service as `npm start` runs it). */
export function serverLaunch(): Launch {
  return launch('dist/main.js', 'src/main.ts', []);
}

/** `node dist/cli/main.js ARGS` (the `hark` binary). */
export function cliLaunch(args: string[]): Launch {
  return launch('dist/cli/main.js', 'src/cli/main.ts', args);
}
