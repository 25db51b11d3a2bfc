/**
 * How a saga's outcome travels in Temporal: a COMMITTED or RESOLVED saga completes its workflow
 * with its {@link SagaResult}; a ROLLED_BACK saga fails its workflow with a non-retryable
 * `ApplicationFailure` of type {@link SAGA_ROLLED_BACK_FAILURE_TYPE} whose first detail is the
 * same {@link SagaResult}, so that the Web UI shows it red and counts it among failures
 * (docs/states.md, "How a saga looks in Temporal"). Readers map it back with
 * {@link sagaResultFromFailure}: the client and the CLI still report ROLLED_BACK.
 *
 * Workflow-safe (only @temporalio/common).
 */
import { ApplicationFailure } from '@temporalio/common';
import type { SagaResult } from './status.js';

/** The failure type of a rolled-back saga's workflow (stable: dashboards and queries use it). */
export const SAGA_ROLLED_BACK_FAILURE_TYPE = 'polysaga.SagaRolledBack';

/** The failure a rolled-back saga's workflow ends with. */
export function sagaRolledBackFailure(result: SagaResult): ApplicationFailure {
  const s = result.status;
  const cause = s.error ?? 'rolled back';
  return ApplicationFailure.create({
    type: SAGA_ROLLED_BACK_FAILURE_TYPE,
    message: `saga ${s.sagaId} (${s.name}) rolled back${s.failedAt ? ` after step ${s.failedAt} failed` : ''}: ${cause}`,
    details: [result],
    nonRetryable: true,
  });
}

/**
 * The {@link SagaResult} a rolled-back saga's workflow failed with, found in `err` or its cause
 * chain (`WorkflowFailedError` → `ApplicationFailure`); null for any other error.
 */
export function sagaResultFromFailure(err: unknown): SagaResult | null {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    if (e instanceof ApplicationFailure && e.type === SAGA_ROLLED_BACK_FAILURE_TYPE) {
      const result = e.details?.[0] as SagaResult | undefined;
      if (result && typeof result === 'object' && 'status' in result) return result;
    }
  }
  return null;
}
