// Rewrites .env.example, docs/configuration.md and the README's table of main
// settings from the config schema (`npm run env:example`); a test checks all three are current.
import { readFileSync, writeFileSync } from 'node:fs';
import { configurationDoc, envExample, MAIN_SETTINGS, markdownTable } from '../src/config/docs.js';

writeFileSync(new URL('../.env.example', import.meta.url), envExample());
writeFileSync(new URL('../docs/configuration.md', import.meta.url), configurationDoc());

const readmeUrl = new URL('../README.md', import.meta.url);
const readme = readFileSync(readmeUrl, 'utf8');
const start = readme.indexOf('| Variable | Default | Meaning |');
if (start < 0) throw new Error('README.md has no table of main settings');
const end = readme.indexOf('\n\n', start);
writeFileSync(readmeUrl, readme.slice(0, start) + markdownTable(MAIN_SETTINGS) + (end < 0 ? '\n' : readme.slice(end)));
