import { describe, expect, it } from 'vitest';
import { nextPoll, POLL_BACKOFF_MAX_MS } from './hooks.js';

/** The waits of `statuses` answered in a row to a poller of `ms`, from no refusal. */
function waits(ms: number, statuses: readonly (number | undefined)[], retryAfterSeconds?: number): (number | undefined)[] {
  let refusals = 0;
  return statuses.map((status) => {
    const next = nextPoll(ms, refusals, status === undefined ? undefined : { status, retryAfterSeconds });
    refusals = next.refusals;
    return next.wait;
  });
}

describe('nextPoll: when a poller asks again', () => {
  it('keeps its pace after a success, and stops after a 404', () => {
    expect(waits(2000, [undefined, undefined])).toEqual([2000, 2000]);
    expect(nextPoll(1000, 0, { status: 404 }).wait).toBeUndefined();
  });

  it('doubles the wait after each 401, 403 or 429 in a row, up to a minute, and a success resets it', () => {
    expect(waits(2000, [403, 403, 403, 403, 403, 403, 403])).toEqual([4000, 8000, 16_000, 32_000, 60_000, 60_000, 60_000]);
    expect(waits(2000, [429, 401, undefined, 403])).toEqual([4000, 8000, 2000, 4000]);
    expect(POLL_BACKOFF_MAX_MS).toBe(60_000);
  });

  it('never asks before Retry-After, a refusal or not', () => {
    expect(waits(2000, [429], 30)).toEqual([30_000]);
    // Longer than the cap: the server's word wins.
    expect(waits(2000, [429], 120)).toEqual([120_000]);
    expect(waits(2000, [503], 5)).toEqual([5000]);
  });

  it('keeps its pace after other errors (a 500, the network), without backing off', () => {
    expect(waits(2000, [500, 0, 500])).toEqual([2000, 2000, 2000]);
  });
});
