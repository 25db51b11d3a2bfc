/**
 * Steps as the saga engine sees them: a typed saga's step spec, the status rows of the plan, the
 * STEP_PENDING payload and the Web UI summaries. Deterministic workflow code.
 */
import { actionName, APP_BACKEND, rollbackCompensationName, type ActionStepSpec } from '../saga/actions.js';
import type { CompensationRef, JsonObject, StepKind } from '../saga/contracts.js';
import type { NormalizedStep, RetryOverride } from '../saga/definition.js';
import type { StepStatus } from '../saga/status.js';

/** One step as a typed saga writes it: the action (backend operation) and its rollback (compensation). */
export interface StepSpec {
  id: string;
  backend: string;
  operation: string;
  payload: JsonObject;
  /** Registered compensation name, inline operation, or null (not undone). */
  compensation: CompensationRef;
  /** Default `<sagaId>:<id>`. */
  idempotencyKey?: string;
  /** Default `compensatable`. */
  kind?: StepKind;
  retry?: RetryOverride;
  timeout?: string;
}

/** Whether a typed saga's step runs the application's own code (`action`) rather than a backend operation. */
export function isActionStep(spec: StepSpec | ActionStepSpec): spec is ActionStepSpec {
  return 'action' in spec;
}

/**
 * A step of the application's own code as the engine runs it: an operation of the backend `app`
 * (the action) with the input as payload, undone by the compensation `app.<rollback>`; no
 * rollback is `compensation: null` (the step is not undone).
 */
export function actionStepSpec(spec: ActionStepSpec): StepSpec {
  const rollback = spec.rollback ?? null;
  return {
    id: spec.id,
    backend: APP_BACKEND,
    operation: actionName(spec.action),
    payload: spec.input as JsonObject,
    compensation: rollback === null ? null : rollbackCompensationName(actionName(rollback)),
    ...(spec.idempotencyKey !== undefined ? { idempotencyKey: spec.idempotencyKey } : {}),
    ...(spec.kind !== undefined ? { kind: spec.kind } : {}),
    ...(spec.retry !== undefined ? { retry: spec.retry } : {}),
    ...(spec.timeout !== undefined ? { timeout: spec.timeout } : {}),
  };
}

/** What a typed saga declares up front so that the status query can list its steps before they run. */
export type StepPlan = Pick<StepSpec, 'id' | 'backend' | 'operation' | 'kind'>;

/** The seqs of one transition's write-ahead row and outcome row. */
export interface TransitionSeqs {
  start: number;
  outcome: number;
}

/** The STEP_PENDING row's payload: what runs, and under which idempotency key. */
export function pendingPayload(step: NormalizedStep): JsonObject {
  return {
    backend: step.backend,
    operation: step.operation,
    kind: step.kind,
    idempotencyKey: step.idempotencyKey,
  };
}

export { compensationName } from '../saga/stack.js';

/** The Web UI summary of a step's activity, e.g. `row: postgres.insert` (kind shown unless compensatable). */
export function stepSummary(step: Pick<NormalizedStep, 'id' | 'backend' | 'operation' | 'kind'>): string {
  return `${step.id}: ${step.backend}.${step.operation}${step.kind === 'compensatable' ? '' : ` (${step.kind})`}`;
}

// Workflow time: the Temporal sandbox makes Date deterministic (it is the task's start time).
export function nowIso(): string {
  return new Date().toISOString();
}

export function stepStatusFromPlan(p: StepPlan): StepStatus {
  return {
    id: p.id,
    backend: p.backend,
    operation: p.operation,
    kind: p.kind ?? 'compensatable',
    state: 'PENDING',
    attempts: 0,
    startedAt: null,
    finishedAt: null,
    error: null,
  };
}
