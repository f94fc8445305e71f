import { concatPcm, SAMPLE_RATE, type LiveEndpointer, type LiveEndpointEvent } from '../../audio/index.js';
import { AppError } from '../../errors.js';
import { liveEndpointer } from '../stream.js';
import type { EngineStream, StreamCallbacks, StreamOptions } from '../types.js';
import type { NativeDecoder } from './native.js';
import { hypothesisText, utteranceWords } from './words.js';

/**
 * Audio of a stream's first utterance whose mean cepstrum seeds live CMN for
 * its final (see SeedCmn in addon.cc). On the dev set: 0.5 s gives WER 0.214,
 * 1 s 0.195, 2 s 0.191 but delays the final of a short first utterance past
 * 250 ms.
 */
const CMN_LOOKAHEAD_SECONDS = 1;
/**
 * Audio of the first utterance after which its partials start, on a
 * provisional seed from this much: waiting for the whole lookahead put the
 * first partial (and a Realtime session's first delta) over 1 s after the
 * onset of speech. At CMN_LOOKAHEAD_SECONDS the utterance is searched again
 * from its start on the full seed, so finals keep that seed's words and
 * times (the provisional search's partials are only a preview).
 */
const CMN_PARTIALS_SECONDS = 0.5;

interface OpenUtterance {
  /** Stream seconds of its first sample (pre-roll included): where its frame 0 is. */
  start: number;
  partial: string;
  sentPartial: boolean;
}

/**
 * A live stream on one PocketSphinx decoder: the endpointer (the VAD's, or
 * the energy one) cuts utterances, each is searched as its audio arrives
 * (partials) and closed for its final. Work, the endpointer's included, runs
 * strictly in order on one chain; a failure fails every later call.
 * `write` resolves once its samples are searched, except before the first
 * utterance's partials start (CMN_PARTIALS_SECONDS), when it resolves as they
 * are held.
 */
export class PocketsphinxStream implements EngineStream {
  private readonly endpointer: LiveEndpointer;
  private chain: Promise<void> = Promise.resolve();
  private failure: unknown;
  private ended = false;
  private aborted = false;
  private closed: Promise<void> | undefined;
  private utterance: OpenUtterance | undefined;
  /** How far the first utterance's CMN seed has come: none yet, from CMN_PARTIALS_SECONDS, or for good. */
  private seed: 'none' | 'provisional' | 'final' = 'none';
  /** The first utterance's audio until its final seed; then empty for good. */
  private first: Int16Array[] = [];
  private firstSamples = 0;

  constructor(
    private readonly decoder: NativeDecoder,
    options: StreamOptions,
    private readonly callbacks: StreamCallbacks,
    /** Gives the decoder back to its engine. */
    private readonly release: () => void,
  ) {
    this.endpointer = liveEndpointer(options);
  }

  write(pcm: Int16Array): Promise<void> {
    if (this.ended || this.aborted) return Promise.reject(new AppError('INTERNAL_ERROR', 'write on a stream that has ended'));
    return this.enqueue(async () => this.handle(await this.endpointer.push(pcm)));
  }

  end(): Promise<void> {
    if (this.ended || this.aborted) return this.close();
    this.ended = true;
    const done = this.enqueue(async () => this.handle(await this.endpointer.flush()));
    return done.then(
      () => this.close(),
      async (err: unknown) => {
        await this.close();
        throw err;
      },
    );
  }

  abort(): Promise<void> {
    this.aborted = true;
    return this.close();
  }

  /** Runs `task` after everything before it; its error fails this call and every later one. */
  private enqueue(task: () => Promise<void>): Promise<void> {
    const run = this.chain.then(async () => {
      if (this.failure !== undefined) throw this.failure;
      if (!this.aborted) await task();
    });
    // The chain itself never rejects: the error reaches the caller through `run`.
    this.chain = run.then(
      () => undefined,
      (err: unknown) => {
        this.failure ??= err;
      },
    );
    return run;
  }

  /** Once: waits for the work in flight, closes an utterance left open, and gives the decoder back. */
  private close(): Promise<void> {
    this.closed ??= this.chain.then(async () => {
      try {
        // An aborted or failed stream may leave an utterance open; its result is not wanted.
        if (this.decoder.inUtterance) await this.decoder.endUtt();
      } finally {
        this.release();
      }
    });
    return this.closed;
  }

  private async handle(events: readonly LiveEndpointEvent[]): Promise<void> {
    for (const ev of events) {
      if (this.aborted) return;
      if (ev.type === 'speech_started' || ev.type === 'speech_stopped') {
        this.callbacks.onSpeech?.(ev);
      } else if (ev.type === 'start') {
        this.utterance = { start: ev.time, partial: '', sentPartial: false };
        if (this.seed === 'final') await this.decoder.startUtt();
      } else if (ev.type === 'audio') {
        if (this.seed === 'final') await this.search(ev.pcm);
        else await this.keepFirst(ev.pcm);
      } else {
        if (this.seed !== 'final') await this.seedFirst('final');
        await this.finish(ev.time);
      }
    }
  }

  /** Audio of the first utterance before its final seed: kept, and searched once partials have started. */
  private async keepFirst(pcm: Int16Array): Promise<void> {
    this.first.push(pcm);
    this.firstSamples += pcm.length;
    if (this.firstSamples >= CMN_LOOKAHEAD_SECONDS * SAMPLE_RATE) await this.seedFirst('final');
    else if (this.seed === 'provisional') await this.search(pcm);
    else if (this.firstSamples >= CMN_PARTIALS_SECONDS * SAMPLE_RATE) await this.seedFirst('provisional');
  }

  /**
   * (Re)opens the first utterance with CMN seeded from all its audio so far,
   * and searches that audio. A provisional search is dropped (its partials
   * stand until the new search revises them).
   */
  private async seedFirst(seed: 'provisional' | 'final'): Promise<void> {
    if (this.seed === 'provisional') await this.decoder.endUtt();
    const pcm = concatPcm(this.first);
    if (seed === 'final') this.first = [];
    this.seed = seed;
    await this.decoder.startUtt({ cmnAudio: pcm });
    await this.search(pcm);
  }

  private async search(pcm: Int16Array): Promise<void> {
    const { partial } = await this.decoder.processChunk(pcm);
    const utt = this.utterance;
    if (this.aborted || utt === undefined) return;
    const text = hypothesisText(partial);
    if (text === utt.partial) {
      if (text !== '') this.callbacks.onPartialHeld?.();
      return;
    }
    utt.partial = text;
    utt.sentPartial = true;
    this.callbacks.onPartial(text);
  }

  private async finish(endTime: number): Promise<void> {
    const decoded = await this.decoder.endUtt();
    const utt = this.utterance;
    this.utterance = undefined;
    if (this.aborted || utt === undefined) return;
    const words = utteranceWords(decoded, utt.start, this.decoder.frameRate);
    // Noise the endpointer took for speech decodes to nothing: say nothing,
    // unless a partial is on screen that this final must replace.
    if (words.length === 0 && !utt.sentPartial) return;
    this.callbacks.onFinal({
      text: words.map((w) => w.word).join(' '),
      start: words[0]?.start ?? utt.start,
      end: words.at(-1)?.end ?? endTime,
      words,
    });
  }
}
