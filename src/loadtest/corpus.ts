import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** One clip of a corpus set (see ../shared/corpus/README.md). */
export interface Clip {
  id: string;
  path: string;
  durationSeconds: number;
  transcript: string;
}

/** The shared corpus beside the project root (`../shared/corpus`), or CORPUS_DIR. */
export function corpusDir(env: Record<string, string | undefined> = {}): string {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
  return env['CORPUS_DIR'] ?? join(root, '..', 'shared', 'corpus');
}

/** Reads a set's manifest.tsv (`dev` or `synthetic`). */
export function loadClips(set: 'dev' | 'synthetic', dir = corpusDir()): Clip[] {
  const lines = readFileSync(join(dir, set, 'manifest.tsv'), 'utf8').trim().split('\n');
  const header = (lines.shift() ?? '').split('\t');
  const col = (name: string) => header.indexOf(name);
  return lines.map((line) => {
    const f = line.split('\t');
    return {
      id: f[col('id')] ?? '',
      path: join(dir, f[col('wav_path')] ?? ''),
      durationSeconds: Number(f[col('duration_seconds')]),
      transcript: f[col('transcript')] ?? '',
    };
  });
}
