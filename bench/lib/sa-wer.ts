import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Transcript } from '../../src/engines/index.js';
import { editDistance, normalizeWords, type Clip } from '../../test/support/eval/index.js';
import { wavData, wavHeader } from '../../test/support/audio.js';
import { maxAssignment } from '../../src/diarization/assignment.js';

const RATE = 16_000;
/** Silence between turns: a quick exchange, shorter than the VAD's minimum silence. */
const GAP_SECONDS = 0.4;

/** Who said which clip where in the conversation. */
export interface ConversationTurn {
  clipId: string;
  speaker: string;
  start: number;
  end: number;
  transcript: string;
}

export interface Conversation {
  path: string;
  turns: ConversationTurn[];
  speakers: number;
}

/** A clip's speaker: LibriSpeech's reader id (`1089-134686-0000`), or the source's name (`librivox-sas01-0870`). */
export function clipSpeaker(id: string): string {
  return id.startsWith('librivox-') ? id.split('-').slice(0, 2).join('-') : id.split('-')[0]!;
}

/**
 * A conversation of dev clips in turns, written as a WAV in `dir`: speaker
 * 1089 and the LibriVox reader take turns, and two more speakers say one thing
 * each, with 0.4 s of silence between turns. Fixed, so every run scores the
 * same audio.
 */
export function buildConversation(clips: readonly Clip[], dir: string): Conversation {
  const byId = (id: string) => clips.find((c) => c.id === id) ?? missing(id);
  const order = [
    '1089-134686-0000', 'librivox-sas01-0870', '1089-134686-0001', '1221-135766-0002', 'librivox-sas01-0880',
    '1089-134686-0002', '4077-13754-0009', 'librivox-sas01-0920', '1089-134686-0004',
  ].map(byId);
  const gap = Buffer.alloc(Math.round(GAP_SECONDS * RATE) * 2);
  const parts: Buffer[] = [];
  const turns: ConversationTurn[] = [];
  let at = 0;
  for (const c of order) {
    const pcm = wavData(c.path);
    if (parts.length > 0) {
      parts.push(gap);
      at += gap.length / 2;
    }
    parts.push(pcm);
    turns.push({ clipId: c.id, speaker: clipSpeaker(c.id), start: at / RATE, end: (at + pcm.length / 2) / RATE, transcript: c.transcript });
    at += pcm.length / 2;
  }
  const data = Buffer.concat(parts);
  const path = join(dir, 'conversation.wav');
  writeFileSync(path, Buffer.concat([wavHeader(data.length), data]));
  return { path, turns, speakers: new Set(turns.map((t) => t.speaker)).size };
}

function missing(id: string): never {
  throw new Error(`the dev corpus has no clip ${id}`);
}

export interface SaWer {
  /** Edits / reference words, speakers ignored. */
  wer: number;
  /** The same with every word tagged with its speaker: a right word given to the wrong speaker is an error. */
  saWer: number;
  words: number;
  errors: number;
  saErrors: number;
  /** Hypothesis speaker -> reference speaker, the one-to-one mapping that shares the most words. */
  mapping: Record<string, string>;
}

/**
 * Speaker-attributed WER of a diarized transcript against the conversation:
 * hypothesis speakers are mapped one to one onto reference speakers so that
 * the most hypothesis words fall in their mapped speaker's turns (a word
 * belongs to the turn that holds its midpoint); then the word sequences are
 * compared with each word written `speaker:word`. An unmapped speaker's words
 * are all errors.
 */
export function speakerAttributedWer(conversation: Conversation, t: Transcript): SaWer {
  const refSpeakers = [...new Set(conversation.turns.map((x) => x.speaker))];
  const hypSpeakers = [...new Set(t.words.map((w) => w.speaker ?? '?'))];
  const overlap = hypSpeakers.map(() => refSpeakers.map(() => 0));
  for (const w of t.words) {
    const mid = (w.start + w.end) / 2;
    const turn = conversation.turns.find((x) => mid >= x.start - GAP_SECONDS / 2 && mid < x.end + GAP_SECONDS / 2);
    if (turn !== undefined) overlap[hypSpeakers.indexOf(w.speaker ?? '?')]![refSpeakers.indexOf(turn.speaker)]!++;
  }
  const assignment = maxAssignment(overlap);
  const mapping: Record<string, string> = {};
  hypSpeakers.forEach((h, i) => {
    const r = assignment[i];
    if (r !== undefined && r >= 0) mapping[h] = refSpeakers[r]!;
  });
  const reference = conversation.turns.flatMap((x) => normalizeWords(x.transcript).map((w) => ({ speaker: x.speaker, word: w })));
  const hypothesis = t.words.flatMap((w) => normalizeWords(w.word).map((word) => ({ speaker: mapping[w.speaker ?? '?'] ?? '(unmapped)', word })));
  const errors = editDistance(reference.map((x) => x.word), hypothesis.map((x) => x.word));
  const saErrors = editDistance(reference.map((x) => `${x.speaker}:${x.word}`), hypothesis.map((x) => `${x.speaker}:${x.word}`));
  return { wer: errors / reference.length, saWer: saErrors / reference.length, words: reference.length, errors, saErrors, mapping };
}
