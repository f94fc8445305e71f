import type { PcmAudio } from '../../src/audio/index.js';
import { PocketsphinxEngine } from '../../src/engines/pocketsphinx/index.js';
import { planUtterances, type VadSettings } from '../../src/vad/index.js';
import { tally, wer, type Clip, type WerTally } from '../../test/support/eval/index.js';
import { sum } from './runs.js';
import { cpuSeconds } from './vad-detection.js';

/** One pass of an engine over a set of audio, one decode at a time. */
export interface DecodePass {
  label: string;
  audioSeconds: number;
  /** Seconds the VAD took for speech (padded regions, as `speech_seconds` says); the whole audio with VAD off. */
  speechSeconds: number;
  /** Wall and CPU seconds of this pass's own decodes (CPU of this process: decoder, VAD, PCM reads). */
  wallS: number;
  cpuS: number;
  tallies: WerTally[];
  texts: string[];
  wer: number;
  errors: number;
  words: number;
}

/** A clip or a long file, decoded to hark's PCM, with its reference. */
export interface Decodable {
  id: string;
  audio: PcmAudio;
  reference: string;
}

export function decodableClips(clips: readonly Clip[], audios: readonly PcmAudio[]): Decodable[] {
  return clips.map((c, i) => ({ id: c.id, audio: audios[i]!, reference: c.transcript }));
}

/** A loaded in-process PocketSphinx with the tuned settings plus `extraArgs` (as POCKETSPHINX_ARGS adds them). */
export async function loadPocketsphinx(modelDir: string, utteranceMaxSeconds: number, extraArgs: readonly string[] = []): Promise<PocketsphinxEngine> {
  const engine = new PocketsphinxEngine({ modelDir, extraArgs, utteranceMaxSeconds });
  await engine.load();
  return engine;
}

/**
 * Texts of utterance plans already decoded, by item and plan: the grid's cells
 * share many plans (a short clip is one region whatever the minimum silence),
 * and a deterministic decoder given the same samples gives the same text.
 * One cache serves one engine instance.
 */
export interface PlanCache {
  maxSeconds: number;
  texts: Map<string, string>;
  /** Items not decoded again. */
  hits: number;
}

/** How one pass decodes: which engine instance, with which VAD settings. */
export interface PassSpec {
  label: string;
  engine: PocketsphinxEngine;
  vad: VadSettings;
}

interface Accumulator {
  spec: PassSpec;
  speechSeconds: number;
  wallS: number;
  cpuS: number;
  tallies: WerTally[];
  texts: string[];
}

/** One item through the engine's own `transcribe` with the request's VAD settings: what a request to hark runs. */
async function decodeOne(acc: Accumulator, item: Decodable, cache: PlanCache | undefined): Promise<void> {
  const { engine, vad } = acc.spec;
  const cpu0 = cpuSeconds();
  const t0 = performance.now();
  let text: string | undefined;
  let speechSeconds: number;
  if (cache === undefined) {
    const transcript = await engine.transcribe(item.audio, { vad });
    text = transcript.text;
    speechSeconds = transcript.speech_seconds ?? item.audio.durationSeconds;
  } else {
    const plan = await planUtterances(item.audio, vad, { maxSeconds: cache.maxSeconds });
    const key = `${item.id}:${plan.ranges.map((r) => `${r.start}-${r.end}`).join(',')}`;
    speechSeconds = plan.speechSeconds;
    text = cache.texts.get(key);
    if (text === undefined) {
      text = (await engine.transcribe(item.audio, { vad })).text;
      cache.texts.set(key, text);
    } else {
      cache.hits++;
    }
  }
  acc.wallS += (performance.now() - t0) / 1000;
  acc.cpuS += cpuSeconds() - cpu0;
  acc.speechSeconds += speechSeconds;
  acc.texts.push(text);
  acc.tallies.push(tally(item.reference, text));
}

function finish(acc: Accumulator, items: readonly Decodable[]): DecodePass {
  return {
    label: acc.spec.label,
    audioSeconds: sum(items.map((i) => i.audio.durationSeconds)),
    speechSeconds: acc.speechSeconds,
    wallS: acc.wallS,
    cpuS: acc.cpuS,
    tallies: acc.tallies,
    texts: acc.texts,
    wer: wer(acc.tallies),
    errors: sum(acc.tallies.map((t) => t.errors)),
    words: sum(acc.tallies.map((t) => t.words)),
  };
}

/**
 * Several passes over `items` at once, item by item (item 1 in every pass, then
 * item 2 ...), one decode at a time: each pass still sees the items in their
 * order, and a change of load on the machine weighs on every pass alike, so
 * their wall and CPU figures compare. Results come in the items' order. With
 * `cache`, an item whose plan (planUtterances' sample ranges) was decoded
 * before by that cache is not decoded again.
 */
export async function decodeInterleaved(specs: readonly PassSpec[], items: readonly Decodable[], cache?: PlanCache): Promise<DecodePass[]> {
  const accs: Accumulator[] = specs.map((spec) => ({ spec, speechSeconds: 0, wallS: 0, cpuS: 0, tallies: [], texts: [] }));
  for (const item of items) for (const acc of accs) await decodeOne(acc, item, cache);
  return accs.map((acc) => finish(acc, items));
}

/** One pass over `items`, in their order. */
export async function decodePass(spec: PassSpec, items: readonly Decodable[], cache?: PlanCache): Promise<DecodePass> {
  return (await decodeInterleaved([spec], items, cache))[0]!;
}
