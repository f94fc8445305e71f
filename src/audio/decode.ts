import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { AppError } from '../errors.js';
import { fileClosed } from '../os/index.js';
import { runProcess } from './process.js';
import { copyPlainPcmWav } from './wav.js';

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
  // ffmpeg prefixes messages with the component ("[wav @ 0x55...]"): drop it.
  return hidePath((line ?? 'unknown error').replace(/^\[[^\]]*\]\s*/, ''), path);
}

/** ffmpeg's message without the input path, which is hark's temp name. */
function hidePath(message: string, path: string): string {
  return message.split(`${path}: `).join('').split(path).join('the file');
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

/**
 * Decodes any format ffmpeg reads to 16 kHz mono s16le PCM in `outPath`.
 *
 * A WAV that already is 16 kHz mono s16le PCM is not decoded: its samples are
 * copied (see findPlainPcmWav in wav.ts), which is what ffmpeg would write, byte for
 * byte, without the cost of starting it. Anything else is decoded by one ffmpeg.
 *
 * Decoding stops just past `maxSeconds`, and just past the length the container
 * states (see {@link statedLengthAllowance}), so a file whose header lies about
 * its length (or that expands to hours) can neither fill the disk nor hold a
 * decoder for longer than it claimed. A refusal after decoding started says in
 * `details.decoded_seconds` how much was decoded: what the key is charged for the
 * failed request (TranscriptionService.transcribeFile).
 */
export async function decodeToPcm(inPath: string, outPath: string, options: DecodeOptions): Promise<PcmAudio> {
  const copied = await copyPlainPcmWav(
    inPath,
    outPath,
    (bytes) => {
      // The header's length is the real one here (the data chunk lies within the file).
      if (pcmSeconds(bytes) > options.maxSeconds) throw tooLong(pcmSeconds(bytes), options.maxSeconds);
    },
    options.signal,
  );
  const bytes = copied ?? (await decodeWithFfmpeg(inPath, outPath, options));
  return { path: outPath, samples: Math.floor(bytes / BYTES_PER_SAMPLE), durationSeconds: pcmSeconds(bytes) };
}

/**
 * ffmpeg's input description line: `  Duration: 00:01:02.50, start: ...` or `  Duration: N/A, ...`.
 * The first one is taken. A forged one (a metadata key with a line break, printed before it) could
 * only state a length the container itself could state: MAX_AUDIO_SECONDS bounds decoding whatever it says.
 */
const DURATION_LINE = /^\[info\] {3}Duration: (?:N\/A|(\d+):(\d{2}):(\d{2}(?:\.\d+)?))/;
/** A message at ffmpeg's error level or worse, after the optional `[component @ 0x...] ` prefix. */
const ERROR_LINE = /^(?:\[[^\]]* @ [^\]]*\] )?\[(?:error|fatal|panic)\] (.*)$/;
/** A partial stderr line longer than this is cut: hostile metadata can make lines of any length. */
const MAX_LINE = 4096;

/**
 * Decodes `inPath` with one ffmpeg to PCM in `outPath`, returning the bytes
 * written. ffprobe is not run: the length the container states is read from
 * ffmpeg's own description of its input (at `info` level, with each line tagged
 * with its level), which it prints before it decodes anything. The PCM comes
 * through a pipe and is counted here, so decoding is cut at the sample that
 * passes the bound, which is only known once that description has been read
 * (ffmpeg's `-t` would have to be chosen before starting it).
 */
function decodeWithFfmpeg(inPath: string, outPath: string, options: DecodeOptions): Promise<number> {
  const { maxSeconds, signal } = options;
  return new Promise<number>((resolve, reject) => {
    const child = spawn(
      'ffmpeg',
      [
        '-nostdin', '-hide_banner', '-nostats', '-loglevel', 'level+info',
        ...INPUT_GUARD, '-i', inPath,
        '-map', '0:a:0', '-vn', '-sn', '-dn',
        '-ac', '1', '-ar', String(SAMPLE_RATE), '-c:a', 'pcm_s16le', '-f', 's16le',
        'pipe:1',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], signal, killSignal: 'SIGKILL' },
    );
    const out = createWriteStream(outPath);
    /** The container's stated length: undefined until ffmpeg has described the input, null when it states none. */
    let stated: number | null | undefined;
    /** Bytes of PCM past which decoding stops: one sample past the bound (MAX_AUDIO_SECONDS, then the stated length's allowance). */
    let limit = pcmLimit(maxSeconds);
    let written = 0;
    let reason: string | undefined;
    let noAudio = false;
    let noDecoder = false;
    let partial = '';
    /** Set when hark ended the decode (a refusal, or the cap reached): it wins over ffmpeg's exit. */
    let verdict: { error: AppError } | { capped: true } | undefined;
    let failed: Error | undefined;

    const stop = (v: NonNullable<typeof verdict>) => {
      verdict ??= v;
      child.kill('SIGKILL');
    };
    const onLine = (line: string) => {
      if (stated === undefined) {
        const d = DURATION_LINE.exec(line);
        if (d !== null) {
          stated = d[1] === undefined ? null : Number(d[1]) * 3600 + Number(d[2]) * 60 + Number(d[3]);
          if (stated !== null && stated > maxSeconds) return stop({ error: tooLong(stated, maxSeconds) });
          // Without a stated length (a live-recorded WebM has none) only MAX_AUDIO_SECONDS bounds decoding.
          if (stated !== null) limit = Math.min(limit, pcmLimit(statedLengthAllowance(stated)));
          if (written >= limit) stop({ capped: true });
          return;
        }
      }
      const e = ERROR_LINE.exec(line);
      if (e === null) return;
      const message = e[1]!;
      if (/^Stream map '[^']*' matches no streams/.test(message)) noAudio = true;
      if (/^Decoder \(codec [^)]*\) not found/.test(message)) noDecoder = true;
      const refused = /^\[(\w+) @ [^\]]*\] \[error\] Format not on whitelist/.exec(line);
      reason ??= refused !== null ? `${refused[1]} is a playlist, script or stream format that refers to other files or addresses; send the audio itself` : hidePath(message, inPath);
    };
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      const lines = (partial + d).split('\n');
      partial = lines.pop()!.slice(0, MAX_LINE);
      for (const line of lines) onLine(line.slice(0, MAX_LINE));
    });
    child.stdout.on('data', (chunk: Buffer) => {
      if (verdict !== undefined || failed !== undefined) return;
      const room = limit - written;
      const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
      written += part.length;
      if (!out.write(part)) {
        child.stdout.pause();
        out.once('drain', () => child.stdout.resume());
      }
      if (written >= limit) stop({ capped: true });
    });
    const fail = (err: Error) => {
      failed ??= err;
      child.kill('SIGKILL');
      // A paused pipe (waiting for a drain that will not come) would keep 'close' from firing.
      child.stdout.resume();
    };
    /** Rejects once the PCM file is closed, so the caller's removal of it is final. */
    const abandon = (err: Error) => {
      out.destroy();
      void fileClosed(out).then(() => reject(err));
    };
    out.on('error', fail);
    child.on('error', (err) => {
      // Spawn failure (no ffmpeg) or abort (the signal); 'close' need not follow a spawn failure.
      fail(err);
      if (child.pid === undefined) abandon(err);
    });
    child.on('close', (code) => {
      if (partial.length > 0) onLine(partial);
      if (failed !== undefined) return abandon(failed);
      out.end(() => {
        if (failed !== undefined) return reject(failed);
        try {
          resolve(judge(code));
        } catch (err) {
          reject(err as Error);
        }
      });
    });

    /** The outcome once ffmpeg has exited and the PCM file is complete. */
    const judge = (code: number | null): number => {
      const decoded = pcmSeconds(written);
      if (verdict !== undefined && 'error' in verdict) throw verdict.error;
      if (verdict !== undefined) {
        // Decoding stopped at the cap: the real length is unknown, only that it is over the limit.
        if (typeof stated !== 'number' || statedLengthAllowance(stated) >= maxSeconds) throw tooLong(undefined, maxSeconds, decoded);
        throw new AppError(
          'INVALID_AUDIO',
          `the audio runs longer than the ${stated.toFixed(1)} s its header states (decoding stopped at ${decoded.toFixed(1)} s); the file is damaged or was made to mislead`,
          { details: { stated_seconds: stated, decoded_seconds: decoded } },
        );
      }
      if (code !== 0) {
        if (noAudio) throw new AppError('INVALID_AUDIO', 'the file has no audio stream');
        // A header naming a codec ffmpeg has no decoder for (or none at all).
        if (noDecoder) throw new AppError('INVALID_AUDIO', 'the file\'s audio is in a codec hark cannot decode');
        const why = reason ?? 'unknown error';
        if (written === 0) throw new AppError('INVALID_AUDIO', `the file is not audio hark can decode (${why})`);
        throw new AppError('INVALID_AUDIO', `the audio could not be decoded (${why})`, { details: { decoded_seconds: decoded } });
      }
      if (written < BYTES_PER_SAMPLE) throw new AppError('EMPTY_AUDIO', 'the file contains no audio samples');
      return written;
    };
  });
}

/** Bytes of PCM one sample past `seconds`: reaching it means the audio is longer. */
function pcmLimit(seconds: number): number {
  return Number.isFinite(seconds) ? (Math.floor(seconds * SAMPLE_RATE) + 1) * BYTES_PER_SAMPLE : Infinity;
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
