import type { PcmAudio } from '../audio/index.js';
import { labelledTurns, nameKnownSpeakers } from '../diarization/known-speakers.js';
import { LocalDiarizer } from '../diarization/local.js';
import { attachSpeakers } from '../diarization/merge.js';
import type { Diarization } from '../diarization/types.js';
import type { Engine, TranscribeHooks, TranscribeOptions, Transcript } from '../engines/index.js';
import { fileSpeechRegions } from '../vad/index.js';

/** One per process: it holds no model and no state between files. */
const diarizer = new LocalDiarizer();

/**
 * One file through the stages a request asks for, where the engine runs (the
 * server in-process, the worker in process isolation): the engine (which runs
 * the VAD itself, src/audio/utterances.ts), then, only with `options.diarize`
 * and an engine that gave no speakers of its own, the diarizer over the VAD's
 * speech regions and the merge of its turns into the transcript. A stage not
 * asked for costs nothing. With `options.knownSpeakers`, the speakers whose
 * voice matches a reference clip are named after it (known-speakers.ts), an
 * engine's own speakers too. `task: 'diarize'` runs the diarizer alone: its
 * turns are the segments (no text).
 */
export async function transcribeFile(engine: Engine, audio: PcmAudio, options: TranscribeOptions, hooks: TranscribeHooks = {}): Promise<Transcript> {
  if (options.task === 'diarize') {
    const { turns, speakers } = await diarize(audio, options, hooks);
    const segments = turns.map(({ start, end, speaker }) => ({ start, end, text: '', speaker }));
    const speech = regionsSeconds(turns);
    return { text: '', language: 'und', duration_seconds: round(audio.durationSeconds), confidence: null, segments, words: [], speech_seconds: round(speech), speakers };
  }
  const transcript = await engine.transcribe(audio, options, hooks);
  if (options.diarize === undefined) return transcript;
  // An engine that labels speakers itself (Azure asked for diarization) keeps its labels; known speakers name them too.
  if (transcript.speakers !== undefined) return nameKnownSpeakers(transcript, labelledTurns(transcript), audio, options, hooks);
  const diarization = await diarize(audio, options, hooks);
  return nameKnownSpeakers(attachSpeakers(transcript, diarization), diarization.turns, audio, options, hooks);
}

async function diarize(audio: PcmAudio, options: TranscribeOptions, hooks: TranscribeHooks): Promise<Diarization> {
  const started = performance.now();
  // The engine's own VAD pass computed these regions' probabilities; they are reused (src/vad/plan.ts), not recomputed.
  const regions = options.vad === undefined ? [{ start: 0, end: audio.durationSeconds }] : await fileSpeechRegions(audio, options.vad, hooks.signal);
  const diarization = await diarizer.diarize(audio, regions, { ...options.diarize, signal: hooks.signal });
  hooks.onLog?.(`diarization: ${diarization.speakers} speaker(s) in ${Math.round(performance.now() - started)} ms`);
  return diarization;
}

function regionsSeconds(turns: readonly { start: number; end: number }[]): number {
  return turns.reduce((sum, t) => sum + (t.end - t.start), 0);
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
