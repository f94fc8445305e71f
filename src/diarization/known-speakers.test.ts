import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wavData } from '../../test/support/audio.js';
import { clip } from '../../test/support/corpus.js';
import type { PcmAudio } from '../audio/index.js';
import type { Transcript } from '../engines/index.js';
import { preloadVad, type VadSettings } from '../vad/index.js';
import { assignReferences, labelledTurns, matchKnownSpeakers, nameKnownSpeakers } from './known-speakers.js';
import type { KnownSpeaker, SpeakerTurn } from './types.js';

const RATE = 16_000;
/** The server's default VAD settings. */
const SILERO: VadSettings = { kind: 'silero', threshold: 0.5, minSilenceMs: 1000, speechPadMs: 400, minSpeechMs: 250 };
/**
 * The conversation: LibriSpeech reader 1089 (10.4 s), then the LibriVox reader
 * sas01 (7.1 s). The references are other clips of theirs, and clips of
 * readers who are not in it.
 */
const FIRST = '1089-134686-0000';
const SECOND = 'librivox-sas01-0870';
const REF_FIRST = '1089-134686-0013';
const REF_FIRST_TOO = '1089-134686-0017';
const REF_SECOND = 'librivox-sas01-0920';
const ABSENT = ['4077-13754-0009', '260-123286-0006', '61-70968-0026'];

const temp = mkdtempSync(join(tmpdir(), 'hark-known-speakers-'));
afterAll(() => rmSync(temp, { recursive: true, force: true }));
beforeAll(() => preloadVad('silero'));

/** Clips joined into a raw PCM file. */
function pcm(name: string, ids: readonly string[]): PcmAudio {
  const data = Buffer.concat(ids.map((id) => wavData(clip(id).path)));
  const path = join(temp, `${name}.pcm`);
  writeFileSync(path, data);
  return { path, samples: data.length / 2, durationSeconds: data.length / 2 / RATE };
}

const conversation = pcm('conversation', [FIRST, SECOND]);
const joinAt = wavData(clip(FIRST).path).length / 2 / RATE;
/** The conversation's true turns, as a perfect diarizer would give them. */
const turns: SpeakerTurn[] = [
  { start: 0, end: joinAt, speaker: 'A' },
  { start: joinAt, end: conversation.durationSeconds, speaker: 'B' },
];
const known = (name: string, id: string): KnownSpeaker => ({ name, audio: pcm(id, [id]) });

/** Label -> name of each match. */
async function named(references: readonly KnownSpeaker[], on: readonly SpeakerTurn[] = turns): Promise<Record<string, string>> {
  const matches = await matchKnownSpeakers(conversation, on, references, { vad: SILERO });
  for (const m of matches) expect(m.distance).toBeLessThan(0);
  return Object.fromEntries(matches.map((m) => [m.speaker, m.name]));
}

describe('matchKnownSpeakers on dev clips', () => {
  it('names each speaker after the reference clip of their voice, in whatever order the references come', async () => {
    const ada = known('Ada', REF_FIRST);
    const grace = known('Grace', REF_SECOND);
    expect(await named([ada, grace])).toEqual({ A: 'Ada', B: 'Grace' });
    expect(await named([grace, ada])).toEqual({ A: 'Ada', B: 'Grace' });
  });

  it('names nobody after a reference of a reader who is not in the file', async () => {
    for (const id of ABSENT) expect(await named([known('Stranger', id)])).toEqual({});
  });

  it('with a stranger beside a present speaker, names only the present one', async () => {
    expect(await named([known('Stranger', ABSENT[0]!), known('Grace', REF_SECOND)])).toEqual({ B: 'Grace' });
  });

  it('gives one speaker one name when two references are of that speaker, and the other speaker none', async () => {
    const got = await named([known('Ada', REF_FIRST), known('Ada again', REF_FIRST_TOO)]);
    expect(Object.keys(got)).toEqual(['A']);
    expect(['Ada', 'Ada again']).toContain(got['A']);
  });

  it('names no speaker heard for under a second, even after the right reference', async () => {
    const brief = [{ start: 0, end: 0.6, speaker: 'A' }, turns[1]!];
    expect(await named([known('Ada', REF_FIRST), known('Grace', REF_SECOND)], brief)).toEqual({ B: 'Grace' });
  });

  it('names nothing without turns or references', async () => {
    expect(await named([], turns)).toEqual({});
    expect(await named([known('Ada', REF_FIRST)], [])).toEqual({});
  });
});

describe('assignReferences', () => {
  it('takes the pairing with the largest total margin, where taking the closest pair first would lose a name', () => {
    // Closest first: cluster 0 <- reference 0 (-300), and cluster 1 is left with reference 1 at +5: one name.
    expect(assignReferences([[-300, -250], [-280, 5]])).toEqual([1, 0]);
  });

  it('never pairs at 0 or above, nor at Infinity (too little speech to tell)', () => {
    expect(assignReferences([[0, 10], [Infinity, -1]])).toEqual([-1, 1]);
    expect(assignReferences([[Infinity]])).toEqual([-1]);
  });

  it('gives each reference one cluster at most when references outnumber clusters, and the reverse', () => {
    expect(assignReferences([[-5, -50, -20]])).toEqual([1]);
    expect(assignReferences([[-5], [-50], [-20]])).toEqual([-1, 0, -1]);
  });
});

describe('nameKnownSpeakers', () => {
  /** A transcript of the conversation labelled A then B, as attachSpeakers leaves it. */
  const transcript: Transcript = {
    text: 'first words second words',
    language: 'en',
    duration_seconds: conversation.durationSeconds,
    confidence: null,
    segments: [
      { start: 0.2, end: joinAt, text: 'first words', speaker: 'A' },
      { start: joinAt, end: conversation.durationSeconds, text: 'second words', speaker: 'B' },
    ],
    words: [
      { start: 0.2, end: 1, word: 'first', speaker: 'A' },
      { start: 1, end: 2, word: 'words', speaker: 'A' },
      { start: joinAt + 0.5, end: joinAt + 1, word: 'second', speaker: 'B' },
      { start: joinAt + 1, end: joinAt + 2, word: 'words', speaker: 'B' },
    ],
    speakers: 2,
  };

  it('puts the name on the matched speaker\'s segments and words, leaves the other its letter, and says so in the log', async () => {
    const logs: string[] = [];
    const out = await nameKnownSpeakers(transcript, turns, conversation, { vad: SILERO, knownSpeakers: [known('Grace', REF_SECOND)] }, { onLog: (m) => logs.push(m) });
    expect(out.segments.map((s) => s.speaker)).toEqual(['A', 'Grace']);
    expect(out.words.map((w) => w.speaker)).toEqual(['A', 'A', 'Grace', 'Grace']);
    expect(out.speakers).toBe(2);
    expect(out.text).toBe(transcript.text);
    expect(logs).toEqual([expect.stringMatching(/^known speakers: 1 of 1 matched: B="Grace" \(ΔBIC -\d+\) in \d+ ms$/)]);
  });

  it('leaves the transcript as it was without known speakers', async () => {
    expect(await nameKnownSpeakers(transcript, turns, conversation, { vad: SILERO }, {})).toBe(transcript);
  });

  it('reads an engine\'s own labels as turns from its labelled segments', () => {
    expect(labelledTurns({ ...transcript, segments: [...transcript.segments, { start: 20, end: 21, text: 'x' }] })).toEqual(turns.map((t, i) => ({ ...t, start: i === 0 ? 0.2 : t.start })));
  });
});
