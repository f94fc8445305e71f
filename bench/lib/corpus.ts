import { join } from 'node:path';
import { decodeToPcm } from '../../src/audio/index.js';
import { corpusDir, loadClips, type Clip } from '../../test/support/eval/index.js';
import { sum } from './runs.js';

export interface BenchCorpus {
  /** All of ../shared/corpus/dev, in manifest order. */
  clips: Clip[];
  /** A short synthetic clip decoded once before timing, so no mode pays first-call costs in its figures. */
  warmup: Clip;
  audioSeconds: number;
}

export function benchCorpus(): BenchCorpus {
  const clips = loadClips('dev', corpusDir(process.env));
  const warmup = loadClips('synthetic', corpusDir(process.env))[0];
  if (clips.length === 0 || warmup === undefined) throw new Error('the corpus at ../shared/corpus has no dev or synthetic clips');
  return { clips, warmup, audioSeconds: sum(clips.map((c) => c.durationSeconds)) };
}

/** One line for every report: where the speech comes from (LibriSpeech must be attributed). */
export const CORPUS_CREDIT =
  'corpus: ../shared/corpus/dev (LibriSpeech test-clean, CC BY 4.0, Panayotov et al. 2015; CMU PocketSphinx test clips, BSD-2-Clause)';

/** Decodes each clip to raw PCM in `dir` (hark's own decoder), in order; returns the paths. */
export async function clipsToPcm(clips: readonly Clip[], dir: string): Promise<string[]> {
  const paths: string[] = [];
  for (const [i, clip] of clips.entries()) {
    const out = join(dir, `${String(i).padStart(3, '0')}-${clip.id}.pcm`);
    await decodeToPcm(clip.path, out, { maxSeconds: 3600 });
    paths.push(out);
  }
  return paths;
}
