/**
 * Exponential backoff with full jitter: attempt n waits a uniformly random time in
 * [0, min(maxMs, baseMs * 2^n)], so clients dropped together do not come back together.
 */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}
