/**
 * An adaptive bound on posts in flight: additive increase, multiplicative decrease (AIMD, TCP's
 * congestion control) driven by API Gateway's 429s. A throttled answer halves the bound; every
 * `bound` successes (about one round trip's worth) raise it by one, back up to the configured
 * maximum, never above it. Built on p-limit's settable `concurrency`: lowering it lets the posts
 * already in flight finish and starts no new one until fewer than the new bound are running.
 */
import pLimit, { type LimitFunction } from 'p-limit';

/** A burst of 429s answered within this window cuts the bound once, not once per 429. */
export const THROTTLE_CUT_WINDOW_MS = 100;

export interface AdaptiveLimitOptions {
  /** The ceiling (PUBLISH_CONCURRENCY) and the starting bound. */
  max: number;
  cutWindowMs?: number;
  /** Monotonic milliseconds; injectable for tests. */
  now?: () => number;
}

export class AdaptiveLimit {
  readonly max: number;
  /** How many times a 429 cut the bound. */
  reductions = 0;
  /** The lowest bound reached. */
  lowest: number;
  private readonly limiter: LimitFunction;
  private readonly cutWindowMs: number;
  private readonly now: () => number;
  private lastCutAt = Number.NEGATIVE_INFINITY;
  private successes = 0;

  constructor(options: AdaptiveLimitOptions) {
    this.max = options.max;
    this.lowest = options.max;
    this.limiter = pLimit(options.max);
    this.cutWindowMs = options.cutWindowMs ?? THROTTLE_CUT_WINDOW_MS;
    this.now = options.now ?? (() => performance.now());
  }

  /** The current bound on calls in flight. */
  get bound(): number {
    return this.limiter.concurrency;
  }

  /** Runs `fn` once a slot is free; `fn` gets the time it started, for `throttled`. */
  run<T>(fn: (startedAt: number) => Promise<T>): Promise<T> {
    return this.limiter(() => fn(this.now()));
  }

  /**
   * A call started at `startedAt` was throttled. Halves the bound (floor 1), unless it was cut
   * less than a window ago or since this call started: such a call was sent under the old bound
   * and says nothing about the new one. Returns whether the bound was cut.
   */
  throttled(startedAt: number): boolean {
    const now = this.now();
    if (startedAt <= this.lastCutAt || now - this.lastCutAt < this.cutWindowMs) return false;
    const next = Math.max(1, Math.floor(this.bound / 2));
    if (next === this.bound) return false;
    this.lastCutAt = now;
    this.successes = 0;
    this.reductions++;
    this.lowest = Math.min(this.lowest, next);
    this.limiter.concurrency = next;
    return true;
  }

  /** A call succeeded: after `bound` successes since the last change, one more slot. */
  succeeded(): void {
    if (this.bound >= this.max) return;
    if (++this.successes < this.bound) return;
    this.successes = 0;
    this.limiter.concurrency = this.bound + 1;
  }
}
