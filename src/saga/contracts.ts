/**
 * The data contracts shared by the workflow, the activities, the client and the CLI.
 *
 * Pure types: no I/O, safe to import from workflow code. Everything that crosses the
 * workflow/activity boundary is plain JSON so that any worker version can read it back
 * from history (the compensation stack in particular is data, never a closure).
 */
import type { NormalizedStep } from './definition.js';

/**
 * The default idempotency key of a step: `<sagaId>:<stepId>`. (Here rather than beside the zod
 * schema in `definition.ts`: the workflow bundle must not evaluate zod for every saga.)
 */
export function defaultIdempotencyKey(sagaId: string, stepId: string): string {
  return `${sagaId}:${stepId}`;
}

/** A JSON value as it travels through Temporal payloads. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/** Saga states (docs/states.md). */
export const SAGA_STATES = [
  'PENDING',
  'EXECUTING',
  'COMMITTED',
  'COMPENSATING',
  'ROLLED_BACK',
  'FAILED',
  'RESOLVED',
] as const;
export type SagaState = (typeof SAGA_STATES)[number];

/** Saga-theory step kinds: compensatable steps, then at most one pivot, then retriable steps. */
export const STEP_KINDS = ['compensatable', 'pivot', 'retriable'] as const;
export type StepKind = (typeof STEP_KINDS)[number];

/** Input of the `executeStep` activity: one forward operation of one backend. */
export interface ExecuteStepInput {
  sagaId: string;
  sagaName: string;
  traceId: string;
  stepId: string;
  backend: string;
  operation: string;
  payload: JsonObject;
  /** At most one effect per key (adapter contract). Default `<sagaId>:<stepId>`. */
  idempotencyKey: string;
  /** The step's compensation; the rollback of an `app` step is checked before its action runs. */
  compensation?: CompensationRef;
}

/**
 * Output of `executeStep`: what the compensation needs later, e.g. generated ids
 * or a before-image of the data the operation changed or removed.
 */
export interface ExecuteStepResult {
  result: JsonObject;
}

/** How to undo a step: a registered compensation name or an inline operation. */
export type CompensationRef = string | { backend?: string; operation: string; payload: JsonObject } | null;

/** One entry of the compensation stack, pushed after a step succeeds. Pure data. */
export interface CompensationEntry {
  stepId: string;
  backend: string;
  /** Registered compensation name (e.g. `relational_delete`) or inline operation. */
  compensation: Exclude<CompensationRef, null>;
  /** The forward step's payload. */
  payload: JsonObject;
  /** The forward step's result (ids, before-image). */
  result: JsonObject;
  idempotencyKey: string;
}

/** Input of the `compensateStep` activity. */
export interface CompensateStepInput extends CompensationEntry {
  sagaId: string;
  sagaName: string;
  traceId: string;
}

export interface CompensateStepResult {
  /** `undone`: the effect was removed or restored; `absent`: nothing was there (idempotent success). */
  outcome: 'undone' | 'absent';
  detail?: JsonObject;
}

/** Transition kinds mirrored into `uds3_saga_events.status`. */
export const EVENT_STATUSES = [
  'SAGA_STARTED',
  'STEP_PENDING',
  'STEP_SUCCESS',
  'STEP_FAIL',
  'COMPENSATION_STARTED',
  'COMPENSATION_SUCCESS',
  'COMPENSATION_FAIL',
  'SAGA_COMMITTED',
  'SAGA_ROLLED_BACK',
  'SAGA_FAILED',
  'SAGA_ABORTED',
  'SAGA_RETRIED',
  'SAGA_RESOLVED',
] as const;
export type EventStatus = (typeof EVENT_STATUSES)[number];

/** Input of the `recordEvent` activity: one row of `uds3_saga_events`. */
export interface SagaEventInput {
  sagaId: string;
  runId: string;
  /** Deterministic per saga (allocated by the workflow); (saga_id, seq) is unique. */
  seq: number;
  stepId: string | null;
  status: EventStatus;
  sagaName: string;
  traceId: string;
  payload?: JsonObject;
  error?: string | null;
  attempt?: number;
  durationMs?: number;
}

/**
 * The audit rows a step or compensation activity writes itself, around its effect: first the
 * saga-level events the workflow queued since the last activity (`before`, in seq order), then
 * the write-ahead row (`startSeq`: STEP_PENDING or COMPENSATION_STARTED), then, after the
 * effect, the outcome row (`outcomeSeq`: STEP_SUCCESS/STEP_FAIL or COMPENSATION_SUCCESS/FAIL).
 * Every row is idempotent by (sagaId, seq), so retries and re-invocations write each once.
 */
export interface TransitionAudit {
  /** Saga-level events queued by the workflow since the last activity, in seq order. */
  before: SagaEventInput[];
  /** The write-ahead row (STEP_PENDING or COMPENSATION_STARTED); the activity sets `attempt`. */
  start: SagaEventInput;
  /** seq of the outcome row (STEP_SUCCESS/STEP_FAIL or COMPENSATION_SUCCESS/COMPENSATION_FAIL). */
  outcomeSeq: number;
  /**
   * The activity's maximumAttempts (absent: unlimited). A failure on the last attempt, or a
   * non-retryable one, is recorded by the activity; earlier ones are left to Temporal's retry.
   */
  maximumAttempts?: number;
}

/** Input of the `runStep` activity: one forward step with its own audit rows. */
export interface RunStepInput {
  sagaId: string;
  sagaName: string;
  traceId: string;
  /** The step as normalized by the client (its stack entry is built from it and the result). */
  step: NormalizedStep;
  audit: TransitionAudit;
}

/** Input of the `runCompensation` activity: one stack entry with its own audit rows. */
export interface RunCompensationInput extends CompensateStepInput {
  audit: TransitionAudit;
}

/**
 * `details[0]` of the failure that a step or compensation activity throws after it wrote the
 * outcome row itself: the workflow then writes nothing more for that transition.
 */
export const AUDIT_RECORDED_DETAIL = { polysagaAudit: 'recorded' } as const;

/** Stable failure type strings (never class names a bundler could change). */
export const FailureTypes = {
  InvalidPayload: 'polysaga.InvalidPayload',
  /** A step touches polysaga's own objects or leaves an allowlist (src/saga/guard.ts); never retried. */
  GuardedStore: 'polysaga.GuardedStore',
  UnknownOperation: 'polysaga.UnknownOperation',
  UnknownCompensation: 'polysaga.UnknownCompensation',
  ConstraintViolation: 'polysaga.ConstraintViolation',
  NotFound: 'polysaga.NotFound',
  Conflict: 'polysaga.Conflict',
  ClientError: 'polysaga.ClientError',
  Permanent: 'polysaga.Permanent',
  InjectedFailure: 'polysaga.InjectedFailure',
  Aborted: 'polysaga.Aborted',
  /** The audit table could not be written: the workflow waits and runs the activity again. */
  AuditUnavailable: 'polysaga.AuditUnavailable',
} as const;
export type FailureType = (typeof FailureTypes)[keyof typeof FailureTypes];

/**
 * The activities the saga workflow calls. `createActivities(deps)` in `src/activities`
 * returns an object satisfying this; workflow tests pass fakes of the same shape.
 */
export interface SagaActivities {
  /** Runs one forward operation; at most one effect per `idempotencyKey`. */
  executeStep(input: ExecuteStepInput): Promise<ExecuteStepResult>;
  /** Undoes one step from its stack entry; undoing what is already gone is success. */
  compensateStep(input: CompensateStepInput): Promise<CompensateStepResult>;
  /**
   * Writes one row of `uds3_saga_events`; a retried write with the same (sagaId, seq) is a no-op
   * and may resolve to `{ inserted: false }` (metrics count only inserted rows).
   */
  recordEvent(input: SagaEventInput): Promise<void | { inserted: boolean }>;
  /**
   * One forward step in one activity: queued saga events, write-ahead STEP_PENDING, the effect
   * (at most one per idempotency key), STEP_SUCCESS with the stack entry, or STEP_FAIL when the
   * failure is final. Audit trouble is a non-retryable `polysaga.AuditUnavailable`.
   */
  runStep(input: RunStepInput): Promise<ExecuteStepResult>;
  /** One compensation in one activity: queued saga events, COMPENSATION_STARTED, the undo, its outcome row. */
  runCompensation(input: RunCompensationInput): Promise<CompensateStepResult>;
  /** Writes saga-level events in seq order (a local activity: terminal states and waits for an operator). */
  recordEvents(events: SagaEventInput[]): Promise<void>;
}
