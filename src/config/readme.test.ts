import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { markdownTable } from './docs.js';

it('the README shows the configuration table generated from the schema', () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  expect(readme).toContain(markdownTable());
});
