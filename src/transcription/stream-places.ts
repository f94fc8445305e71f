import { AppError } from '../errors.js';
import type { Plan, PlanRequest } from './plan.js';

/** Whose share a live stream counts against (KEY_MAX_STREAMS): an API key, or a client address when there are no keys. */
export interface StreamOwner {
  kind: 'key' | 'address';
  id: string;
}

/** A live stream's place among MAX_STREAMS; it takes one engine slot when the stream's config names the engine. */
export interface StreamPlace {
  /** Resolves engine and mode, checks readiness and takes a free engine slot now (AT_CAPACITY when none is). */
  plan(request: PlanRequest): Plan;
  /** Frees the place and any slot it holds. Safe to call twice. */
  release(): void;
}

export interface StreamLimits {
  /** MAX_STREAMS. */
  maxStreams: number;
  /** KEY_MAX_STREAMS: streams one owner may have open; 0: no cap. */
  perOwner: number;
}

/** Seconds a refused client is told to wait: a stream's end cannot be foreseen, so a short, fixed guess. */
const RETRY_AFTER_SECONDS = 5;

/**
 * The live streams' bookkeeping: how many are open, and how many per owner.
 * A place is taken when the WebSocket opens, before the stream holds an
 * engine (that is `place.plan`, through `lease`), so a connection that never
 * sends its config still counts against MAX_STREAMS and its owner's share.
 */
export class StreamPlaces {
  private active = 0;
  private readonly owned = new Map<string, number>();

  constructor(
    private readonly limits: StreamLimits,
    /** The engine slot of a stream's plan, taken now or refused (the service's lanes). */
    private readonly lease: (request: PlanRequest) => Plan,
  ) {}

  /**
   * Throws AT_CAPACITY when MAX_STREAMS streams are open, RATE_LIMITED when
   * `owner` has KEY_MAX_STREAMS open. Checked before a WebSocket upgrade (a
   * plain HTTP answer) and again when the place is taken.
   */
  require(owner?: StreamOwner): void {
    if (this.active >= this.limits.maxStreams) {
      throw new AppError('AT_CAPACITY', `${this.active} live streams already (MAX_STREAMS=${this.limits.maxStreams}); retry later`, {
        details: { retry_after_seconds: RETRY_AFTER_SECONDS },
      });
    }
    const cap = this.limits.perOwner;
    if (owner === undefined || cap === 0) return;
    const mine = this.owned.get(ownerKey(owner)) ?? 0;
    if (mine >= cap) {
      const who = owner.kind === 'key' ? 'this API key has' : 'this client address has';
      throw new AppError('RATE_LIMITED', `${who} ${mine} live streams open, its share (KEY_MAX_STREAMS=${cap}); end one, or retry later`, {
        details: { retry_after_seconds: RETRY_AFTER_SECONDS, limit: cap },
      });
    }
  }

  /** Takes a place for `owner` (after `require`'s checks, again: another stream may have taken the last since). */
  take(owner?: StreamOwner): StreamPlace {
    this.require(owner);
    const key = owner === undefined ? undefined : ownerKey(owner);
    this.active++;
    if (key !== undefined) this.owned.set(key, (this.owned.get(key) ?? 0) + 1);
    let released = false;
    const plans: Plan[] = [];
    return {
      plan: (request) => {
        if (released) throw new AppError('REQUEST_ABORTED', 'the stream has ended');
        const plan = this.lease(request);
        plans.push(plan);
        return plan;
      },
      release: () => {
        if (released) return;
        released = true;
        for (const p of plans) p.release();
        this.active--;
        if (key === undefined) return;
        const left = (this.owned.get(key) ?? 1) - 1;
        if (left > 0) this.owned.set(key, left);
        else this.owned.delete(key);
      },
    };
  }

  /** Streams open now (with or without an engine yet). */
  get open(): number {
    return this.active;
  }
}

function ownerKey(owner: StreamOwner): string {
  return `${owner.kind}:${owner.id}`;
}
