/**
 * Until when a publish invocation may send posts (first attempts and retries alike): the
 * Lambda's remaining time minus a margin to finish the posts in flight and return the partial
 * batch response (a Lambda that times out has every record of its batch retried, the delivered
 * ones too).
 */
import type { Context } from 'aws-lambda';

/**
 * The margin: this share of the remaining time, at least DEADLINE_MARGIN_MIN_MS, but never more
 * than half of it. The cap keeps a window for sending and retrying under short timeouts (the
 * local mode runs publish with a sixth of the visibility timeout, 5 s by default, 333 ms with
 * `--visibility-timeout 2`): a 2 s floor alone would put the deadline at the start whenever
 * 2 s or less remain, so not a single 5xx could be retried.
 */
export const DEADLINE_MARGIN_SHARE = 0.1;
export const DEADLINE_MARGIN_MIN_MS = 2000;
export const DEADLINE_MARGIN_MAX_SHARE = 0.5;

/** The context's remaining time in ms, or undefined when there is no Lambda context. */
export function remainingTimeOf(context: unknown): number | undefined {
  const get = (context as Partial<Context> | undefined)?.getRemainingTimeInMillis;
  if (typeof get !== 'function') return undefined;
  const ms = get.call(context);
  return Number.isFinite(ms) ? Math.max(0, ms) : undefined;
}

/** The margin kept from `remaining` ms: min(max(10 %, 2 s), 50 %). */
export function deadlineMargin(remaining: number): number {
  return Math.min(Math.max(remaining * DEADLINE_MARGIN_SHARE, DEADLINE_MARGIN_MIN_MS), remaining * DEADLINE_MARGIN_MAX_SHARE);
}

/**
 * The deadline on the monotonic clock `now` is read from (`performance.now()` by default):
 * `now` + remaining time − margin, or `now` + `fallbackBudgetMs` without a context.
 */
export function retryDeadline(context: unknown, fallbackBudgetMs: number, now = performance.now()): number {
  const remaining = remainingTimeOf(context);
  if (remaining === undefined) return now + fallbackBudgetMs;
  return now + remaining - deadlineMargin(remaining);
}
