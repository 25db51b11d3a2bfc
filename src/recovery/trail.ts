/**
 * Reading a saga's audit trail for recovery: where it stopped, what is still to undo. Pure.
 */
import {
  COMPENSATION_ENTRY_KEY,
  CompensationStackError,
  rebuildCompensationStack,
  TERMINAL_EVENT_STATUSES,
  type AuditEvent,
} from '../audit/index.js';
import type { CompensationEntry, EventStatus, SagaState } from '../saga/contracts.js';
import { checkEventSequence } from '../saga/states.js';

/** What recovery needs to know about one trail. */
export interface TrailAnalysis {
  sagaId: string;
  sagaName: string;
  traceId: string;
  /** The run id of the last event (recovery writes its events under it). */
  runId: string;
  lastSeq: number;
  lastStatus: string | null;
  /** The saga state the trail leads to (src/saga/states checkEventSequence). */
  state: SagaState;
  /** A step with STEP_PENDING and no outcome: its effect is unknown (write-ahead). */
  openStep: string | null;
  /** Compensations started without an outcome. */
  openCompensations: string[];
  /** A COMPENSATION_FAIL since the last SAGA_FAILED / SAGA_RETRIED (the round failed). */
  compensationFailedInRound: boolean;
  /** A pivot or retriable step succeeded: the saga can no longer be compensated. */
  pivotPassed: boolean;
  /** The trail holds SAGA_COMMITTED: what follows is the undo of a committed saga. */
  committed: boolean;
  /** `totalSteps` of SAGA_STARTED, if recorded. */
  totalSteps: number | null;
  /** Steps with STEP_SUCCESS (distinct). */
  succeededSteps: string[];
  /** `payload.phase` of the last SAGA_FAILED (`forward` after the pivot, `compensation`). */
  failedPhase: string | null;
  /** Entries still to undo, in push order (undo the last first); null when it cannot be rebuilt. */
  stack: CompensationEntry[] | null;
  /** Why the stack cannot be rebuilt (null when it can). */
  stackProblem: string | null;
}

const TERMINAL: ReadonlySet<string> = new Set(TERMINAL_EVENT_STATUSES);

/** Whether `status` ends a trail (or, for SAGA_FAILED, a round of it). */
export function isTerminalStatus(status: string | null): boolean {
  return status !== null && TERMINAL.has(status);
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

/**
 * Analyses one saga's events (any order; sorted by seq here).
 * A STEP_SUCCESS without the `compensationEntry` key (as opposed to `compensationEntry: null`,
 * "nothing to undo") makes the stack unknown: recovery then refuses to unwind rather than skip
 * an undo silently.
 */
export function analyzeTrail(sagaId: string, input: readonly AuditEvent[]): TrailAnalysis {
  const events = [...input].sort((a, b) => a.seq - b.seq);
  const last = events[events.length - 1];
  let openStep: string | null = null;
  const open = new Set<string>();
  let failedInRound = false;
  let pivotPassed = false;
  let totalSteps: number | null = null;
  let committed = false;
  let failedPhase: string | null = null;
  const kinds = new Map<string, string>();
  const succeeded = new Set<string>();
  const missing: string[] = [];
  for (const e of events) {
    switch (e.status) {
      case 'SAGA_STARTED':
        if (typeof e.payload.totalSteps === 'number') totalSteps = e.payload.totalSteps;
        break;
      case 'STEP_PENDING':
        openStep = e.stepId;
        if (e.stepId) kinds.set(e.stepId, str(e.payload.kind) ?? 'compensatable');
        break;
      case 'STEP_SUCCESS':
        openStep = null;
        if (e.stepId) {
          succeeded.add(e.stepId);
          if ((kinds.get(e.stepId) ?? 'compensatable') !== 'compensatable') pivotPassed = true;
          if (!(COMPENSATION_ENTRY_KEY in e.payload)) missing.push(e.stepId);
        }
        break;
      case 'STEP_FAIL':
        openStep = null;
        break;
      case 'COMPENSATION_STARTED':
        if (e.stepId) open.add(e.stepId);
        break;
      case 'COMPENSATION_SUCCESS':
        if (e.stepId) open.delete(e.stepId);
        break;
      case 'COMPENSATION_FAIL':
        if (e.stepId) open.delete(e.stepId);
        failedInRound = true;
        break;
      case 'SAGA_FAILED':
        failedPhase = str(e.payload.phase);
        failedInRound = false;
        break;
      case 'SAGA_RETRIED':
        failedInRound = false;
        break;
      case 'SAGA_COMMITTED':
        committed = true;
        break;
    }
  }
  let stack: CompensationEntry[] | null = null;
  let stackProblem: string | null = null;
  if (missing.length > 0) {
    stackProblem =
      `the STEP_SUCCESS event of ${missing.join(', ')} carries no ${COMPENSATION_ENTRY_KEY} ` +
      '(written by an engine that does not record it), so the compensation stack cannot be rebuilt from the audit table';
  } else {
    try {
      stack = rebuildCompensationStack(events);
    } catch (err) {
      if (!(err instanceof CompensationStackError)) throw err;
      stackProblem = err.message;
    }
  }
  const check = checkEventSequence(events as (AuditEvent & { status: EventStatus })[]);
  return {
    sagaId,
    sagaName: events.find((e) => e.sagaName)?.sagaName ?? '',
    traceId: events.find((e) => e.traceId)?.traceId ?? '',
    runId: [...events].reverse().find((e) => e.runId)?.runId ?? 'polysaga-recover',
    lastSeq: last?.seq ?? 0,
    lastStatus: last?.status ?? null,
    state: check.state,
    openStep,
    openCompensations: [...open],
    compensationFailedInRound: failedInRound,
    pivotPassed,
    committed,
    totalSteps,
    succeededSteps: [...succeeded],
    failedPhase,
    stack,
    stackProblem,
  };
}

/** The name a compensation is shown under (as the engine records it in COMPENSATION_STARTED). */
export { compensationName } from '../saga/stack.js';
