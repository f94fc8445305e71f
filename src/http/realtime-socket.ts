import type { z } from 'zod';
import { PcmResampler } from '../audio/index.js';
import type { StreamFinal, Word } from '../engines/index.js';
import { AppError, toSerializedError, type SerializedError } from '../errors.js';
import { LiveStream, type Plan } from '../transcription/index.js';
import {
  appendEventSchema,
  appErrorEvent,
  bufferEventSchema,
  eventErrorEvent,
  isBase64,
  issueError,
  realtimeId,
  RealtimeEventError,
  serverEvent,
  sessionUpdateEventSchema,
  unsupportedEventType,
  wordLogprobs,
} from './realtime-events.js';
import { applySessionUpdate, defaultSettings, sessionObject, type RealtimeSettings } from './realtime-settings.js';
import { closeCodeFor, type StreamSocket, type StreamSocketDeps } from './stream-socket.js';
import { requestVad, vadFieldOverrides } from './vad-fields.js';

/** OpenAI refuses to commit less than this much audio (`input_audio_buffer_commit_empty`). */
const MIN_COMMIT_MS = 100;
/**
 * Guesses in a row that must agree on a word before a delta sends it: a
 * partial, or a partial that still stands after the next chunk of audio was
 * searched (a guess that holds is as much agreement as a repeated one). On
 * the dev clips PocketSphinx often rewrites a word the next partial kept
 * ("night", "night for", then "nightfall"); a third guess settles most of
 * them, at one more chunk (STREAM_MIN_CHUNK_SIZE, 100 ms) of delay.
 */
const AGREEMENT = 3;

/** One user turn: the audio between a speech start and its stop (server VAD), or between two commits. */
interface Item {
  id: string;
  texts: string[];
  words: Word[];
  /** What the deltas have said so far: always a prefix of the text, at a word boundary. */
  sent: string;
  /** The current utterance's last partials (AGREEMENT - 1 at most), as words. */
  partials: string[][];
  /** Session audio milliseconds. */
  startMs: number;
  endMs: number | undefined;
  /** Seconds of the run's audio where its speech stopped: finals that start before it are its own. */
  stopAt: number | undefined;
}

/**
 * The audio from one point to a commit or clear, on one LiveStream (the
 * engine is held by the session's plan, so a new run takes the same slot).
 * With server VAD a run holds many items; a commit or clear ends it.
 */
interface Run {
  live: LiveStream | undefined;
  /** Audio that arrived before the previous run let its engine go. */
  pending: Buffer[] | undefined;
  /** Session audio milliseconds at the run's first sample. */
  startMs: number;
  speaking: Item | undefined;
  /** Committed by the VAD, waiting for its final. */
  awaiting: Item | undefined;
  /** What the run's end commits (a manual commit), or undefined. */
  committing: Item | undefined;
  clearing: boolean;
  ending: boolean;
  /** Finals with no item yet (turn detection off): they go to the next commit. */
  loose: StreamFinal[];
}

/**
 * The OpenAI Realtime API's transcription session over hark's live streams
 * (docs/streaming.md, "OpenAI Realtime API"): base64 PCM in
 * `input_audio_buffer.append`, resampled to 16 kHz and fed to a LiveStream;
 * the VAD's speech events become `speech_started`/`speech_stopped` and
 * automatic commits, partials become `delta`s (only ever appended: a partial
 * that rewrites what was said holds the deltas back until the `completed`
 * transcript), finals `completed`. A client error is an `error` event and the
 * session goes on; hark's own (a full server, a dead worker, the stream
 * limits) is an `error` event, then the close code of hark's stream protocol.
 */
export class RealtimeSession {
  private settings: RealtimeSettings;
  private readonly sessionId = realtimeId('sess');
  private readonly createdAt = Math.floor(Date.now() / 1000);
  private plan: Plan | undefined;
  private run: Run | undefined;
  /** Every run whose LiveStream may still hold the engine (the current one and those ending). */
  private readonly runs = new Set<Run>();
  /** Resolves once every run so far has let its engine go. */
  private idle: Promise<void> = Promise.resolve();
  private resampler: PcmResampler;
  /** An odd byte left over from the last append (a sample cut in two). */
  private carry: Buffer | undefined;
  /** Input samples appended in the session, at the input rate. */
  private samplesIn = 0;
  /** Session milliseconds where the uncommitted audio begins. */
  private bufferStartMs = 0;
  private previousItemId: string | null = null;
  private closed = false;
  private idleTimer: NodeJS.Timeout | undefined;
  private readonly lifeTimer: NodeJS.Timeout;

  constructor(
    private readonly deps: StreamSocketDeps,
    private readonly socket: StreamSocket,
  ) {
    this.settings = defaultSettings(deps.config);
    this.resampler = new PcmResampler(this.settings.rate, 16_000);
    this.armIdle();
    const seconds = deps.config.STREAM_MAX_DURATION_SECONDS;
    this.lifeTimer = setTimeout(() => this.tooLong(seconds), seconds * 1000);
    this.lifeTimer.unref();
    this.send(serverEvent('session.created', { session: this.sessionObject() }));
  }

  /** A frame from the client. */
  onMessage(data: Buffer, isBinary: boolean): void {
    if (this.closed) return;
    this.armIdle();
    let clientEventId: string | undefined;
    try {
      if (isBinary) throw new RealtimeEventError('invalid_value', 'binary frames are not part of the Realtime protocol: send audio as base64 in input_audio_buffer.append');
      let event: unknown;
      try {
        event = JSON.parse(data.toString('utf8'));
      } catch (err) {
        throw new RealtimeEventError('invalid_json', `The event is not valid JSON: ${(err as Error).message}`);
      }
      if (typeof event !== 'object' || event === null || Array.isArray(event)) throw new RealtimeEventError('invalid_type', 'An event must be a JSON object with a "type".');
      const { type, event_id: id } = event as { type?: unknown; event_id?: unknown };
      if (typeof id === 'string') clientEventId = id.slice(0, 512);
      if (type === undefined) throw new RealtimeEventError('missing_required_parameter', "Missing required parameter: 'type'.", 'type');
      if (typeof type !== 'string') throw new RealtimeEventError('invalid_type', "Invalid type for 'type': expected a string.", 'type');
      this.handle(type, event);
    } catch (err) {
      if (!(err instanceof RealtimeEventError)) return this.fail(err);
      this.deps.logger.debug({ code: err.code, message: err.message }, 'realtime: refused a client event');
      this.send(eventErrorEvent(err, clientEventId));
    }
  }

  /** The connection went away (by either side). */
  onClose(): void {
    if (this.closed) return;
    this.end();
  }

  private handle(type: string, event: unknown): void {
    if (type === 'session.update') return this.update(parse(sessionUpdateEventSchema, event).session);
    if (type === 'input_audio_buffer.append') return this.append(parse(appendEventSchema, event).audio);
    if (type !== 'input_audio_buffer.commit' && type !== 'input_audio_buffer.clear') throw unsupportedEventType(type);
    parse(bufferEventSchema, event);
    if (type === 'input_audio_buffer.commit') this.commit();
    else this.clear();
  }

  private update(raw: Record<string, unknown>): void {
    const { settings, warnings } = applySessionUpdate(this.settings, raw, this.deps.config);
    // The engine is chosen once: the session holds it from its first update or append.
    if (this.plan === undefined) this.plan = this.takePlan(settings.model);
    else if (settings.model !== this.settings.model && this.plan.engine !== this.resolve(settings.model)) {
      throw new RealtimeEventError('invalid_value', `the transcription model cannot change once the session holds an engine (${this.plan.engine}); open a new session`, 'session.audio.input.transcription.model');
    }
    if (settings.rate !== this.settings.rate) {
      this.resampler = new PcmResampler(settings.rate, 16_000);
      this.carry = undefined;
    }
    this.settings = settings;
    this.send(serverEvent('session.updated', { session: this.sessionObject() }));
    for (const w of warnings) this.send(eventErrorEvent(w, undefined, 'warning'));
  }

  private append(audio: string): void {
    if (!isBase64(audio)) throw new RealtimeEventError('invalid_value', 'audio is not base64 (standard alphabet A-Z a-z 0-9 + /)', 'audio');
    let bytes = Buffer.from(audio, 'base64');
    const max = Math.ceil((this.deps.config.STREAM_MAX_BUFFER_SIZE * this.settings.rate) / 16_000);
    if (bytes.length > max) {
      throw new RealtimeEventError('invalid_value', `an append of ${bytes.length} bytes is more than ${max} (STREAM_MAX_BUFFER_SIZE of 16 kHz audio); send smaller appends, at real-time pace`, 'audio');
    }
    this.plan ??= this.takePlan(this.settings.model);
    if (this.carry !== undefined) bytes = Buffer.concat([this.carry, bytes]);
    this.carry = bytes.length % 2 === 1 ? bytes.subarray(bytes.length - 1) : undefined;
    const samples = new Int16Array(Math.floor(bytes.length / 2));
    Buffer.from(samples.buffer).set(bytes.subarray(0, samples.length * 2));
    if (samples.length === 0) return;
    this.samplesIn += samples.length;
    const pcm = this.resampler.push(samples);
    this.write(Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength));
  }

  private commit(): void {
    const buffered = this.nowMs() - this.bufferStartMs;
    if (buffered < MIN_COMMIT_MS) {
      throw new RealtimeEventError(
        'input_audio_buffer_commit_empty',
        `Error committing input audio buffer: buffer too small. Expected at least ${MIN_COMMIT_MS}ms of audio, but buffer only has ${buffered.toFixed(2)}ms of audio.`,
      );
    }
    const run = this.run;
    const item = run?.speaking ?? this.newItem(this.bufferStartMs);
    item.endMs = this.nowMs();
    this.bufferStartMs = item.endMs;
    this.announceCommit(item);
    if (run === undefined) return this.complete(item);
    run.speaking = undefined;
    run.committing = item;
    for (const f of run.loose.splice(0)) addFinal(item, f);
    this.endRun(run);
  }

  private clear(): void {
    this.bufferStartMs = this.nowMs();
    const run = this.run;
    if (run !== undefined) {
      run.clearing = true;
      run.speaking = undefined;
      run.loose = [];
      this.endRun(run);
    }
    this.send(serverEvent('input_audio_buffer.cleared'));
  }

  /** 16 kHz audio for the current run, starting one when there is none. */
  private write(pcm: Buffer): void {
    let run = this.run;
    if (run === undefined) {
      run = { live: undefined, pending: [], startMs: this.nowMs() - (pcm.length / 32_000) * 1000, speaking: undefined, awaiting: undefined, committing: undefined, clearing: false, ending: false, loose: [] };
      this.run = run;
      this.startRun(run);
    }
    if (run.live !== undefined) return run.live.write(pcm);
    run.pending!.push(pcm);
    const held = run.pending!.reduce((n, b) => n + b.length, 0);
    if (held > this.deps.config.STREAM_MAX_BUFFER_SIZE) {
      this.fail(new AppError('STREAM_TOO_FAST', `${held} bytes of audio wait for the engine, more than STREAM_MAX_BUFFER_SIZE; send at real-time pace`));
    }
  }

  /** Opens the run's LiveStream once the previous run has let the engine go (they share the session's slot). */
  private startRun(run: Run): void {
    const previous = this.idle;
    let settle!: () => void;
    this.idle = new Promise<void>((resolve) => (settle = resolve));
    void previous.then(() => {
      if (this.closed || this.plan === undefined) return settle();
      const { settings } = this;
      const vad = settings.turn === null ? undefined : this.vadFor(settings.turn);
      const live = new LiveStream(
        { config: this.deps.config, service: this.deps.service, plan: this.plan, logger: this.deps.logger, observer: this.deps.observer, usage: this.deps.usage },
        { encoding: 'pcm_s16le', sampleRate: 16_000, language: settings.language, prompt: settings.prompt, vad: vad?.settings, silenceSeconds: vad?.silenceSeconds },
        {
          onReady: () => undefined,
          onPartial: (text) => this.onPartial(run, text),
          onPartialHeld: () => this.onPartialHeld(run),
          onFinal: (final) => this.onFinal(run, final),
          onSpeech: ({ type, time }) => (type === 'speech_started' ? this.onSpeechStarted(run, time) : this.onSpeechStopped(run, time)),
          onDone: () => this.onRunDone(run),
          onError: (e) => this.failWith(e),
        },
      );
      run.live = live;
      this.runs.add(run);
      void live.finished.finally(() => {
        this.runs.delete(run);
        settle();
      });
      for (const pcm of run.pending ?? []) live.write(pcm);
      run.pending = undefined;
      if (run.ending) live.end();
    });
  }

  private endRun(run: Run): void {
    run.ending = true;
    if (this.run === run) this.run = undefined;
    run.live?.end();
  }

  private onSpeechStarted(run: Run, time: number): void {
    if (this.settings.turn === null || run.ending) return;
    if (run.awaiting !== undefined) this.complete(run.awaiting);
    run.awaiting = undefined;
    if (run.speaking !== undefined) return;
    run.speaking = this.newItem(run.startMs + time * 1000);
    this.send(serverEvent('input_audio_buffer.speech_started', { audio_start_ms: Math.round(run.speaking.startMs), item_id: run.speaking.id }));
  }

  private onSpeechStopped(run: Run, time: number): void {
    const item = run.speaking;
    if (this.settings.turn === null || run.ending || item === undefined) return;
    item.endMs = run.startMs + time * 1000;
    item.stopAt = time;
    run.speaking = undefined;
    run.awaiting = item;
    this.bufferStartMs = Math.max(this.bufferStartMs, item.endMs);
    this.send(serverEvent('input_audio_buffer.speech_stopped', { audio_end_ms: Math.round(item.endMs), item_id: item.id }));
    this.announceCommit(item);
  }

  /**
   * Partials are revised as the decoder hears more, but a delta cannot be
   * taken back: a word is sent once AGREEMENT guesses in a row agree on it
   * and on everything before it (local agreement), and a word follows it
   * (the last word may still be growing: "night" becomes "nightfall"). A
   * guess that the next partials rewrite is not sent; one rewritten after
   * that holds the deltas back until `completed`.
   */
  private onPartial(run: Run, text: string): void {
    const item = this.partialItem(run);
    if (item !== undefined) this.agree(item, text.split(' ').filter((w) => w !== ''));
  }

  /** The item's last partial held after more audio: one more guess of the same words. */
  private onPartialHeld(run: Run): void {
    const item = this.partialItem(run);
    const last = item?.partials.at(-1);
    if (item !== undefined && last !== undefined) this.agree(item, last);
  }

  /** The item a partial's words go to, when deltas are sent at all (turn detection on). */
  private partialItem(run: Run): Item | undefined {
    return this.settings.turn === null ? undefined : (run.speaking ?? run.awaiting);
  }

  private agree(item: Item, words: string[]): void {
    let agreed = item.partials.length < AGREEMENT - 1 ? 0 : words.length - 1;
    for (const before of item.partials) {
      let same = 0;
      while (same < agreed && words[same] === before[same]) same++;
      agreed = same;
    }
    item.partials = [...item.partials, words].slice(-(AGREEMENT - 1));
    this.sendDelta(item, joinText([...item.texts, words.slice(0, agreed).join(' ')]));
  }

  /** A final goes to the item whose speech it is: the one the VAD committed, the one still speaking, or the next commit. */
  private onFinal(run: Run, final: StreamFinal): void {
    const awaiting = run.awaiting;
    if (awaiting !== undefined) {
      run.awaiting = undefined;
      if (final.start < (awaiting.stopAt ?? Infinity)) {
        addFinal(awaiting, final);
        return this.complete(awaiting);
      }
      this.complete(awaiting);
    }
    if (run.clearing) return;
    const item = run.speaking ?? run.committing;
    if (item !== undefined) {
      addFinal(item, final);
      if (item === run.speaking) this.sendDelta(item, joinText(item.texts));
      return;
    }
    if (this.settings.turn === null) {
      run.loose.push(final);
      return;
    }
    // Speech the VAD never announced (the energy endpointer's edge cases): an item of its own.
    const own = this.newItem(run.startMs + final.start * 1000);
    own.endMs = run.startMs + final.end * 1000;
    addFinal(own, final);
    this.announceCommit(own);
    this.complete(own);
  }

  private onRunDone(run: Run): void {
    if (run.awaiting !== undefined) this.complete(run.awaiting);
    if (run.committing !== undefined) this.complete(run.committing);
    run.awaiting = undefined;
    run.committing = undefined;
  }

  private announceCommit(item: Item): void {
    this.send(serverEvent('input_audio_buffer.committed', { previous_item_id: this.previousItemId, item_id: item.id }));
    this.previousItemId = item.id;
  }

  /** The item's transcript: the deltas' last words, then `completed`. */
  private complete(item: Item): void {
    const transcript = joinText(item.texts);
    this.sendDelta(item, transcript);
    const seconds = Math.max(0, ((item.endMs ?? this.nowMs()) - item.startMs) / 1000);
    this.send(
      serverEvent('conversation.item.input_audio_transcription.completed', {
        item_id: item.id,
        content_index: 0,
        transcript,
        ...(this.settings.logprobs ? { logprobs: wordLogprobs(item.words) } : {}),
        usage: { type: 'duration', seconds: Math.round(seconds * 1000) / 1000 },
      }),
    );
  }

  /** Sends what `text` adds to the item's deltas, when it only adds whole words. */
  private sendDelta(item: Item, text: string): void {
    if (text.length <= item.sent.length || !text.startsWith(item.sent)) return;
    if (item.sent !== '' && text[item.sent.length] !== ' ') return;
    const delta = text.slice(item.sent.length);
    item.sent = text;
    this.send(serverEvent('conversation.item.input_audio_transcription.delta', { item_id: item.id, content_index: 0, delta, ...(this.settings.logprobs ? { logprobs: null } : {}) }));
  }

  private newItem(startMs: number): Item {
    return { id: realtimeId('item'), texts: [], words: [], sent: '', partials: [], startMs, endMs: undefined, stopAt: undefined };
  }

  /**
   * The engine's slot for the session, or AppError (a busy engine, an engine
   * not loaded). OpenAI's model names are the default engine's aliases
   * (DEFAULT_MODEL_ALIASES), resolved as on every other route.
   */
  private takePlan(model: string | undefined): Plan {
    try {
      return this.deps.place.plan({ engine: model, isolation: this.deps.isolation });
    } catch (err) {
      if (err instanceof AppError && err.code === 'MODEL_NOT_FOUND') throw new RealtimeEventError('invalid_value', err.message, 'session.audio.input.transcription.model');
      throw err;
    }
  }

  private resolve(model: string | undefined): string {
    return this.deps.service.resolve({ engine: model, isolation: this.deps.isolation }).engine;
  }

  private vadFor(turn: NonNullable<RealtimeSettings['turn']>): { settings: ReturnType<typeof requestVad>; silenceSeconds: number } {
    const overrides = vadFieldOverrides({
      vad_threshold: String(turn.threshold),
      vad_min_silence_ms: String(turn.silence_duration_ms),
      vad_speech_pad_ms: String(turn.prefix_padding_ms),
    });
    const settings = requestVad(this.deps.config, overrides);
    // server_vad with the server's VAD off runs silero (as chunking_strategy does).
    return { settings: settings.kind === 'off' ? { ...settings, kind: 'silero' } : settings, silenceSeconds: turn.silence_duration_ms / 1000 };
  }

  private sessionObject(): Record<string, unknown> {
    const expiresAt = this.createdAt + this.deps.config.STREAM_MAX_DURATION_SECONDS;
    return sessionObject(this.settings, { id: this.sessionId, expiresAt, model: this.settings.model ?? this.plan?.engine ?? this.deps.config.ENGINE });
  }

  private nowMs(): number {
    return (this.samplesIn / this.settings.rate) * 1000;
  }

  /** STREAM_MAX_DURATION_SECONDS passed: the run's last finals, then STREAM_TOO_LONG. */
  private tooLong(seconds: number): void {
    const err = new AppError('STREAM_TOO_LONG', `the session has been open for ${seconds} s, the most a live stream may (STREAM_MAX_DURATION_SECONDS); open a new one to go on`);
    const live = this.run?.live;
    if (live === undefined) return this.fail(err);
    clearTimeout(this.idleTimer);
    live.stop(err);
  }

  private fail(err: unknown): void {
    const e = toSerializedError(err);
    if (e.code === 'INTERNAL_ERROR') this.deps.logger.error({ err }, 'realtime session failed');
    else this.deps.logger.info({ code: e.code, message: e.message }, 'realtime session ended with an error');
    this.failWith(e);
  }

  /** hark's error: told, closed, let go. */
  private failWith(e: SerializedError): void {
    if (this.closed) return;
    this.send(appErrorEvent(e));
    this.socket.close(closeCodeFor(e.code), e.code);
    this.end();
  }

  private send(event: Record<string, unknown>): void {
    if (this.closed) return;
    try {
      this.socket.send(JSON.stringify(event));
    } catch {
      // The socket is closing; onClose cleans up.
    }
  }

  /** The session is over: its place (and engine slot) go back once every run has let the engine go. */
  private end(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.idleTimer);
    clearTimeout(this.lifeTimer);
    // Whatever the runs would still say has no one to hear it.
    for (const run of this.runs) run.live?.close();
    const place = this.deps.place;
    void this.idle.finally(() => place.release());
  }

  private armIdle(): void {
    clearTimeout(this.idleTimer);
    const seconds = this.deps.config.STREAM_IDLE_TIMEOUT_SECONDS;
    this.idleTimer = setTimeout(() => this.fail(new AppError('STREAM_IDLE_TIMEOUT', `nothing arrived for ${seconds} s (STREAM_IDLE_TIMEOUT_SECONDS)`)), seconds * 1000);
    this.idleTimer.unref();
  }
}

/** Parses a client event, or refuses it the way OpenAI words a bad field. */
function parse<T>(schema: z.ZodType<T>, event: unknown): T {
  const parsed = schema.safeParse(event);
  if (parsed.success) return parsed.data;
  throw issueError(parsed.error.issues[0]!, '');
}

function addFinal(item: Item, final: StreamFinal): void {
  if (final.text.trim() !== '') item.texts.push(final.text.trim());
  item.partials = [];
  item.words.push(...final.words);
}

function joinText(parts: readonly string[]): string {
  return parts.filter((p) => p.trim() !== '').join(' ');
}

