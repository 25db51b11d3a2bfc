/**
 * The errors of the saga engine: those that end a saga body (a failed step, an abort, an operator's
 * resolve), the refusal of an operator request, and how an activity failure reports its audit
 * rows. Deterministic workflow code.
 */
import { ActivityFailure, ApplicationFailure } from '@temporalio/workflow';
import { AUDIT_RECORDED_DETAIL, FailureTypes, type SagaState } from '../saga/contracts.js';
import { SAGA_STATE_FAILURE_TYPE } from '../saga/operator.js';

/** Thrown inside the body when a step failed (before the pivot): the engine unwinds. */
export class StepFailedError extends Error {
  override name = 'StepFailedError';
  constructor(
    readonly stepId: string,
    message: string,
  ) {
    super(message);
  }
}

/** Thrown inside the body when an abort takes effect before the pivot. */
export class AbortedError extends Error {
  override name = 'AbortedError';
}

/** Thrown inside the body when an operator resolved a FAILED forward step. */
export class ResolvedError extends Error {
  override name = 'ResolvedError';
}

/** An operator request refused in the saga's state (update validators): the client reads the state from `details`. */
export function refused(state: SagaState, message: string): ApplicationFailure {
  return ApplicationFailure.create({
    type: SAGA_STATE_FAILURE_TYPE,
    message,
    details: [{ state }],
    nonRetryable: true,
  });
}

/** The failure of an activity that already wrote its outcome row. */
export function auditRecorded(err: unknown): boolean {
  const cause = err instanceof ActivityFailure ? err.cause : undefined;
  return (
    cause instanceof ApplicationFailure &&
    cause.details?.some(
      (d) =>
        typeof d === 'object' &&
        d !== null &&
        (d as Record<string, unknown>).polysagaAudit === AUDIT_RECORDED_DETAIL.polysagaAudit,
    ) === true
  );
}

/** The failure of an activity that could not write its audit rows (polysaga.AuditUnavailable). */
export function auditUnavailable(err: unknown): boolean {
  const cause = err instanceof ActivityFailure ? err.cause : undefined;
  return cause instanceof ApplicationFailure && cause.type === FailureTypes.AuditUnavailable;
}
