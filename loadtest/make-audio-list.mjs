#!/usr/bin/env node
// Prints an audio list for the load tests (AUDIO_LIST): one absolute path per line.
//   node loadtest/make-audio-list.mjs <dir> > audio-list.txt
// A LibriSpeech-style folder with a manifest.tsv (a `wav_path` or `path` column,
// relative to the folder) gives those files; otherwise every .wav and .flac under <dir>.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const dir = process.argv[2];
if (!dir) {
  process.stderr.write('usage: node loadtest/make-audio-list.mjs <dir> > audio-list.txt\n');
  process.exit(2);
}
const root = resolve(dir);

function fromManifest(file) {
  const lines = readFileSync(file, 'utf8').trim().split('\n');
  const header = lines.shift().split('\t');
  const col = header.findIndex((h) => h === 'wav_path' || h === 'path' || h === 'audio_path');
  if (col < 0) return null;
  // Paths in the manifest are relative to the folder, or to its parent (../shared/corpus/dev: "dev/wav/x.wav").
  return lines.map((l) => {
    const p = l.split('\t')[col];
    const here = resolve(root, p);
    return existsSync(here) ? here : resolve(root, '..', p);
  });
}

function walk(d, out) {
  for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const p = join(d, e.name);
    if (e.isDirectory()) walk(p, out);
    else if (/\.(wav|flac)$/i.test(e.name)) out.push(p);
  }
  return out;
}

const manifest = join(root, 'manifest.tsv');
const paths = (existsSync(manifest) && fromManifest(manifest)) || walk(root, []);
if (paths.length === 0) {
  process.stderr.write(`no .wav or .flac files under ${root}\n`);
  process.exit(1);
}
process.stdout.write(`${paths.join('\n')}\n`);
