/*
 * Just enough of the Dockerfile and .dockerignore formats to check hark's own
 * files (test/deploy-container.test.ts): no Docker engine runs here.
 */

/** One instruction, its continuation lines joined and comment lines dropped. */
export interface Instruction {
  keyword: string;
  args: string;
  /** Index of the build stage (FROM) it belongs to; -1 before the first FROM. */
  stage: number;
}

export interface Dockerfile {
  instructions: Instruction[];
  /** `ARG NAME=default` lines before the first FROM (they may be used in FROM). */
  globalArgs: Record<string, string>;
  stages: { name: string | undefined; image: string; index: number }[];
}

export function parseDockerfile(text: string): Dockerfile {
  const instructions: Instruction[] = [];
  const globalArgs: Record<string, string> = {};
  const stages: Dockerfile['stages'] = [];
  let pending = '';
  const flush = () => {
    const line = pending.trim();
    pending = '';
    if (line === '') return;
    const m = /^(\S+)\s*(.*)$/s.exec(line);
    if (m === null) return;
    const keyword = m[1]!.toUpperCase();
    const args = m[2]!.trim();
    if (keyword === 'FROM') {
      const from = /^(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      const image = (from?.[1] ?? args).replace(/\$\{?(\w+)\}?/g, (_, name: string) => globalArgs[name] ?? '');
      stages.push({ name: from?.[2], image, index: stages.length });
    } else if (keyword === 'ARG' && stages.length === 0) {
      const [name, value] = args.split('=', 2);
      if (name !== undefined) globalArgs[name] = value ?? '';
    }
    instructions.push({ keyword, args, stage: stages.length - 1 });
  };
  for (const raw of text.split('\n')) {
    // Comment lines are dropped, even between continuation lines (as Docker does).
    if (/^\s*#/.test(raw)) continue;
    if (/\\\s*$/.test(raw)) {
      pending += `${raw.replace(/\\\s*$/, '')} `;
      continue;
    }
    pending += raw;
    flush();
  }
  flush();
  return { instructions, globalArgs, stages };
}

/** The shell commands of a RUN, split at `&&`, `||`, `;` and `|`. */
export function shellCommands(run: string): string[] {
  return run
    .split(/&&|\|\||;|\|/)
    .map((c) => c.trim().replace(/^[{(]\s*/, ''))
    .filter((c) => c !== '');
}

/** Packages named by the `apt-get install` commands of a RUN. */
export function aptInstalls(run: string): string[] {
  return shellCommands(run)
    .map((c) => /(?:^|\s)apt-get\s+install\s+(.*)$/.exec(c)?.[1])
    .filter((rest): rest is string => rest !== undefined)
    .flatMap((rest) => rest.split(/\s+/).filter((t) => t !== '' && !t.startsWith('-')));
}

/** `npm run <script>` names in a RUN, in order. */
export function npmRuns(run: string): string[] {
  return shellCommands(run)
    .map((c) => /^npm\s+run(?:-script)?\s+(\S+)/.exec(c)?.[1])
    .filter((s): s is string => s !== undefined);
}

/** An exec-form (JSON array) argument such as CMD's, or undefined for the shell form. */
export function execForm(args: string): string[] | undefined {
  if (!args.startsWith('[')) return undefined;
  return JSON.parse(args) as string[];
}

function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*' && glob[i + 1] === '*') {
      re += '.*';
      i++;
      if (glob[i + 1] === '/') i++;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/**
 * Whether .dockerignore leaves `path` (relative to the context, `/`-separated)
 * out of the build context: the last matching pattern wins, `!` re-includes, and
 * a pattern that matches a folder leaves out everything under it.
 */
export function dockerIgnores(dockerignore: string, path: string): boolean {
  const patterns = dockerignore
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => ({ negate: l.startsWith('!'), re: globToRegExp(l.replace(/^!/, '').replace(/^\/+|\/+$/g, '')) }));
  const parts = path.split('/');
  const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
  let ignored = false;
  for (const p of patterns) {
    if (prefixes.some((prefix) => p.re.test(prefix))) ignored = !p.negate;
  }
  return ignored;
}
