import { configSchema, configShape, CONFIG_ALIASES, MACHINE_DEFAULTS } from './schema.js';

type Key = keyof typeof configShape;

function defaultText(key: Key, value: unknown): string {
  if (MACHINE_DEFAULTS.has(key) || value === undefined) return '';
  return String(value);
}

/** Each setting with its description and default, from the schema itself. */
export function describeSettings(): { key: Key; description: string; default: string }[] {
  const defaults = configSchema.parse({}) as Record<Key, unknown>;
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

/** The README's configuration table. */
export function markdownTable(): string {
  const shown = (s: { key: Key; default: string }) => (MACHINE_DEFAULTS.has(s.key) ? '(machine)' : s.default === '' ? '(none)' : `\`${s.default}\``);
  const rows = describeSettings().map((s) => `| \`${s.key}\` | ${shown(s)} | ${s.description} |`);
  return ['| Variable | Default | Meaning |', '|---|---|---|', ...rows].join('\n');
}
