import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { wavData } from '../../../test/support/audio.js';
import { clip } from '../../../test/support/corpus.js';
import type { PcmAudio } from '../../audio/index.js';
import { loadConfig } from '../../config/index.js';
import { mergeDecoderArgs, pocketsphinxEntry } from './index.js';

const temp = mkdtempSync(join(tmpdir(), 'hark-ps-args-'));
afterAll(() => rmSync(temp, { recursive: true, force: true }));

const c = clip('1089-134686-0004');
const pcm = wavData(c.path);
const audio: PcmAudio = { path: join(temp, 'clip.pcm'), samples: pcm.length / 2, durationSeconds: pcm.length / 2 / 16_000 };
writeFileSync(audio.path, pcm);

/** What the server's PocketSphinx says about the clip with POCKETSPHINX_ARGS = `args`. */
async function transcribeWith(args: string): Promise<string> {
  const config = loadConfig({ env: { POCKETSPHINX_ARGS: args, LOG_LEVEL: 'silent' } });
  const engine = pocketsphinxEntry.create(config);
  await engine.load();
  try {
    return (await engine.transcribe(audio, {})).text;
  } finally {
    await engine.unload();
  }
}

describe('POCKETSPHINX_ARGS', () => {
  it('replaces a tuned value instead of failing the load (the library refuses a name given twice)', async () => {
    const tuned = await transcribeWith('');
    // The documented example sets -lw, which the tuned settings set too.
    expect(await transcribeWith('-lw 6 -beam 1e-60')).not.toBe('');
    // A language weight ten times the tuned one leaves few words: the value given is the one used.
    const heavy = await transcribeWith('-lw 55');
    expect(heavy.split(' ').length).toBeLessThan(tuned.split(' ').length);
  });

  it('merges name/value lists, a later value winning, in first-seen order', () => {
    expect(mergeDecoderArgs(['-hmm', 'h', '-lw', '5.5'], ['-lw', '6', '-beam', '1e-60'], [])).toEqual(['-hmm', 'h', '-lw', '6', '-beam', '1e-60']);
  });
});
