/**
 * The saga state machine (docs/states.md) and a checker for event sequences
 * (the rows of `uds3_saga_events` of one saga, in seq order).
 *
 * Pure: used by the workflow, the audit writer, the CLI and tests.
 */
import type { EventStatus, SagaState } from './contracts.js';

/**
 * Allowed saga state transitions.
 * - `PENDING → EXECUTING → COMMITTED`
 * - `EXECUTING → COMPENSATING → ROLLED_BACK | FAILED` (a step failed, or abort/cancel before the pivot)
 * - `EXECUTING → FAILED` (a step after the pivot failed permanently: it cannot be compensated)
 * - `FAILED → COMPENSATING` (operator retries failed compensations), `FAILED → EXECUTING`
 *   (operator retries a failed step after the pivot), `FAILED → RESOLVED` (operator resolves)
 * - `COMMITTED → COMPENSATING` (compensateSaga undoes a committed saga)
 */
export const SAGA_TRANSITIONS: Readonly<Record<SagaState, readonly SagaState[]>> = {
  PENDING: ['EXECUTING'],
  EXECUTING: ['COMMITTED', 'COMPENSATING', 'FAILED'],
  COMMITTED: ['COMPENSATING'],
  COMPENSATING: ['ROLLED_BACK', 'FAILED'],
  ROLLED_BACK: [],
  FAILED: ['COMPENSATING', 'EXECUTING', 'RESOLVED'],
  RESOLVED: [],
};

/** States in which a saga's workflow has ended (COMMITTED may be undone later by a new run). */
export const TERMINAL_STATES: readonly SagaState[] = ['COMMITTED', 'ROLLED_BACK', 'RESOLVED'];

/** Whether `from → to` is an allowed transition. */
export function canTransition(from: SagaState, to: SagaState): boolean {
  return SAGA_TRANSITIONS[from].includes(to);
}

/** Whether the identity lock is released when a saga reaches `state` (held while FAILED). */
export function releasesIdentityLock(state: SagaState): boolean {
  return state === 'COMMITTED' || state === 'ROLLED_BACK' || state === 'RESOLVED';
}

/** The part of an event that the checker looks at. */
export interface SagaEventLike {
  seq: number;
  status: EventStatus;
  stepId: string | null;
}

/** Result of {@link checkEventSequence}. */
export interface EventSequenceCheck {
  ok: boolean;
  /** The saga state the sequence leads to (`PENDING` for an empty sequence). */
  state: SagaState;
  errors: string[];
}

/**
 * Checks that `events` (in seq order) form a valid history of one saga: seq numbers
 * consecutive from the first, each event allowed in the state it occurs in, step events
 * paired (PENDING then SUCCESS/FAIL, STARTED then SUCCESS/FAIL), nothing after the end.
 *
 * The sequence may continue across runs (a committed saga undone later continues its seq).
 */
export function checkEventSequence(events: readonly SagaEventLike[]): EventSequenceCheck {
  const errors: string[] = [];
  let state = 'PENDING' as SagaState;
  let pendingStep: string | null = null;
  const compensating = new Set<string>();
  let compensationFailed = false;
  let retried = false;
  let expectedSeq: number | undefined;
  const move = (to: SagaState, e: SagaEventLike) => {
    if (!canTransition(state, to))
      errors.push(`seq ${e.seq}: ${e.status} moves ${state} → ${to}, which is not allowed`);
    state = to;
  };
  const bad = (e: SagaEventLike, why: string) =>
    errors.push(`seq ${e.seq}: ${e.status}${e.stepId ? ` (${e.stepId})` : ''} ${why}`);

  for (const e of events) {
    if (expectedSeq !== undefined && e.seq !== expectedSeq)
      errors.push(`seq ${e.seq}: expected seq ${expectedSeq}`);
    expectedSeq = e.seq + 1;
    switch (e.status) {
      case 'SAGA_STARTED':
        if (state !== 'PENDING') bad(e, `in state ${state}`);
        move('EXECUTING', e);
        break;
      case 'STEP_PENDING':
        if (state === 'FAILED' && retried) move('EXECUTING', e);
        retried = false;
        if (state !== 'EXECUTING') bad(e, `in state ${state}`);
        else if (pendingStep !== null) bad(e, `while step ${pendingStep} is still pending`);
        else if (!e.stepId) bad(e, 'without a step id');
        pendingStep = e.stepId;
        break;
      case 'STEP_SUCCESS':
      case 'STEP_FAIL':
        if (state !== 'EXECUTING') bad(e, `in state ${state}`);
        else if (pendingStep === null || pendingStep !== e.stepId)
          bad(e, `does not match the pending step ${pendingStep ?? '(none)'}`);
        pendingStep = null;
        break;
      case 'SAGA_ABORTED':
        if (state !== 'EXECUTING') bad(e, `in state ${state}`);
        else if (pendingStep !== null) bad(e, `while step ${pendingStep} is still pending`);
        break;
      case 'COMPENSATION_STARTED':
        if (state === 'FAILED' && retried) move('COMPENSATING', e);
        retried = false;
        if (state === 'EXECUTING' || state === 'COMMITTED') {
          if (pendingStep !== null) bad(e, `while step ${pendingStep} is still pending`);
          move('COMPENSATING', e);
        } else if (state !== 'COMPENSATING') bad(e, `in state ${state}`);
        if (!e.stepId) bad(e, 'without a step id');
        else if (compensating.has(e.stepId)) bad(e, 'started twice');
        else compensating.add(e.stepId);
        break;
      case 'COMPENSATION_SUCCESS':
      case 'COMPENSATION_FAIL':
        if (state !== 'COMPENSATING') bad(e, `in state ${state}`);
        if (!e.stepId || !compensating.delete(e.stepId)) bad(e, 'without a matching COMPENSATION_STARTED');
        if (e.status === 'COMPENSATION_FAIL') compensationFailed = true;
        break;
      case 'SAGA_COMMITTED':
        if (pendingStep !== null) bad(e, `while step ${pendingStep} is still pending`);
        move('COMMITTED', e);
        break;
      case 'SAGA_ROLLED_BACK':
        if (compensating.size > 0) bad(e, `while compensations are running: ${[...compensating].join(', ')}`);
        if (compensationFailed) bad(e, 'after a compensation failed');
        // A saga with nothing to undo goes straight from EXECUTING/COMMITTED to ROLLED_BACK.
        if (state === 'EXECUTING' || state === 'COMMITTED') {
          if (pendingStep !== null) bad(e, `while step ${pendingStep} is still pending`);
          state = 'COMPENSATING';
        }
        move('ROLLED_BACK', e);
        break;
      case 'SAGA_FAILED':
        if (compensating.size > 0) bad(e, `while compensations are running: ${[...compensating].join(', ')}`);
        if (pendingStep !== null) bad(e, `while step ${pendingStep} is still pending`);
        move('FAILED', e);
        break;
      case 'SAGA_RETRIED':
        if (state !== 'FAILED') bad(e, `in state ${state}`);
        compensationFailed = false;
        // The next event says what is retried: a compensation or a forward step.
        retried = true;
        break;
      case 'SAGA_RESOLVED':
        move('RESOLVED', e);
        break;
    }
  }
  return { ok: errors.length === 0, state, errors };
}
