/** Exponential backoff of `polysaga recover` (a bounded number of retries). Pure. */

/** Backoff settings: the delay before try n+1 is `initialIntervalMs * 2^(n-1)`, at most `maximumIntervalMs`. */
export interface Backoff {
  initialIntervalMs: number;
  maximumIntervalMs: number;
}

/**
 * The delay after the `attempt`-th failed try (1-based): 1× the initial interval after the
 * first, 2× after the second, 4× after the third, …, capped at the maximum.
 */
export function backoffDelayMs(attempt: number, backoff: Backoff): number {
  const n = Math.max(1, Math.floor(attempt));
  // 2^30 is far beyond any sensible cap; clamping the exponent keeps the arithmetic finite.
  const raw = backoff.initialIntervalMs * 2 ** Math.min(n - 1, 30);
  return Math.min(raw, backoff.maximumIntervalMs);
}

export { sleep } from '../sleep.js';
