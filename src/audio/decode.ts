import { stat } from 'node:fs/promises';
import { AppError } from '../errors.js';
import { runProcess } from './process.js';

/** hark decodes everything to this: what speech engines expect. */
export const SAMPLE_RATE = 16_000;
export const BYTES_PER_SAMPLE = 2;

/** A decoded file: raw signed 16-bit little-endian mono PCM at {@link SAMPLE_RATE}. */
export interface PcmAudio {
  path: string;
  samples: number;
  durationSeconds: number;
}

export interface ProbeResult {
  format: string;
  codec: string;
  durationSeconds: number | undefined;
}

function firstLine(text: string): string {
  const line = text
    .split('\n')
    .map((l) => l.trim())
    .find((l) => l.length > 0);
  // ffmpeg prefixes messages with the input path, which is hark's temp name: drop it.
  return (line ?? 'unknown error').replace(/^.*?: /, '');
}

/** Reads the container and first audio stream with ffprobe. */
export async function probeAudio(path: string, signal?: AbortSignal): Promise<ProbeResult> {
  // Only the first audio stream: a file may hold thousands of streams, and a
  // listing of all of them would outgrow the captured output.
  const res = await runProcess(
    'ffprobe',
    ['-v', 'error', '-select_streams', 'a:0', '-show_entries', 'format=duration,format_name:stream=codec_type,codec_name', '-of', 'json', path],
    signal,
  );
  if (res.code !== 0) {
    throw new AppError('INVALID_AUDIO', `the file is not audio hark can decode (${firstLine(res.stderr)})`);
  }
  if (res.stdoutTruncated) {
    throw new AppError('INVALID_AUDIO', 'the file is not audio hark can decode (its description is too large to read)');
  }
  const info = JSON.parse(res.stdout) as {
    streams?: { codec_type?: string; codec_name?: string }[];
    format?: { duration?: string; format_name?: string };
  };
  const audio = info.streams?.find((s) => s.codec_type === 'audio');
  if (audio === undefined) {
    throw new AppError('INVALID_AUDIO', 'the file has no audio stream');
  }
  const duration = Number(info.format?.duration);
  return {
    format: info.format?.format_name ?? 'unknown',
    codec: audio.codec_name ?? 'unknown',
    durationSeconds: Number.isFinite(duration) ? duration : undefined,
  };
}

export interface DecodeOptions {
  maxSeconds: number;
  signal?: AbortSignal;
}

/**
 * Decodes any format ffmpeg reads to 16 kHz mono s16le PCM in `outPath`.
 * Decoding stops just past `maxSeconds`, so a file whose header lies about its
 * length (or that expands to hours) cannot fill the disk.
 */
export async function decodeToPcm(inPath: string, outPath: string, options: DecodeOptions): Promise<PcmAudio> {
  const probe = await probeAudio(inPath, options.signal);
  if (probe.durationSeconds !== undefined && probe.durationSeconds > options.maxSeconds) {
    throw tooLong(probe.durationSeconds, options.maxSeconds);
  }
  const res = await runProcess(
    'ffmpeg',
    [
      '-nostdin', '-hide_banner', '-loglevel', 'error', '-y',
      '-i', inPath,
      '-map', '0:a:0', '-vn', '-sn', '-dn',
      '-ac', '1', '-ar', String(SAMPLE_RATE), '-c:a', 'pcm_s16le', '-f', 's16le',
      '-t', String(options.maxSeconds + 1),
      outPath,
    ],
    options.signal,
  );
  if (res.code !== 0) {
    throw new AppError('INVALID_AUDIO', `the audio could not be decoded (${firstLine(res.stderr)})`);
  }
  const { size } = await stat(outPath);
  const samples = Math.floor(size / BYTES_PER_SAMPLE);
  const durationSeconds = samples / SAMPLE_RATE;
  if (samples === 0) throw new AppError('EMPTY_AUDIO', 'the file contains no audio samples');
  // Decoding stopped at the cap: the real length is unknown, only that it is over the limit.
  if (durationSeconds > options.maxSeconds) throw tooLong(undefined, options.maxSeconds);
  return { path: outPath, samples, durationSeconds };
}

/** `seconds` is the length when known (from the container); undefined when only the capped decode found it too long. */
/** AUDIO_TOO_LONG, naming the length when it is known (not claiming one that was not measured). */
export function tooLong(seconds: number | undefined, max: number): AppError {
  if (seconds === undefined) {
    return new AppError('AUDIO_TOO_LONG', `the audio is longer than the ${max} s this server accepts (MAX_AUDIO_SECONDS)`, {
      details: { max_audio_seconds: max },
    });
  }
  return new AppError(
    'AUDIO_TOO_LONG',
    `the audio lasts ${seconds.toFixed(1)} s, longer than the ${max} s this server accepts (MAX_AUDIO_SECONDS)`,
    { details: { duration_seconds: seconds, max_audio_seconds: max } },
  );
}
