import type { EngineName, Isolation, ModelRef } from '../engines/index.js';
import type { Lease, Ticket } from '../executors/index.js';

/** What a client asked for before its audio arrived; either may be missing. */
export interface PlanRequest {
  /** An engine name, a model id (`whisper-base.en`) or an alias of the default (`whisper-1`), as the client gave it. */
  engine?: string | undefined;
  /** The mode the client chose (`?isolation=` or the route's own). */
  isolation?: Isolation | undefined;
}

/**
 * One request's decision: which engine, in which mode, and its place there
 * (a ticket in line for a file, a slot held at once for a live stream). An
 * upload's plan has no place until its upload is in (`TranscriptionService.admit`):
 * a slow upload must not hold a place that others wait for. The caller that
 * got the plan owns it and calls `release()` when done, on every path;
 * running through the plan uses the place up, so a release after that does
 * nothing.
 */
export class Plan {
  readonly engine: EngineName;
  /** The engine's model the request picked (`whisper-<name>`); absent: the engine's default. */
  readonly model: string | undefined;

  constructor(
    ref: ModelRef,
    readonly isolation: Isolation,
    /** What the client asked, kept for `settle` (a field that names the engine after the plan was made). */
    readonly request: PlanRequest,
    /** Whether the engine was checked ready; false until `settle` for a request that named none. */
    readonly checked: boolean,
    /** None yet for an upload still arriving (the engine and mode are decided, the line only looked at). */
    private readonly place?: Ticket | Lease,
  ) {
    this.engine = ref.engine;
    this.model = ref.model;
  }

  private get ref(): ModelRef {
    return { engine: this.engine, model: this.model };
  }

  /** Whether the plan holds its place (a ticket or a slot). */
  get placed(): boolean {
    return this.place !== undefined;
  }

  /** @internal The same place, for an engine (and model) checked ready in it (the form named it, or confirmed the default). */
  ready(ref: ModelRef): Plan {
    return new Plan(ref, this.isolation, this.request, true, this.place);
  }

  /** @internal The same decision, now holding `place`. */
  withPlace(place: Ticket): Plan {
    return new Plan(this.ref, this.isolation, this.request, this.checked, place);
  }

  /** @internal Runs `fn` in this plan's place in line (files). */
  run<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (this.place === undefined) throw new Error('the plan has no place in line yet (TranscriptionService.admit)');
    if (!('run' in this.place)) throw new Error('a live stream\'s plan holds its slot; it does not queue');
    return this.place.run(fn, signal);
  }

  /** Gives the place back, if it holds one. Safe to call twice, and after `run`. */
  release(): void {
    this.place?.release();
  }
}
