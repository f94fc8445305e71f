import { corpusDir, loadClips, type Clip } from './eval/index.js';

export const devClips: Clip[] = loadClips('dev', corpusDir(process.env));
export const syntheticClips: Clip[] = loadClips('synthetic', corpusDir(process.env));

export function clip(id: string): Clip {
  const c = devClips.find((x) => x.id === id) ?? syntheticClips.find((x) => x.id === id);
  if (c === undefined) throw new Error(`no clip ${id} in ../shared/corpus`);
  return c;
}
