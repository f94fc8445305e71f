import type { z } from 'zod';
import { AppError } from '../errors.js';

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
  const value = input[field];
  // A single-valued field given a list fails on its type or its options, at the field itself
  // (a list field with a bad element fails as a union or deeper down).
  if (Array.isArray(value) && issue?.path.length === 1 && (issue.code === 'invalid_type' || issue.code === 'invalid_value')) {
    throw new AppError('INVALID_REQUEST', `field "${field}" was sent ${value.length} times; send it once`);
  }
  if (field === 'response_format') {
    // The route's own formats (hark's route has no verbose_json), from the issue rather than a global list.
    const allowed = issue?.code === 'invalid_value' ? `one of ${issue.values.map(String).join(', ')}` : 'a supported format';
    throw new AppError('INVALID_RESPONSE_FORMAT', `response_format must be ${allowed}, not ${JSON.stringify(value)}`);
  }
  throw new AppError('INVALID_REQUEST', `invalid field "${field}": ${issue?.message ?? 'invalid value'}`);
}
