import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { AppError } from '../errors.js';

/** What a live stream may send, as its config message names it. */
export const STREAM_ENCODINGS = ['pcm_s16le', 'webm', 'ogg'] as const;
export type StreamEncoding = (typeof STREAM_ENCODINGS)[number];

/** Accepts MediaRecorder's MIME types too (`audio/webm;codecs=opus`, `ogg/opus`). */
export function parseStreamEncoding(value: string): StreamEncoding | undefined {
  const v = value.toLowerCase().replace(/^audio\//, '');
  if (v === 'pcm_s16le' || v === 'pcm' || v === 's16le') return 'pcm_s16le';
  if (v.startsWith('webm')) return 'webm';
  if (v.startsWith('ogg') || v.startsWith('opus')) return 'ogg';
  return undefined;
}

/**
 * One long-lived ffmpeg per stream that needs one (a container, or PCM at
 * another rate), fed through stdin, giving 16 kHz mono s16le on stdout.
 */
export class StreamDecoder {
  private readonly child: ChildProcessByStdio<Writable, Readable, Readable>;
  private stderr = '';
  private written = 0;
  /** Set when the stream ends before any byte came: ffmpeg's "no input" exit is then no error. */
  private empty = false;
  readonly exited: Promise<void>;

  constructor(encoding: StreamEncoding, sampleRate: number, onPcm: (pcm: Buffer) => void, onError: (err: AppError) => void) {
    const input =
      encoding === 'pcm_s16le' ? ['-f', 's16le', '-ar', String(sampleRate), '-ac', '1'] : ['-f', encoding === 'webm' ? 'matroska' : 'ogg'];
    this.child = spawn(
      'ffmpeg',
      ['-hide_banner', '-loglevel', 'error', '-nostdin', '-fflags', 'nobuffer', '-probesize', '32768', ...input, '-i', 'pipe:0', '-f', 's16le', '-ar', '16000', '-ac', '1', 'pipe:1'],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    this.child.stdout.on('data', onPcm);
    this.child.stderr.on('data', (d: Buffer) => {
      if (this.stderr.length < 2000) this.stderr += d.toString();
    });
    // EPIPE when ffmpeg quits on bad input: reported through its exit below.
    this.child.stdin.on('error', () => undefined);
    this.exited = new Promise((resolve) => {
      this.child.once('close', (code, signal) => {
        if (code !== 0 && signal === null && !this.empty) {
          onError(new AppError('INVALID_AUDIO', `the stream's audio cannot be decoded as ${encoding}: ${this.stderr.trim().split('\n').at(-1) ?? `ffmpeg exit ${code}`}`));
        }
        resolve();
      });
      this.child.once('error', (err) => {
        onError(new AppError('INTERNAL_ERROR', `ffmpeg could not start: ${err.message}`));
        resolve();
      });
    });
  }

  /** Bytes written but not yet taken by ffmpeg. */
  get pendingBytes(): number {
    return this.child.stdin.writableLength;
  }

  write(data: Buffer): void {
    this.written += data.length;
    this.child.stdin.write(data);
  }

  /**
   * No more input; resolves when ffmpeg has given all its output. A stream
   * stopped before its first byte (a Stop pressed at once) has no audio, not
   * bad audio.
   */
  async end(): Promise<void> {
    this.empty = this.written === 0;
    this.child.stdin.end();
    await this.exited;
  }

  kill(): void {
    this.child.kill('SIGKILL');
  }
}
