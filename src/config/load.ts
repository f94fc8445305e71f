import { readFileSync } from 'node:fs';
import { parse as parseDotenv } from 'dotenv';
import { CONFIG_ALIASES, configSchema, configShape, type Config } from './schema.js';

/** Start-up stops on this; its message has one line per bad variable. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
  }
}

export interface LoadConfigOptions {
  /** The process environment (wins over the file). */
  env: Record<string, string | undefined>;
  /** Path of an optional `.env` file; a missing file is fine. */
  envFile?: string;
}

function readEnvFile(path: string | undefined): Record<string, string> {
  if (path === undefined) return {};
  try {
    return parseDotenv(readFileSync(path));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw err;
  }
}

/**
 * Parses the configuration once. Every problem is reported at once, each on one
 * line naming the variable, the value given and what is allowed.
 */
export function loadConfig({ env, envFile }: LoadConfigOptions): Config {
  const merged: Record<string, string | undefined> = { ...readEnvFile(envFile), ...env };
  const raw: Record<string, string | undefined> = {};
  for (const key of Object.keys(configShape)) raw[key] = merged[key];
  for (const [alias, key] of Object.entries(CONFIG_ALIASES)) {
    if (raw[key] === undefined && merged[alias] !== undefined) raw[key] = merged[alias];
  }
  // An empty value means "not set", as in most .env files (`PORT=`).
  for (const key of Object.keys(raw)) if (raw[key] === '') raw[key] = undefined;

  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const seen = new Set<string>();
    const problems: string[] = [];
    for (const issue of parsed.error.issues) {
      const key = String(issue.path[0]);
      if (seen.has(key)) continue;
      seen.add(key);
      problems.push(`invalid configuration: ${key}=${JSON.stringify(raw[key])} is not allowed (expected ${issue.message})`);
    }
    throw new ConfigError(problems);
  }
  return Object.freeze(parsed.data);
}
