import { AppError } from '../errors.js';
import type { UsageStore } from '../store/index.js';

/** The UTC day of `ms` as the store keys it (YYYY-MM-DD). */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** Seconds from `ms` to the next UTC midnight, when a day's quota starts afresh. */
function secondsToMidnight(ms: number): number {
  const next = new Date(ms);
  next.setUTCHours(24, 0, 0, 0);
  return Math.max(1, Math.ceil((next.getTime() - ms) / 1000));
}

/**
 * Audio hours per key and UTC day (KEY_MAX_AUDIO_HOURS_PER_DAY). Usage is counted
 * always, limit or not (`hark keys list` shows it): the audio seconds of every
 * transcription that succeeded, file, job or stream. A request is refused once
 * the day's usage plus what it brings (when its length is known) would pass the
 * limit. Requests running at the same moment are checked against the same
 * total, so a key can pass its limit by what it runs at once; KEY_MAX_ACTIVE_JOBS
 * bounds that.
 */
export class UsageMeter {
  constructor(
    private readonly store: UsageStore,
    /** 0: no limit. */
    private readonly hoursPerDay: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Throws 429 QUOTA_EXCEEDED, with the seconds until the day ends as Retry-After, when `seconds` more would pass the limit. */
  async check(apiKeyId: string | undefined, seconds = 0): Promise<void> {
    if (apiKeyId === undefined || this.hoursPerDay === 0) return;
    const now = this.now();
    const used = await this.store.keyUsage(apiKeyId, utcDay(now));
    const limit = this.hoursPerDay * 3600;
    if (used >= limit || (seconds > 0 && used + seconds > limit)) {
      const retryAfter = secondsToMidnight(now);
      const left = Math.max(0, limit - used);
      throw new AppError(
        'QUOTA_EXCEEDED',
        `this API key has used ${hours(used)} of its ${this.hoursPerDay} audio hours today (KEY_MAX_AUDIO_HOURS_PER_DAY)${seconds > 0 && used < limit ? `; this audio needs ${hours(seconds)}, ${hours(left)} are left` : ''}; the count starts again at 00:00 UTC`,
        { details: { retry_after_seconds: retryAfter, limit_hours: this.hoursPerDay, used_hours: round(used / 3600), audio_hours: round(seconds / 3600) } },
      );
    }
  }

  /** Counts `seconds` of audio transcribed for the key today. */
  async charge(apiKeyId: string | null | undefined, seconds: number | null | undefined): Promise<void> {
    if (apiKeyId === null || apiKeyId === undefined || seconds === null || seconds === undefined || !(seconds > 0)) return;
    await this.store.addKeyUsage(apiKeyId, utcDay(this.now()), seconds);
  }

  /** check and charge bound to one key, for a request that learns its audio's length later; none without a key. */
  meter(apiKeyId: string | undefined): { check(seconds: number): Promise<void>; charge(seconds: number): Promise<void> } | undefined {
    if (apiKeyId === undefined) return undefined;
    return { check: (seconds) => this.check(apiKeyId, seconds), charge: (seconds) => this.charge(apiKeyId, seconds) };
  }

  /** A key's audio seconds so far today. */
  usedToday(apiKeyId: string): Promise<number> {
    return this.store.keyUsage(apiKeyId, utcDay(this.now()));
  }
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

function hours(seconds: number): string {
  return seconds < 3600 ? `${Math.round(seconds / 6) / 10} min` : `${round(seconds / 3600)} h`;
}
