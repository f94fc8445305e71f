import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeToPcm, type PcmAudio } from '../../src/audio/index.js';
import { parseRttm } from '../../src/diarization/rttm.js';
import type { SpeakerTurn } from '../../src/diarization/types.js';
import type { SpeechRegion } from '../../src/vad/types.js';
import { corpusDir } from '../../test/support/eval/index.js';
import { sumFields } from './runs.js';

/** The scoring frame: 10 ms, as pyannote and md-eval score speech activity. */
export const FRAME_SECONDS = 0.01;

/** One file of ../shared/corpus/meetings with its reference (see its README.md). */
export interface Meeting {
  id: string;
  wavPath: string;
  /** Every speaker's turns, in seconds, as the RTTM has them (overlapping across speakers). */
  turns: SpeechRegion[];
  /** The same turns with the RTTM's speaker labels (for DER). */
  speakerTurns: SpeakerTurn[];
  /** The scored part of the file (reference.uem). */
  scored: SpeechRegion[];
}

/** A meeting decoded to hark's PCM (s16 16 kHz mono), beside its reference. */
export interface DecodedMeeting extends Meeting {
  audio: PcmAudio;
}

export const MEETINGS_CREDIT = 'meetings: ../shared/corpus/meetings (AMI Meeting Corpus excerpts, CC BY 4.0, Carletta et al. 2006; pyannote.audio debug set)';

/** Reads the 12 meetings' RTTM and UEM. Files are listed in the UEM's order. */
export function loadMeetings(dir = join(corpusDir(process.env), 'meetings')): Meeting[] {
  const lines = (name: string) =>
    readFileSync(join(dir, name), 'utf8')
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .filter((f) => f.length > 1);
  const meetings = new Map<string, Meeting>();
  for (const [id, , start, end] of lines('reference.uem')) {
    if (id === undefined) continue;
    const m = meetings.get(id) ?? { id, wavPath: join(dir, 'wav', `${id}.wav`), turns: [], speakerTurns: [], scored: [] };
    m.scored.push({ start: Number(start), end: Number(end) });
    meetings.set(id, m);
  }
  for (const [id, turns] of parseRttm(readFileSync(join(dir, 'reference.rttm'), 'utf8'))) {
    const m = meetings.get(id);
    if (m === undefined) throw new Error(`reference.rttm names ${id}, which reference.uem does not score`);
    m.speakerTurns = turns;
    m.turns = turns.map(({ start, end }) => ({ start, end }));
  }
  return [...meetings.values()];
}

/** Decodes each meeting's 32-bit float WAV to s16 16 kHz PCM in `dir` (hark's own ffmpeg decode). */
export async function decodeMeetings(meetings: readonly Meeting[], dir: string): Promise<DecodedMeeting[]> {
  const out: DecodedMeeting[] = [];
  for (const m of meetings) out.push({ ...m, audio: await decodeToPcm(m.wavPath, join(dir, `${m.id}.pcm`), { maxSeconds: 3600 }) });
  return out;
}

/** 1 for every 10 ms frame whose centre lies in one of `regions`, over `frames` frames. */
export function frameMask(regions: readonly SpeechRegion[], frames: number): Uint8Array {
  const mask = new Uint8Array(frames);
  for (const r of regions) {
    // Frame f covers [f, f+1) x 10 ms; its centre decides, so a region and its complement split frames exactly.
    const from = Math.max(0, Math.ceil(r.start / FRAME_SECONDS - 0.5));
    const to = Math.min(frames, Math.ceil(r.end / FRAME_SECONDS - 0.5));
    mask.fill(1, from, Math.max(from, to));
  }
  return mask;
}

/** Frame-level detection errors over a set, in seconds. */
export interface DetectionTally {
  referenceSeconds: number;
  missedSeconds: number;
  falseAlarmSeconds: number;
  scoredSeconds: number;
}

/**
 * Scores `hypothesis` speech regions of one meeting against its reference, frame
 * by frame within the UEM: reference speech is the union of every speaker's turns
 * (overlap counts once, as a VAD hears it), missed = reference frames the
 * hypothesis leaves out, false alarm = hypothesis frames outside reference speech.
 * No collar.
 */
export function scoreDetection(meeting: Meeting, hypothesis: readonly SpeechRegion[], totalSeconds: number): DetectionTally {
  const frames = Math.round(totalSeconds / FRAME_SECONDS);
  const ref = frameMask(meeting.turns, frames);
  const hyp = frameMask(hypothesis, frames);
  const scored = frameMask(meeting.scored, frames);
  let r = 0;
  let missed = 0;
  let fa = 0;
  let n = 0;
  for (let f = 0; f < frames; f++) {
    if (scored[f] === 0) continue;
    n++;
    if (ref[f] === 1) {
      r++;
      if (hyp[f] === 0) missed++;
    } else if (hyp[f] === 1) {
      fa++;
    }
  }
  return { referenceSeconds: r * FRAME_SECONDS, missedSeconds: missed * FRAME_SECONDS, falseAlarmSeconds: fa * FRAME_SECONDS, scoredSeconds: n * FRAME_SECONDS };
}

/** Adds detection tallies (a set's totals). */
export function addDetection(tallies: readonly DetectionTally[]): DetectionTally {
  return sumFields(tallies, ['referenceSeconds', 'missedSeconds', 'falseAlarmSeconds', 'scoredSeconds']);
}
