// Rewrites .env.example and the README's configuration table from the config
// schema (`npm run env:example`); tests check both are current.
import { readFileSync, writeFileSync } from 'node:fs';
import { envExample, markdownTable } from '../src/config/docs.js';

writeFileSync(new URL('../.env.example', import.meta.url), envExample());

const readmeUrl = new URL('../README.md', import.meta.url);
const readme = readFileSync(readmeUrl, 'utf8');
const start = readme.indexOf('| Variable | Default | Meaning |');
if (start < 0) throw new Error('README.md has no configuration table');
const end = readme.indexOf('\n\n', start);
writeFileSync(readmeUrl, readme.slice(0, start) + markdownTable() + (end < 0 ? '\n' : readme.slice(end)));
