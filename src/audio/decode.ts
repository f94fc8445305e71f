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

function firstLine(text: string, path: string): string {
  const line = text
    .split('\n')
    .map((l) => l.trim())
    .find((l) => l.length > 0);
  // ffmpeg prefixes messages with the component ("[wav @ 0x55...]") or the input path, which is hark's temp name: drop both.
  return (line ?? 'unknown error').replace(/^\[[^\]]*\]\s*/, '').split(`${path}: `).join('').split(path).join('the file');
}

/**
 * The containers ffmpeg may open an upload as. Its other demuxers include some
 * that open more than the file: playlists and scripts (hls, dash, concat, imf)
 * that name other files or URLs, session descriptions (sdp, rtsp) that open
 * network ports, devices and filter graphs (lavfi). An upload is one file of
 * audio, so only formats that hold their audio inside are allowed.
 */
export const INPUT_FORMATS = [
  'wav', 'w64', 'flac', 'mp3', 'ogg', 'matroska', 'webm', 'mov', 'mp4', 'm4a', '3gp', 'aac', 'ac3', 'eac3', 'dts', 'dtshd', 'truehd', 'mlp',
  'aiff', 'caf', 'amr', 'amrnb', 'amrwb', 'asf', 'xwma', 'avi', 'flv', 'mpeg', 'mpegts', 'au', 'voc', 'wv', 'ape', 'tta', 'tak', 'mpc', 'mpc8',
  'shn', 'dsf', 'gsm', 'ircam', 'nistsphere', 'sox', 'loas', 'spdif', 'g722', 'g723_1', 'g729', 'ilbc', 'qcp', 'sln', 'sbc', 'codec2', 'oma',
  'rm', 'nut', 'mxf', 'dv', 'iff', 'mmf', 'vqf', 'wtv', 'gxf', 'hca', 'dfpwm',
].join(',');

/** Input options for every ffmpeg/ffprobe run on an upload: local files only, and only {@link INPUT_FORMATS}. */
const INPUT_GUARD = ['-protocol_whitelist', 'file', '-format_whitelist', INPUT_FORMATS];

/** ffmpeg's reason, or hark's words when it refused a format that opens other files. */
function unreadable(stderr: string, path: string): string {
  const refused = /\[(\w+) @ [^\]]*\] Format not on whitelist/.exec(stderr);
  if (refused !== null) return `${refused[1]} is a playlist, script or stream format that refers to other files or addresses; send the audio itself`;
  return firstLine(stderr, path);
}

/** Reads the container and first audio stream with ffprobe. */
export async function probeAudio(path: string, signal?: AbortSignal): Promise<ProbeResult> {
  // Only the first audio stream: a file may hold thousands of streams, and a
  // listing of all of them would outgrow the captured output.
  const res = await runProcess(
    'ffprobe',
    ['-v', 'error', ...INPUT_GUARD, '-select_streams', 'a:0', '-show_entries', 'format=duration,format_name:stream=codec_type,codec_name', '-of', 'json', path],
    signal,
  );
  if (res.code !== 0) {
    throw new AppError('INVALID_AUDIO', `the file is not audio hark can decode (${unreadable(res.stderr, path)})`);
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
  // A header naming a codec ffmpeg has no decoder for (or none at all): refused now, not at decoding.
  if (audio.codec_name === undefined) {
    throw new AppError('INVALID_AUDIO', 'the file\'s audio is in a codec hark cannot decode');
  }
  const duration = Number(info.format?.duration);
  return {
    format: info.format?.format_name ?? 'unknown',
    codec: audio.codec_name,
    durationSeconds: Number.isFinite(duration) ? duration : undefined,
  };
}

export interface DecodeOptions {
  maxSeconds: number;
  signal?: AbortSignal;
}

/**
 * How much audio a file whose container states `stated` seconds may decode to
 * before it is refused as lying: half as much again, and at least 30 s more.
 * Generous, because some stated lengths are estimates (an MP3 without a VBR
 * header, raw AAC: ffmpeg guesses from the bitrate) and a short file's estimate
 * can be off by seconds; tight enough that a 10 s claim cannot decode hours.
 */
export function statedLengthAllowance(stated: number): number {
  return Math.max(stated * 1.5, stated + 30);
}

/** Seconds of 16 kHz s16le PCM in `bytes`. */
function pcmSeconds(bytes: number): number {
  return Math.floor(bytes / BYTES_PER_SAMPLE) / SAMPLE_RATE;
}

/** Seconds of PCM written to `path` so far (0 when there is no file). */
async function decodedSoFar(path: string): Promise<number> {
  return pcmSeconds((await stat(path).catch(() => ({ size: 0 }))).size);
}

/**
 * Decodes any format ffmpeg reads to 16 kHz mono s16le PCM in `outPath`.
 * Decoding stops just past `maxSeconds`, and just past the length the container
 * states (see {@link statedLengthAllowance}), so a file whose header lies about
 * its length (or that expands to hours) can neither fill the disk nor hold a
 * decoder for longer than it claimed. A refusal after decoding started says in
 * `details.decoded_seconds` how much was decoded: what the key is charged for the
 * failed request (TranscriptionService.transcribeFile).
 */
export async function decodeToPcm(inPath: string, outPath: string, options: DecodeOptions): Promise<PcmAudio> {
  const probe = await probeAudio(inPath, options.signal);
  const stated = probe.durationSeconds;
  if (stated !== undefined && stated > options.maxSeconds) {
    throw tooLong(stated, options.maxSeconds);
  }
  // Without a stated length (a live-recorded WebM has none) only MAX_AUDIO_SECONDS bounds decoding.
  const allowance = stated === undefined ? Infinity : statedLengthAllowance(stated);
  const stopAt = Math.min(options.maxSeconds, allowance);
  const res = await runProcess(
    'ffmpeg',
    [
      '-nostdin', '-hide_banner', '-loglevel', 'error', '-y',
      ...INPUT_GUARD, '-i', inPath,
      '-map', '0:a:0', '-vn', '-sn', '-dn',
      '-ac', '1', '-ar', String(SAMPLE_RATE), '-c:a', 'pcm_s16le', '-f', 's16le',
      '-t', String(stopAt + 1),
      outPath,
    ],
    options.signal,
  );
  if (res.code !== 0) {
    const decoded = await decodedSoFar(outPath);
    throw new AppError('INVALID_AUDIO', `the audio could not be decoded (${unreadable(res.stderr, inPath)})`, decoded > 0 ? { details: { decoded_seconds: decoded } } : {});
  }
  const { size } = await stat(outPath);
  const samples = Math.floor(size / BYTES_PER_SAMPLE);
  const durationSeconds = pcmSeconds(size);
  if (samples === 0) throw new AppError('EMPTY_AUDIO', 'the file contains no audio samples');
  if (durationSeconds > stopAt) {
    // Decoding stopped at the cap: the real length is unknown, only that it is over the limit.
    if (allowance >= options.maxSeconds) throw tooLong(undefined, options.maxSeconds, durationSeconds);
    throw new AppError(
      'INVALID_AUDIO',
      `the audio runs longer than the ${stated!.toFixed(1)} s its header states (decoding stopped at ${durationSeconds.toFixed(1)} s); the file is damaged or was made to mislead`,
      { details: { stated_seconds: stated, decoded_seconds: durationSeconds } },
    );
  }
  return { path: outPath, samples, durationSeconds };
}

/**
 * AUDIO_TOO_LONG, naming the length when it is known (not claiming one that was not measured).
 * `seconds`: the length when known (from the container); undefined when only the capped decode
 * found it too long, and then `decoded` is what that decode cost.
 */
export function tooLong(seconds: number | undefined, max: number, decoded?: number): AppError {
  if (seconds === undefined) {
    return new AppError('AUDIO_TOO_LONG', `the audio is longer than the ${max} s this server accepts (MAX_AUDIO_SECONDS)`, {
      details: decoded === undefined ? { max_audio_seconds: max } : { max_audio_seconds: max, decoded_seconds: decoded },
    });
  }
  return new AppError(
    'AUDIO_TOO_LONG',
    `the audio lasts ${seconds.toFixed(1)} s, longer than the ${max} s this server accepts (MAX_AUDIO_SECONDS)`,
    { details: { duration_seconds: seconds, max_audio_seconds: max } },
  );
}
