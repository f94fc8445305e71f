import { z } from 'zod';
import { MAX_SPEAKERS, type DiarizeRequest } from '../diarization/types.js';
import { AppError } from '../errors.js';

/** hark's diarization form fields (`/transcriptions*`), to extend a route's field schema with. */
export const diarizeFieldsShape = {
  diarize: z.enum(['true', 'false']).optional(),
  num_speakers: z.string().max(8).optional(),
  min_speakers: z.string().max(8).optional(),
  max_speakers: z.string().max(8).optional(),
};

/** The descriptions of hark's diarization fields, for the OpenAPI document. */
export const diarizeFieldDocs = {
  diarize: { type: 'string', description: 'true: label who spoke when (a `speaker` on every segment and word, `speakers` found). Default false.', enum: ['true', 'false'] },
  num_speakers: { type: 'integer', description: `Exactly this many speakers, 1-${MAX_SPEAKERS} (with diarize=true).` },
  min_speakers: { type: 'integer', description: `At least this many speakers, 1-${MAX_SPEAKERS} (with diarize=true).` },
  max_speakers: { type: 'integer', description: `At most this many speakers, 1-${MAX_SPEAKERS} (with diarize=true).` },
} as const;

type CountField = 'num_speakers' | 'min_speakers' | 'max_speakers';

function count(field: CountField, value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > MAX_SPEAKERS) {
    throw new AppError('INVALID_SPEAKER_COUNT', `${field} must be a whole number from 1 to ${MAX_SPEAKERS}, not ${JSON.stringify(value)}`);
  }
  return n;
}

/**
 * What hark's diarization fields (already through `diarizeFieldsShape`) ask
 * for: undefined without `diarize=true`. A speaker count without it, bounds the
 * wrong way round, or an exact count outside the bounds is refused rather than
 * ignored.
 */
export function diarizeRequest(f: { diarize?: 'true' | 'false' | undefined } & Partial<Record<CountField, string | undefined>>): DiarizeRequest | undefined {
  const request = { numSpeakers: count('num_speakers', f.num_speakers), minSpeakers: count('min_speakers', f.min_speakers), maxSpeakers: count('max_speakers', f.max_speakers) };
  const given = (Object.keys(request) as (keyof DiarizeRequest)[]).filter((k) => request[k] !== undefined);
  if (f.diarize !== 'true') {
    if (given.length > 0) throw new AppError('INVALID_REQUEST', 'num_speakers, min_speakers and max_speakers are used only with diarize=true (response_format=diarized_json on /v1/audio/transcriptions)');
    return undefined;
  }
  const { numSpeakers, minSpeakers, maxSpeakers } = request;
  if (minSpeakers !== undefined && maxSpeakers !== undefined && minSpeakers > maxSpeakers) {
    throw new AppError('INVALID_SPEAKER_COUNT', `min_speakers (${minSpeakers}) is more than max_speakers (${maxSpeakers})`);
  }
  if (numSpeakers !== undefined && ((minSpeakers !== undefined && numSpeakers < minSpeakers) || (maxSpeakers !== undefined && numSpeakers > maxSpeakers))) {
    throw new AppError('INVALID_SPEAKER_COUNT', `num_speakers (${numSpeakers}) is outside min_speakers..max_speakers`);
  }
  return Object.fromEntries(given.map((k) => [k, request[k]])) as DiarizeRequest;
}
