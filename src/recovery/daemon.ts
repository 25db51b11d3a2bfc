/** `polysaga recover --daemon`: a recovery pass every interval until stopped. */
import { backoffDelayMs, sleep } from './backoff.js';
import type { RecoveryReport } from './recover.js';

/** Options of {@link runRecoveryDaemon}. */
export interface RecoveryDaemonOptions {
  /** Time between the end of one pass and the start of the next. */
  intervalMs: number;
  /**
   * Longest a saga that stays FAILED is left alone between passes (default 1 h). After its
   * n-th unsuccessful pass a saga is deferred for `intervalMs * 2^(n-1)`, at most this.
   */
  maximumDeferMs?: number;
  /** One recovery pass; `defer` goes to {@link RecoverOptions.defer}. */
  pass: (defer: (sagaId: string) => string | null) => Promise<RecoveryReport>;
  /** Called with each pass's report. */
  onReport?: (report: RecoveryReport) => void;
  /** Called when a pass throws (e.g. PostgreSQL unreachable); the daemon keeps going. */
  onError?: (err: unknown) => void;
  /** Stops the loop (after the running pass; waits are cut short). */
  signal: AbortSignal;
  /** Clock (tests). */
  now?: () => number;
}

/**
 * Runs recovery passes until `signal` aborts. A saga that a pass leaves inconsistent is backed
 * off exponentially across passes (so a permanently failing compensation does not fill its trail
 * with a retry round every interval); a pass that throws is reported through `onError` and
 * retried at the next interval, so the daemon outlives a database restart.
 * @returns the number of passes run.
 */
export async function runRecoveryDaemon(options: RecoveryDaemonOptions): Promise<number> {
  const now = options.now ?? Date.now;
  const backoff = {
    initialIntervalMs: options.intervalMs,
    maximumIntervalMs: options.maximumDeferMs ?? 3_600_000,
  };
  const failures = new Map<string, { count: number; notBefore: number }>();
  const defer = (sagaId: string): string | null => {
    const f = failures.get(sagaId);
    if (!f || now() >= f.notBefore) return null;
    return `backing off after ${f.count} unsuccessful pass(es); next try after ${new Date(f.notBefore).toISOString()}`;
  };
  let passes = 0;
  while (!options.signal.aborted) {
    try {
      const report = await options.pass(defer);
      passes += 1;
      for (const s of report.sagas) {
        if (s.consistent) failures.delete(s.sagaId);
        else if (s.action === 'retried' || s.action === 'unwound') {
          const count = (failures.get(s.sagaId)?.count ?? 0) + 1;
          failures.set(s.sagaId, { count, notBefore: now() + backoffDelayMs(count, backoff) });
        }
      }
      options.onReport?.(report);
    } catch (err) {
      passes += 1;
      options.onError?.(err);
    }
    if (options.signal.aborted) break;
    await sleep(options.intervalMs, options.signal);
  }
  return passes;
}
