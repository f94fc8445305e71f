import { z } from 'zod';
import { configShape, CONFIG_ALIASES, MACHINE_DEFAULTS } from './schema.js';

type Key = keyof typeof configShape;

function defaultText(key: Key, value: unknown): string {
  if (MACHINE_DEFAULTS.has(key) || value === undefined) return '';
  return String(value);
}

/** Each setting with its description and default, from the schema itself. */
export function describeSettings(): { key: Key; description: string; default: string }[] {
  // Each setting's own default, before the schema's final step fills the empty ones from others
  // (ENGINE from ENGINES, the per-key caps from AUTH_MODE): `.env.example` must leave those empty.
  const defaults = z.object(configShape).parse({}) as Record<Key, unknown>;
  return (Object.keys(configShape) as Key[]).map((key) => ({
    key,
    description: configShape[key].description ?? '',
    default: defaultText(key, defaults[key]),
  }));
}

/** The text of `.env.example` (kept equal to the file by a test; `npm run env:example` rewrites it). */
export function envExample(): string {
  const aliases = Object.entries(CONFIG_ALIASES)
    .map(([a, k]) => `${a} -> ${k}`)
    .join(', ');
  const header = [
    '# hark settings. Copy to .env (or set them in the environment, which wins) and change what you need.',
    '# Every line shows the default; an empty value means "use the default" (machine-dependent ones say so).',
    '# Booleans take true/false/1/0/yes/no. An invalid value stops start-up with a line naming it.',
    `# Accepted old names: ${aliases}.`,
    '',
  ];
  const body = describeSettings().flatMap((s) => [`# ${s.description.replace(/`/g, '')}`, `${s.key}=${s.default}`, '']);
  return [...header, ...body].join('\n');
}

/**
 * The settings a newcomer looks for first: the README's short table. Every
 * setting is in docs/configuration.md.
 */
export const MAIN_SETTINGS: readonly Key[] = [
  'HOST',
  'PORT',
  'DATA_DIR',
  'LOG_LEVEL',
  'LOG_FORMAT',
  'ENGINES',
  'ENGINE',
  'ENABLE_PROCESS_ISOLATED',
  'DEFAULT_ISOLATION',
  'WORKER_COUNT',
  'IN_PROCESS_CONCURRENCY',
  'MAX_QUEUE_SIZE',
  'MAX_FILE_SIZE_MB',
  'DATABASE_URL',
  'ROLE',
  'AUTH_MODE',
];

/** A configuration table (Variable, Default, Meaning) of the given settings, all of them by default. */
export function markdownTable(keys?: readonly Key[]): string {
  const shown = (s: { key: Key; default: string }) => (MACHINE_DEFAULTS.has(s.key) ? '(machine)' : s.default === '' ? '(none)' : `\`${s.default}\``);
  const all = describeSettings();
  const settings = keys === undefined ? all : keys.map((k) => all.find((s) => s.key === k) ?? { key: k, description: '', default: '' });
  const rows = settings.map((s) => `| \`${s.key}\` | ${shown(s)} | ${s.description} |`);
  return ['| Variable | Default | Meaning |', '|---|---|---|', ...rows].join('\n');
}

/** The text of docs/configuration.md: every setting (kept equal to the file by a test; `npm run env:example` rewrites it). */
export function configurationDoc(): string {
  return [
    '# Configuration',
    '',
    '<!-- Generated from src/config/schema.ts by `npm run env:example`; edit the schema, not this file. -->',
    '',
    'Settings come from the environment, then `.env` (`ENV_FILE` names another file). They are parsed once at',
    'start; an invalid value stops start-up with a line naming the variable, the value and what is allowed.',
    'Booleans take only `true/false/1/0/yes/no`. `.env.example` is generated from the same schema.',
    '(machine): the default depends on the machine (CPU count, listen address), as the meaning says.',
    '',
    markdownTable(),
    '',
  ].join('\n');
}
