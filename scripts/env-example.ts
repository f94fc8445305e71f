// Rewrites .env.example from the config schema (`npm run env:example`), or prints
// the README table (`npm run env:example -- --markdown`).
import { writeFileSync } from 'node:fs';
import { envExample, markdownTable } from '../src/config/docs.js';

if (process.argv.includes('--markdown')) console.log(markdownTable());
else writeFileSync(new URL('../.env.example', import.meta.url), envExample());
