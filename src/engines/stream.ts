import { writeFile } from 'node:fs/promises';
import { Endpointer, SAMPLE_RATE, VadEndpointer, energyLiveEndpointer, type LiveEndpointer, type LiveEndpointEvent } from '../audio/index.js';
import { type ScratchDir } from '../os/index.js';
import { AppError } from '../errors.js';
import { loadDetector, SpeechSegmenter } from '../vad/index.js';
import type { Engine, EngineStream, StreamCallbacks, StreamOptions, Word } from './types.js';

/**
 * A live stream on `engine`: its own incremental decoding when it has one,
 * else {@link bufferedStream}. `scratch` holds the buffered utterances.
 */
export function openEngineStream(engine: Engine, options: StreamOptions, callbacks: StreamCallbacks, scratch: ScratchDir): EngineStream {
  return engine.openStream?.(options, callbacks) ?? bufferedStream(engine, options, callbacks, scratch);
}

/**
 * The endpointer of a live stream, made where the engine runs (the VAD is
 * native code, like the engine): with `vad.kind` silero, a
 * {@link VadEndpointer} on a detector of its own, whose minimum silence is the
 * stream's `silenceSeconds`; otherwise (energy, off, or no VAD given) the
 * energy {@link Endpointer}.
 */
export function liveEndpointer(options: StreamOptions): LiveEndpointer {
  const { vad, silenceSeconds, utteranceMaxSeconds } = options;
  if (vad?.kind !== 'silero') return energyLiveEndpointer(new Endpointer({ silenceSeconds, utteranceMaxSeconds }), silenceSeconds);
  const settings = { ...vad, minSilenceMs: silenceSeconds * 1000 };
  const parts = loadDetector('silero').then((detector) => ({ detector, segmenter: new SpeechSegmenter(settings, detector.windowSamples) }));
  return new VadEndpointer(parts, {
    utteranceMaxSeconds,
    preRollSeconds: vad.speechPadMs / 1000,
    // A start is announced once its minimum speech is sure; a dip under the threshold meanwhile can delay it by up to a pause.
    lookbackSeconds: (vad.speechPadMs + vad.minSpeechMs) / 1000 + silenceSeconds,
    threshold: vad.threshold,
  });
}

/**
 * Streaming for engines that only transcribe files (whisper.cpp, Azure, an
 * upstream server): the endpointer cuts the audio into utterances, and each
 * one, once its pause arrives, is written to a PCM file in `scratch`,
 * transcribed whole, and sent as a final with its times moved to stream time.
 * There are no partials. `write` resolves at once while an utterance fills,
 * and after its transcription when it ends one: the caller's backpressure.
 */
export function bufferedStream(engine: Engine, options: StreamOptions, callbacks: StreamCallbacks, scratch: ScratchDir): EngineStream {
  const endpointer = liveEndpointer(options);
  const abort = new AbortController();
  const transcribeOptions = { language: options.language, prompt: options.prompt };
  let chain: Promise<void> = Promise.resolve();
  let failure: unknown;
  let ended = false;
  let utterance: { start: number; parts: Int16Array[]; samples: number } | undefined;

  async function transcribeUtterance(start: number, parts: readonly Int16Array[], samples: number): Promise<void> {
    const path = scratch.file('.pcm');
    try {
      await writeFile(path, parts);
      const t = await engine.transcribe({ path, samples, durationSeconds: samples / SAMPLE_RATE }, transcribeOptions, { signal: abort.signal });
      if (abort.signal.aborted || t.text.trim() === '') return;
      const words: Word[] = t.words.map((w) => ({ ...w, start: round(start + w.start), end: round(start + w.end) }));
      const first = words[0]?.start ?? (t.segments[0] === undefined ? undefined : round(start + t.segments[0].start));
      const last = words.at(-1)?.end ?? (t.segments.at(-1) === undefined ? undefined : round(start + t.segments.at(-1)!.end));
      callbacks.onFinal({ text: t.text.trim(), start: first ?? round(start), end: last ?? round(start + samples / SAMPLE_RATE), words });
    } finally {
      await scratch.remove(path);
    }
  }

  async function handle(events: readonly LiveEndpointEvent[]): Promise<void> {
    for (const ev of events) {
      if (abort.signal.aborted) return;
      if (ev.type === 'speech_started' || ev.type === 'speech_stopped') {
        callbacks.onSpeech?.(ev);
      } else if (ev.type === 'start') {
        utterance = { start: ev.time, parts: [], samples: 0 };
      } else if (ev.type === 'audio') {
        utterance?.parts.push(ev.pcm);
        if (utterance !== undefined) utterance.samples += ev.pcm.length;
      } else if (utterance !== undefined) {
        const { start, parts, samples } = utterance;
        utterance = undefined;
        await transcribeUtterance(start, parts, samples);
      }
    }
  }

  /**
   * In order: the endpointer's step (which may wait for the VAD) and its
   * events run on one chain; an error fails this call and every later one
   * (the chain itself never rejects).
   */
  function enqueue(step: () => Promise<LiveEndpointEvent[]>): Promise<void> {
    const run = chain.then(async () => {
      if (failure !== undefined) throw failure;
      if (abort.signal.aborted) return;
      await handle(await step());
    });
    chain = run.then(
      () => undefined,
      (err: unknown) => {
        failure ??= err;
      },
    );
    return run;
  }

  return {
    write(pcm) {
      if (ended) return Promise.reject(new AppError('INTERNAL_ERROR', 'write on a stream that has ended'));
      return enqueue(() => endpointer.push(pcm));
    },
    end() {
      if (ended) return chain;
      ended = true;
      return enqueue(() => endpointer.flush());
    },
    async abort() {
      ended = true;
      abort.abort();
      await chain;
    },
  };
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
