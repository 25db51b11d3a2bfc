/**
 * The one builder of recovery's results: what an unwind from the trail returns
 * ({@link TrailUnwindResult}) and what `recover` reports per saga ({@link SagaRecovery}).
 */

/** Outcome of one direct unwind. */
export interface TrailUnwindResult {
  /** ROLLED_BACK, COMMITTED (every step of a saga past its pivot had succeeded), FAILED, or SKIPPED. */
  outcome: 'ROLLED_BACK' | 'COMMITTED' | 'FAILED' | 'SKIPPED';
  compensated: string[];
  failed: string[];
  /** A step whose outcome was never recorded (closed as STEP_FAIL; its effect is unknown). */
  inDoubt: string | null;
  /** Most tries any one compensation needed. */
  tries: number;
  detail: string;
  eventsWritten: number;
}

/** What recover found and did for one saga. */
export interface SagaRecovery {
  sagaId: string;
  sagaName: string | null;
  /**
   * `failed`: a FAILED saga; `orphan`: an unfinished trail whose workflow is gone; `running`:
   * left alone; `stuck`: its workflow runs but its workflow task keeps failing (needs a person:
   * `polysaga abort --terminate`, then recover).
   */
  kind: 'failed' | 'orphan' | 'running' | 'stuck';
  /** How it was found, e.g. `FAILED (workflow running)`, `trail open, workflow not found`. */
  found: string;
  /** `retried` (retryCompensation), `unwound` (from the audit trail), `skipped`, `none`. */
  action: 'retried' | 'unwound' | 'skipped' | 'none';
  tries: number;
  /** The saga state afterwards (ROLLED_BACK, FAILED, COMMITTED, RESOLVED, EXECUTING, RUNNING, STUCK …) or ERROR. */
  outcome: string;
  /** Whether the saga ends consistent (not FAILED, no error, nothing left to undo). */
  consistent: boolean;
  compensated?: string[];
  failedCompensations?: string[];
  /** A step whose outcome was never recorded (closed as failed; see docs/recovery.md). */
  inDoubt?: string | null;
  detail: string;
}

/** Which saga a report is about and how it was found. */
export type SagaRef = Pick<SagaRecovery, 'sagaId' | 'sagaName' | 'kind' | 'found'>;

/** What a report says beyond the outcome and detail; by default nothing was done (`none`, 0 tries, not consistent). */
export type RecoveryFacts = Partial<
  Pick<SagaRecovery, 'action' | 'tries' | 'consistent' | 'compensated' | 'failedCompensations' | 'inDoubt'>
>;

/** One saga's line of the recover report. */
export function sagaRecovery(
  ref: SagaRef,
  outcome: string,
  detail: string,
  facts: RecoveryFacts = {},
): SagaRecovery {
  const { action = 'none', tries = 0, consistent = false, ...lists } = facts;
  return { ...ref, action, tries, outcome, consistent, ...lists, detail };
}

/** The report line of a saga unwound (or skipped) from its audit trail. */
export function fromUnwind(ref: SagaRef, r: TrailUnwindResult): SagaRecovery {
  return sagaRecovery(ref, r.outcome, r.detail, {
    action: r.outcome === 'SKIPPED' ? 'skipped' : 'unwound',
    tries: r.tries,
    consistent:
      r.outcome === 'ROLLED_BACK' ||
      r.outcome === 'COMMITTED' ||
      (r.outcome === 'SKIPPED' && r.detail.startsWith('trail ')),
    compensated: r.compensated,
    failedCompensations: r.failed,
    inDoubt: r.inDoubt,
  });
}

/** An unwind's result; by default nothing compensated, no try, no row written. */
export function unwindResult(
  outcome: TrailUnwindResult['outcome'],
  detail: string,
  facts: Partial<Omit<TrailUnwindResult, 'outcome' | 'detail'>> = {},
): TrailUnwindResult {
  return {
    outcome,
    compensated: facts.compensated ?? [],
    failed: facts.failed ?? [],
    inDoubt: facts.inDoubt ?? null,
    tries: facts.tries ?? 0,
    detail,
    eventsWritten: facts.eventsWritten ?? 0,
  };
}

/** The first line of an error's message, for a report line. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? (err.message.split('\n')[0] ?? err.name) : String(err);
}
