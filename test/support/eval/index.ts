export { normalizeWords, editDistance, tally, wer, type WerTally } from './wer.js';
export { corpusDir, loadClips, type Clip } from '../../../src/loadtest/corpus.js';
