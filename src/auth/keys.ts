import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { AppError } from '../errors.js';
import { API_KEY_SCOPES, type ApiKeyRecord, type ApiKeyScope, type ApiKeyStore } from '../store/index.js';

/** Every key starts so; a key in a log or a leaked file is easy to recognise (and to scan for). */
export const KEY_PREFIX = 'hark_';

/**
 * SHA-256 of the key, hex. A fast hash is right here: keys are 256 random bits,
 * so there is no dictionary to try and a slow hash (bcrypt, scrypt) would only
 * slow every request down.
 */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** A new key: the prefix and 32 random bytes in base64url. */
export function generateApiKey(): string {
  return `${KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
}

export function parseScopes(list: string): ApiKeyScope[] {
  const scopes = [...new Set(list.split(',').map((s) => s.trim()).filter((s) => s !== ''))];
  const bad = scopes.filter((s) => !(API_KEY_SCOPES as readonly string[]).includes(s));
  if (bad.length > 0 || scopes.length === 0) {
    throw new AppError('INVALID_REQUEST', `scopes must be a comma-separated list of ${API_KEY_SCOPES.join(', ')}${bad.length > 0 ? ` (not ${bad.join(', ')})` : ''}`);
  }
  return scopes as ApiKeyScope[];
}

/** Creates and stores a key; the key itself is returned only here, once. */
export async function createApiKey(keys: ApiKeyStore, name: string, scopes: ApiKeyScope[], now = Date.now()): Promise<{ key: string; record: ApiKeyRecord }> {
  const key = generateApiKey();
  const record = await keys.createApiKey({ id: randomUUID(), name, keyHash: hashApiKey(key), scopes, createdAt: now });
  return { key, record };
}
