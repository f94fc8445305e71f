import { readPcmRange, type PcmAudio } from '../../src/audio/index.js';
import { loadDetector, speechRegions, type VadKind, type VadSettings } from '../../src/vad/index.js';
import { addDetection, scoreDetection, type DecodedMeeting, type DetectionTally } from './meetings.js';
import { sum } from './runs.js';

export type DetectorKind = Exclude<VadKind, 'off'>;

/** The detection sweep on the meetings: cheap, since probabilities are computed once per file. */
export const SWEEP = {
  threshold: [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95],
  minSilenceMs: [100, 250, 500, 1000, 2000],
  speechPadMs: [0, 50, 100, 200, 400],
  minSpeechMs: [0, 100, 250],
} as const;

/** CPU seconds of this process so far (all its threads: ONNX Runtime's and the decoder's included). */
export function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

async function readWhole(audio: PcmAudio): Promise<Int16Array> {
  return readPcmRange(audio.path, 0, audio.samples);
}

/** One detector's probabilities over a list of audio, and what computing them cost. */
export interface DetectorRun {
  kind: DetectorKind;
  probs: Float32Array[];
  windowSamples: number;
  audioSeconds: number;
  wallS: number;
  cpuS: number;
}

/** Each audio from its start (a reset between files), whole in one call: planUtterances feeds 30 s chunks, which the detector's carried state makes equivalent. */
export async function runDetector(kind: DetectorKind, audios: readonly PcmAudio[]): Promise<DetectorRun> {
  const detector = await loadDetector(kind);
  const pcms = await Promise.all(audios.map(readWhole));
  const probs: Float32Array[] = [];
  const cpu0 = cpuSeconds();
  const t0 = performance.now();
  for (const pcm of pcms) {
    detector.reset();
    probs.push(await detector.probabilities(pcm));
  }
  return {
    kind,
    probs,
    windowSamples: detector.windowSamples,
    audioSeconds: sum(audios.map((a) => a.durationSeconds)),
    wallS: (performance.now() - t0) / 1000,
    cpuS: cpuSeconds() - cpu0,
  };
}

export interface DetectionRow {
  kind: DetectorKind;
  which: string;
  settings: VadSettings;
  total: DetectionTally;
  missed: number;
  falseAlarm: number;
  sumErr: number;
}

export function detect(run: DetectorRun, meetings: readonly DecodedMeeting[], settings: VadSettings, which: string): DetectionRow {
  const tallies = meetings.map((m, i) => scoreDetection(m, speechRegions(run.probs[i]!, run.windowSamples, settings, m.audio.samples), m.audio.durationSeconds));
  const total = addDetection(tallies);
  const missed = total.missedSeconds / total.referenceSeconds;
  const falseAlarm = total.falseAlarmSeconds / total.referenceSeconds;
  return { kind: run.kind, which, settings, total, missed, falseAlarm, sumErr: missed + falseAlarm };
}

/** The settings with the least missed + false alarm over SWEEP. */
export function bestDetection(run: DetectorRun, meetings: readonly DecodedMeeting[], base: VadSettings): DetectionRow {
  let best: DetectionRow | undefined;
  for (const threshold of SWEEP.threshold)
    for (const minSilenceMs of SWEEP.minSilenceMs)
      for (const speechPadMs of SWEEP.speechPadMs)
        for (const minSpeechMs of SWEEP.minSpeechMs) {
          const row = detect(run, meetings, { ...base, kind: run.kind, threshold, minSilenceMs, speechPadMs, minSpeechMs }, 'best on the meetings');
          if (best === undefined || row.sumErr < best.sumErr - 1e-12) best = row;
        }
  return best!;
}

