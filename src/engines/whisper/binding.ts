import { createRequire } from 'node:module';

/** The part of @fugood/whisper.node hark uses (its package ships TypeScript sources, not declarations). */
export interface WhisperSegment {
  text: string;
  /** Milliseconds from the start of the buffer. */
  t0: number;
  t1: number;
}

export interface WhisperResult {
  result: string;
  language?: string;
  segments: WhisperSegment[];
  isAborted: boolean;
}

export interface WhisperTranscribeOptions {
  language?: string;
  maxThreads?: number;
  temperature?: number;
  bestOf?: number;
  prompt?: string;
  /** English text whatever the language spoken (whisper.cpp's translate task; an `.en` model only transcribes). */
  translate?: boolean;
  /** Times per token (whisper.cpp's `token_timestamps`). */
  tokenTimestamps?: boolean;
  /** Longest segment in characters; 1 gives one segment per token (`max_len`). */
  maxLen?: number;
}

export interface WhisperContext {
  /** `pcm`: 16 kHz mono s16le samples. */
  transcribeData(pcm: ArrayBuffer, options?: WhisperTranscribeOptions): { stop: () => Promise<void>; promise: Promise<WhisperResult> };
  release(): Promise<void>;
}

interface WhisperModule {
  initWhisper(options: { filePath: string; useGpu?: boolean }): Promise<WhisperContext>;
  toggleNativeLog(enable: boolean): Promise<void>;
  addNativeLogListener(listener: (level: string, text: string) => void): { remove: () => void };
}

export interface WhisperBinding {
  /** Loads a model; `warnings` are whisper.cpp's own (e.g. a file with no tensors loads as an empty test model). */
  load(path: string): Promise<{ context: WhisperContext; warnings: string[] }>;
  release(context: WhisperContext): Promise<void>;
}

let binding: WhisperBinding | undefined;

/**
 * Resolves once the log lines of a load that has returned have reached the
 * listener. whisper.cpp loads on the main thread and logs through a
 * thread-safe function, whose lines are queued during the load and handed to
 * JavaScript in the event loop's next poll phase. Two turns of the check phase
 * (which follows the poll phase) always include one whole poll phase, whatever
 * phase the load returned in; a timer does not, if the loop is busy for longer
 * than the timer's delay.
 */
async function nativeLogDelivered(): Promise<void> {
  for (let turn = 0; turn < 2; turn++) await new Promise((resolve) => setImmediate(resolve));
}

/**
 * The binding, loaded once per process. While a model is loaded, whisper.cpp's
 * log goes to a listener instead of stderr (it prints a line per buffer at
 * load), so its warnings and errors can be reported: initWhisper's own error
 * says only "Failed to initialize whisper context". The listener keeps the
 * event loop alive, so it is switched off when the last model is released.
 */
export async function loadWhisperBinding(): Promise<WhisperBinding> {
  if (binding !== undefined) return binding;
  const mod = createRequire(import.meta.url)('@fugood/whisper.node') as WhisperModule;
  let lines: { level: string; text: string }[] = [];
  mod.addNativeLogListener((level, text) => {
    if (level === 'warn' || level === 'error') lines.push({ level, text: text.trim().replace(/^\w+: /, '') });
  });
  let open = 0;
  // Loads one at a time, so each load's log lines are its own.
  let queue: Promise<unknown> = Promise.resolve();
  binding = {
    load: (path) => {
      const run = queue.then(async () => {
        if (open === 0) await mod.toggleNativeLog(true);
        open++;
        lines = [];
        try {
          const context = await mod.initWhisper({ filePath: path, useGpu: false });
          await nativeLogDelivered();
          return { context, warnings: lines.filter((l) => l.level === 'warn').map((l) => l.text) };
        } catch (cause) {
          await nativeLogDelivered();
          open--;
          if (open === 0) await mod.toggleNativeLog(false);
          const error = lines.filter((l) => l.level === 'error').at(-1)?.text;
          throw new Error(error ?? (cause as Error).message, { cause });
        }
      });
      queue = run.catch(() => undefined);
      return run;
    },
    release: async (context) => {
      await context.release();
      open--;
      if (open === 0) await mod.toggleNativeLog(false);
    },
  };
  return binding;
}
