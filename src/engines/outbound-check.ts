import { AppError } from '../errors.js';
import { checkOutboundUrl, OutboundRefusedError, parseOutboundAllow } from '../net/index.js';

/**
 * Fails an engine's load (ENGINE_ERROR, shown in /readyz) when its configured
 * URL is, or resolves to, a private, loopback or other internal address not in
 * OUTBOUND_ALLOW. A name that does not resolve now is let through: hark starts
 * without network as before, and the request fails on its own when it is sent.
 * Names are checked again at every connection (guardedDispatcher), so one
 * re-pointed at an internal address later is refused then.
 */
export async function refuseInternal(url: URL, allow: readonly string[], setting: string): Promise<void> {
  try {
    await checkOutboundUrl(url, parseOutboundAllow(allow));
  } catch (err) {
    if (err instanceof OutboundRefusedError) throw new AppError('ENGINE_ERROR', `${setting} refused: ${err.message}`);
    // DNS failure: not a refusal (see above).
  }
}
