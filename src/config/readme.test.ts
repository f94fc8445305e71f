import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { configurationDoc, MAIN_SETTINGS, markdownTable } from './docs.js';
import { configShape } from './schema.js';

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');

it('docs/configuration.md is the reference generated from the schema (npm run env:example)', () => {
  expect(read('docs/configuration.md')).toBe(configurationDoc());
});

it('the README shows the main settings as the schema describes them', () => {
  expect(MAIN_SETTINGS.every((k) => k in configShape)).toBe(true);
  expect(read('README.md')).toContain(markdownTable(MAIN_SETTINGS));
});
