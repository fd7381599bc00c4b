/**
 * Until when a publish invocation may keep retrying throttled posts: the Lambda's remaining time
 * minus a margin to finish the posts in flight and return the partial batch response (a Lambda
 * that times out has every record of its batch retried, the delivered ones too).
 */
import type { Context } from 'aws-lambda';

/** The margin: this share of the remaining time, and never less than DEADLINE_MARGIN_MIN_MS. */
export const DEADLINE_MARGIN_SHARE = 0.1;
export const DEADLINE_MARGIN_MIN_MS = 2000;

/** The context's remaining time in ms, or undefined when there is no Lambda context. */
export function remainingTimeOf(context: unknown): number | undefined {
  const get = (context as Partial<Context> | undefined)?.getRemainingTimeInMillis;
  if (typeof get !== 'function') return undefined;
  const ms = get.call(context);
  return Number.isFinite(ms) ? Math.max(0, ms) : undefined;
}

/**
 * The retry deadline on the monotonic clock (`performance.now()`): `now` + remaining time − margin,
 * or `now` + `fallbackBudgetMs` without a context. Never before `now`.
 */
export function retryDeadline(context: unknown, fallbackBudgetMs: number, now = performance.now()): number {
  const remaining = remainingTimeOf(context);
  if (remaining === undefined) return now + fallbackBudgetMs;
  const margin = Math.max(remaining * DEADLINE_MARGIN_SHARE, DEADLINE_MARGIN_MIN_MS);
  return now + Math.max(0, remaining - margin);
}
