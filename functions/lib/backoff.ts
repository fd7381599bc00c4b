/** Exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff and Jitter"). */

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * The wait before retry number `retry` (1 for the first retry): uniformly random in
 * [0, min(capMs, baseMs * 2^(retry-1))]. Full jitter spreads retries of many concurrent posts
 * so they do not hit a throttled API in lockstep.
 */
export function fullJitterDelay(retry: number, baseMs: number, capMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.max(0, retry - 1));
  return Math.floor(random() * ceiling);
}
