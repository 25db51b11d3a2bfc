/**
 * The data contracts shared by the workflow, the activities, the client and the CLI.
 *
 * Pure types: no I/O, safe to import from workflow code. Everything that crosses the
 * workflow/activity boundary is plain JSON so that any worker version can read it back
 * from history (the compensation stack in particular is data, never a closure).
 */

/** A JSON value as it travels through Temporal payloads. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/** Saga states (design.md, "States"). */
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

/** Stable failure type strings (never class names a bundler could change). */
export const FailureTypes = {
  InvalidPayload: 'polysaga.InvalidPayload',
  UnknownOperation: 'polysaga.UnknownOperation',
  UnknownCompensation: 'polysaga.UnknownCompensation',
  ConstraintViolation: 'polysaga.ConstraintViolation',
  NotFound: 'polysaga.NotFound',
  Conflict: 'polysaga.Conflict',
  ClientError: 'polysaga.ClientError',
  Permanent: 'polysaga.Permanent',
  InjectedFailure: 'polysaga.InjectedFailure',
  Aborted: 'polysaga.Aborted',
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
  /** Writes one row of `uds3_saga_events`; a retried write with the same (sagaId, seq) is a no-op. */
  recordEvent(input: SagaEventInput): Promise<void>;
}
