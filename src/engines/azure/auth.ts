import type { AccessToken, TokenCredential } from '@azure/identity';
import { AppError } from '../../errors.js';

/** The Microsoft Entra ID scope of Azure AI services (Speech included). */
export const COGNITIVE_SERVICES_SCOPE = 'https://cognitiveservices.azure.com/.default';

/** Tokens are renewed this long before they expire, so none dies in flight. */
const TOKEN_MARGIN_MS = 5 * 60_000;

/** How a request proves who it is, and which strings must never appear in an error. */
export interface AzureAuth {
  /** `key` or `entra`: named in error messages so the hint fits. */
  readonly kind: 'key' | 'entra';
  headers(signal?: AbortSignal): Promise<Record<string, string>>;
  /** Called on a 401/403: a cached token is dropped so the next request gets a fresh one. */
  rejected(): void;
  /** Secrets to scrub from anything Azure echoes back. */
  secrets(): string[];
}

/** `Ocp-Apim-Subscription-Key`: the resource key. */
export function keyAuth(key: string): AzureAuth {
  return {
    kind: 'key',
    headers: async () => ({ 'Ocp-Apim-Subscription-Key': key }),
    rejected: () => {},
    secrets: () => [key],
  };
}

/**
 * `Authorization: Bearer` with a Microsoft Entra ID token. Without an injected
 * credential, @azure/identity's DefaultAzureCredential is made on first use
 * (not at load: no network and no identity probing at boot).
 */
export function entraAuth(credential?: TokenCredential): AzureAuth {
  let source = credential;
  let cached: AccessToken | undefined;
  let lastToken: string | undefined;
  let pending: Promise<AccessToken> | undefined;

  async function fetchToken(): Promise<AccessToken> {
    source ??= new (await import('@azure/identity')).DefaultAzureCredential();
    let token: AccessToken | null;
    try {
      token = await source.getToken(COGNITIVE_SERVICES_SCOPE);
    } catch (cause) {
      throw new AppError('UPSTREAM_AUTH_FAILED', `could not get a Microsoft Entra ID token for Azure Speech: ${firstLine(cause)}`, { cause });
    }
    if (token === null) {
      throw new AppError('UPSTREAM_AUTH_FAILED', 'could not get a Microsoft Entra ID token for Azure Speech (the credential returned none)');
    }
    return token;
  }

  return {
    kind: 'entra',
    async headers(signal) {
      if (cached === undefined || cached.expiresOnTimestamp - TOKEN_MARGIN_MS <= Date.now()) {
        // Concurrent requests share one token request; each caller can still
        // stop waiting for it on its own signal.
        pending ??= fetchToken().finally(() => {
          pending = undefined;
        });
        cached = await untilAborted(pending, signal);
        lastToken = cached.token;
      }
      return { Authorization: `Bearer ${cached.token}` };
    },
    rejected() {
      cached = undefined;
    },
    secrets: () => (lastToken === undefined ? [] : [lastToken]),
  };
}

function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  signal.throwIfAborted();
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** Identity errors run to many lines of troubleshooting links; the first says what failed. */
function firstLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  const line = text.split('\n').find((l) => l.trim() !== '') ?? 'unknown error';
  return line.length > 300 ? `${line.slice(0, 300)}...` : line;
}
