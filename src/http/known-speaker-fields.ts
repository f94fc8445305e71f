import { writeFile } from 'node:fs/promises';
import { z } from 'zod';
import { decodeToPcm, type PcmAudio } from '../audio/index.js';
import { MAX_SPEAKER_NAME_LENGTH, speakerNameProblem, type KnownSpeaker } from '../diarization/types.js';
import { AppError } from '../errors.js';
import type { ScratchDir } from '../os/index.js';

/** Known speakers one request may name: OpenAI's limit. */
export const MAX_KNOWN_SPEAKERS = 4;
/** A reference clip's length, as OpenAI states it. */
const REFERENCE_SECONDS = { min: 2, max: 10 } as const;
/**
 * Slack on either side of {@link REFERENCE_SECONDS}: a clip cut at exactly 2 or
 * 10 s comes back a few tens of ms longer or shorter from an encoder (MP3's and
 * AAC's priming and padding), which is no reason to refuse it.
 */
const REFERENCE_TOLERANCE_SECONDS = 0.25;
/**
 * Characters in one reference's data URL: 10 s of 48 kHz stereo 16-bit WAV is
 * 2.6 MB in base64; 4 MB leaves room for 24-bit. The multipart parser holds
 * form fields in memory, so this, times {@link MAX_KNOWN_SPEAKERS}, is what a
 * request's fields may cost.
 */
const MAX_REFERENCE_CHARS = 4 * 1024 * 1024;

const list = z
  .union([z.string(), z.array(z.string())])
  .transform((v) => (Array.isArray(v) ? v : [v]))
  .optional();

/** OpenAI's known-speaker form fields (`known_speaker_names[]`, as the openai client sends them, or without `[]`), to extend a route's field schema with. */
export const knownSpeakerFieldsShape = { known_speaker_names: list, known_speaker_references: list };

/** The descriptions of the known-speaker fields, for the OpenAPI document. */
export function knownSpeakerFieldDocs(diarizeWith: string) {
  return {
    'known_speaker_names[]': {
      type: 'string',
      description:
        `With ${diarizeWith}: a name for the speaker of the reference clip at the same place in known_speaker_references[] (up to ${MAX_KNOWN_SPEAKERS}, ` +
        `1-${MAX_SPEAKER_NAME_LENGTH} characters, no line breaks, unique, not a bare letter A-Z). A speaker whose voice matches no reference keeps its letter.`,
    },
    'known_speaker_references[]': {
      type: 'string',
      description:
        `A ${REFERENCE_SECONDS.min}-${REFERENCE_SECONDS.max} s clip of one speaker's voice as a data URL (data:audio/wav;base64,..., any audio format the file ` +
        `may have, under ${MAX_REFERENCE_CHARS / 1024 / 1024} MB of base64), one per name.`,
    },
  } as const;
}

/**
 * Refuses the known-speaker fields spelt with an index (`known_speaker_names[0]`),
 * which the field schema would drop: names asked for and letters given would
 * look like voices that matched nothing.
 */
/**
 * Refuses the known-speaker fields on a route that cannot take them (jobs: a
 * reference clip would have to be stored with the job for every retry), however
 * they are spelt, rather than dropping them with the fields the route does not know.
 */
export function refuseKnownSpeakers(fields: Readonly<Record<string, unknown>>, why: string): void {
  const sent = Object.keys(fields).find((k) => /^known_speaker_(?:names|references)(?:\[.*\])?$/.test(k));
  if (sent !== undefined) throw new AppError('INVALID_REQUEST', `${sent} is not taken here: ${why}`);
}

export function refuseIndexedKnownSpeakers(fields: Readonly<Record<string, unknown>>): void {
  const indexed = Object.keys(fields).find((k) => /^known_speaker_(?:names|references)\[.+\]$/.test(k));
  if (indexed === undefined) return;
  const base = indexed.slice(0, indexed.indexOf('['));
  throw new AppError('INVALID_REQUEST', `send ${base}[] (or ${base}) once per speaker, in order, not ${JSON.stringify(indexed.slice(0, 64))}`);
}

/** Multipart limits of the reference field (route config `upload.longFields`): longer than other fields, as many as there may be names. */
export const knownSpeakerLongFields = { 'known_speaker_references[]': { maxBytes: MAX_REFERENCE_CHARS, maxCount: MAX_KNOWN_SPEAKERS } } as const;

/**
 * The known speakers a request names, checked and their clips decoded to PCM
 * in `temp` (the caller removes them with the upload; on a refusal nothing is
 * left): undefined when it names none. Refused with 400 before anything is
 * queued: names and references in different numbers, more than
 * {@link MAX_KNOWN_SPEAKERS}, or either without diarization (INVALID_REQUEST);
 * a name empty, too long, on two lines, given twice or a bare letter, which
 * would read as a speaker no reference matched (INVALID_SPEAKER_NAME); a
 * reference that is not a base64 data URL of audio, does not decode, or lasts
 * outside 2-10 s give or take {@link REFERENCE_TOLERANCE_SECONDS}
 * (INVALID_SPEAKER_REFERENCE).
 */
export async function knownSpeakersRequest(
  f: { known_speaker_names?: string[] | undefined; known_speaker_references?: string[] | undefined },
  diarize: boolean,
  temp: ScratchDir,
): Promise<KnownSpeaker[] | undefined> {
  const names = f.known_speaker_names ?? [];
  const references = f.known_speaker_references ?? [];
  if (names.length === 0 && references.length === 0) return undefined;
  if (!diarize) {
    throw new AppError('INVALID_REQUEST', 'known_speaker_names[] and known_speaker_references[] name diarized speakers: use them with response_format=diarized_json (diarize=true on hark\'s routes)');
  }
  if (names.length !== references.length) {
    throw new AppError('INVALID_REQUEST', `${names.length} known_speaker_names[] but ${references.length} known_speaker_references[]: send one reference clip per name, in the same order`);
  }
  if (names.length > MAX_KNOWN_SPEAKERS) throw new AppError('INVALID_REQUEST', `${names.length} known speakers named; at most ${MAX_KNOWN_SPEAKERS}`);
  const checked = checkNames(names);
  const clips = references.map(referenceBytes);
  const decoded: KnownSpeaker[] = [];
  try {
    for (const [i, bytes] of clips.entries()) decoded.push({ name: checked[i]!, audio: await decodeReference(bytes, i, temp) });
  } catch (err) {
    await temp.remove(...decoded.map((k) => k.audio.path));
    throw err;
  }
  return decoded;
}

/** The names trimmed, each checked. */
function checkNames(names: readonly string[]): string[] {
  const trimmed = names.map((n) => n.trim());
  trimmed.forEach((name, i) => {
    const problem =
      speakerNameProblem(name) ??
      (/^[A-Z]$/.test(name)
        ? 'is a bare letter, as speakers no reference matches are labelled'
        : trimmed.indexOf(name) < i
          ? `is given twice (also known_speaker_names[${trimmed.indexOf(name)}])`
          : undefined);
    if (problem !== undefined) throw new AppError('INVALID_SPEAKER_NAME', `known_speaker_names[${i}] ${problem}`, { details: { index: i } });
  });
  return trimmed;
}

/** Media types a reference may be sent as: ffmpeg reads the bytes whatever the type says, so the type only keeps out what is plainly not audio. */
function isAudioType(type: string): boolean {
  return type.startsWith('audio/') || type.startsWith('video/') || type === 'application/ogg' || type === 'application/octet-stream';
}

/** The bytes of the `i`-th reference: a base64 data URL (RFC 2397) of an audio type, parameters such as `;codecs=opus` allowed. */
function referenceBytes(url: string, i: number): Buffer {
  const m = /^data:([^,]*),(.*)$/s.exec(url.trim());
  if (m === null) throw badReference(i, 'is not a data URL (data:audio/wav;base64,...)');
  const [type = '', ...params] = m[1]!.split(';').map((p) => p.trim().toLowerCase());
  if (params.at(-1) !== 'base64') throw badReference(i, 'is not base64-encoded (data:audio/wav;base64,...)');
  if (!isAudioType(type)) throw badReference(i, `is a data URL of ${type === '' ? 'text' : JSON.stringify(type)}, not of audio`);
  const data = m[2]!.replace(/\s+/g, '');
  // Node's base64 decoder skips what is not base64 and takes either alphabet: check first.
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(data) || data.length % 4 === 1) throw badReference(i, 'holds characters that are not base64');
  const bytes = Buffer.from(data, 'base64');
  if (bytes.length === 0) throw badReference(i, 'is empty');
  return bytes;
}

/** The clip decoded to 16 kHz PCM in `temp` through the upload's own decoder (its input guard too); only the PCM is kept. */
async function decodeReference(bytes: Buffer, i: number, temp: ScratchDir): Promise<PcmAudio> {
  const encoded = temp.file('.reference');
  const pcm = temp.file('.pcm');
  let kept = false;
  try {
    await writeFile(encoded, bytes, { flag: 'wx' });
    const audio = await decodeToPcm(encoded, pcm, { maxSeconds: REFERENCE_SECONDS.max + REFERENCE_TOLERANCE_SECONDS }).catch((err: unknown) => {
      throw decodeRefusal(err, i);
    });
    if (audio.durationSeconds < REFERENCE_SECONDS.min - REFERENCE_TOLERANCE_SECONDS) {
      throw badReference(i, `lasts ${audio.durationSeconds.toFixed(2)} s, under the ${REFERENCE_SECONDS.min} s a voice needs`, { duration_seconds: audio.durationSeconds });
    }
    kept = true;
    return audio;
  } finally {
    await temp.remove(encoded, kept ? undefined : pcm);
  }
}

/** The decoder's refusal of a reference as the reference's: its length, or why it is not audio. */
function decodeRefusal(err: unknown, i: number): unknown {
  if (!(err instanceof AppError)) return err;
  if (err.code === 'AUDIO_TOO_LONG') return badReference(i, `lasts longer than the ${REFERENCE_SECONDS.max} s a reference may`);
  if (err.code === 'INVALID_AUDIO' || err.code === 'EMPTY_AUDIO') return badReference(i, `is not audio hark can decode: ${err.message}`);
  return err;
}

function badReference(i: number, problem: string, details: Record<string, unknown> = {}): AppError {
  return new AppError('INVALID_SPEAKER_REFERENCE', `known_speaker_references[${i}] ${problem}; a reference is ${REFERENCE_SECONDS.min}-${REFERENCE_SECONDS.max} s of one speaker`, {
    details: { index: i, ...details },
  });
}
