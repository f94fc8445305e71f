import { ScratchDir } from '../os/index.js';
import { engineNotReady, openEngineStream, type Engine, type EngineName, type EngineStatus, type EngineStream } from '../engines/index.js';
import { toSerializedError } from '../errors.js';
import type { FromWorker } from './protocol.js';
import { workerScratchDir, type StreamStart, type StreamToWorker } from './stream-protocol.js';

interface Current {
  id: string;
  /** Undefined until the engine has opened it. */
  stream: EngineStream | undefined;
  /** Start, writes and end run one after another, in the order they arrived. */
  chain: Promise<void>;
  /** Set at end, abort or failure: nothing more is sent for this stream but its last word. */
  closed: boolean;
  /** Whether the engine stream has been told to abort (once is enough). */
  reset: boolean;
}

export interface StreamHostOptions {
  engines: ReadonlyMap<EngineName, Engine>;
  status: readonly EngineStatus[];
  send(msg: FromWorker): void;
  /** Whether a task holds the worker (a stream must not start beside it). */
  taskRunning(): boolean;
}

/**
 * The worker's side of live streams: one at a time, on the worker's engine
 * instance, fed by `stream-audio` messages. Every way out (end, abort, an
 * error) leaves the engine reset and the worker free for the next task.
 */
export class StreamHost {
  private current: Current | undefined;
  private scratch: ScratchDir | undefined;

  constructor(private readonly options: StreamHostOptions) {}

  /** Whether a stream holds the worker. */
  get active(): boolean {
    return this.current !== undefined;
  }

  handle(msg: StreamToWorker): void {
    if (msg.type === 'stream-start') return this.start(msg);
    const cur = this.current;
    if (cur === undefined || cur.id !== msg.id) return; // a late message for a stream already over
    switch (msg.type) {
      case 'stream-audio': {
        const { pcm } = msg;
        this.enqueue(cur, async (stream) => {
          await stream.write(pcm);
          if (!cur.closed) this.options.send({ type: 'stream-written', id: cur.id });
        });
        return;
      }
      case 'stream-end':
        this.enqueue(cur, async (stream) => {
          await stream.end();
          if (cur.closed) return;
          cur.closed = true;
          this.release(cur);
          this.options.send({ type: 'stream-ended', id: cur.id });
        });
        return;
      case 'stream-abort':
        void this.abort(cur);
        return;
    }
  }

  private start(msg: StreamStart): void {
    const { send } = this.options;
    if (this.current !== undefined || this.options.taskRunning()) {
      send({ type: 'error', id: msg.id, error: { code: 'WORKER_UNAVAILABLE', message: 'worker is busy' } });
      return;
    }
    const cur: Current = { id: msg.id, stream: undefined, chain: Promise.resolve(), closed: false, reset: false };
    this.current = cur;
    this.enqueue(cur, async () => {
      const engine = this.options.engines.get(msg.engine);
      if (engine === undefined) throw engineNotReady(msg.engine, this.options.status, `in worker ${process.pid}`);
      this.scratch ??= await initScratch();
      cur.stream = openEngineStream(
        engine,
        msg.options,
        {
          // Nothing is sent after end, abort or failure: the server has moved on.
          onPartial: (text) => {
            if (!cur.closed) send({ type: 'stream-partial', id: cur.id, text });
          },
          onPartialHeld: () => {
            if (!cur.closed) send({ type: 'stream-partial-held', id: cur.id });
          },
          onFinal: (final) => {
            if (!cur.closed) send({ type: 'stream-final', id: cur.id, final });
          },
          onSpeech: (event) => {
            if (!cur.closed) send({ type: 'stream-speech', id: cur.id, event });
          },
        },
        this.scratch,
      );
      send({ type: 'stream-started', id: cur.id });
    });
  }

  /** Runs `step` after what came before; a failure ends the stream with an `error`. */
  private enqueue(cur: Current, step: (stream: EngineStream) => Promise<void>): void {
    cur.chain = cur.chain.then(async () => {
      if (cur.closed) return;
      try {
        // Only the start step runs before the stream exists; it does not use it.
        await step(cur.stream as EngineStream);
      } catch (err) {
        await this.fail(cur, err);
      }
    });
  }

  private async fail(cur: Current, err: unknown): Promise<void> {
    if (cur.closed) return;
    cur.closed = true;
    // Reset the engine before saying so: once the server hears `error`, it may send a task.
    await resetEngine(cur);
    this.release(cur);
    this.options.send({ type: 'error', id: cur.id, error: toSerializedError(err) });
  }

  private async abort(cur: Current): Promise<void> {
    if (cur.closed) return;
    cur.closed = true;
    // Stops the engine at its next chance; the step decoding now (if any) then settles.
    await resetEngine(cur);
    await cur.chain;
    // A stream still opening when the abort came exists now, and is reset too.
    await resetEngine(cur);
    this.release(cur);
    this.options.send({ type: 'stream-ended', id: cur.id });
  }

  private release(cur: Current): void {
    if (this.current === cur) this.current = undefined;
  }
}

async function resetEngine(cur: Current): Promise<void> {
  if (cur.stream === undefined || cur.reset) return;
  cur.reset = true;
  await cur.stream.abort().catch(reportResetFailure);
}

async function initScratch(): Promise<ScratchDir> {
  const dir = new ScratchDir(workerScratchDir(process.pid));
  await dir.init();
  return dir;
}

/** The worker's stderr is logged by the server (as `worker output`). */
function reportResetFailure(err: unknown): void {
  process.stderr.write(`hark worker: resetting the engine after a stream failed: ${err instanceof Error ? err.message : String(err)}\n`);
}
