import type { z } from 'zod';
import { AppError } from '../errors.js';
import { RESPONSE_FORMATS } from '../transcription/index.js';

/**
 * Validates multipart text fields against a zod object. A field sent twice is
 * an error unless the schema wants an array; the first problem names its field.
 */
export function parseFields<S extends z.ZodObject>(schema: S, fields: Record<string, string | string[]>): z.output<S> {
  const input: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(fields)) {
    // `timestamp_granularities[]` is how form encoders (and the openai client) send arrays.
    const key = name.endsWith('[]') ? name.slice(0, -2) : name;
    const prev = input[key];
    input[key] = prev === undefined ? value : [...(Array.isArray(prev) ? prev : [prev]), ...(Array.isArray(value) ? value : [value])];
  }
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const field = String(issue?.path[0] ?? 'field');
  if (field === 'response_format') {
    throw new AppError('INVALID_RESPONSE_FORMAT', `response_format must be one of ${RESPONSE_FORMATS.join(', ')}, not ${JSON.stringify(input[field])}`);
  }
  throw new AppError('INVALID_REQUEST', `invalid field "${field}": ${issue?.message ?? 'invalid value'}`);
}
