/**
 * What the saga workflow takes, reports and returns. Plain JSON types.
 */
import type { ActivityTuning } from './activity-options.js';
import type { CompensationEntry, JsonObject, SagaState, StepKind } from './contracts.js';
import type { NormalizedDefinition } from './definition.js';

/** Per-step state shown by the status query. */
export const STEP_STATES = [
  'PENDING',
  'EXECUTING',
  'SUCCEEDED',
  'FAILED',
  'COMPENSATING',
  'COMPENSATED',
  'COMPENSATION_FAILED',
] as const;
export type StepState = (typeof STEP_STATES)[number];

/** Status of one step. Times are ISO strings from the workflow clock. */
export interface StepStatus {
  id: string;
  backend: string;
  operation: string;
  kind: StepKind;
  state: StepState;
  /** How many times the workflow ran the step's activity (each run has its own retry policy). */
  attempts: number;
  startedAt: string | null;
  finishedAt: string | null;
  error: string | null;
  /** The forward operation's result (ids, before-images), once it succeeded. */
  result?: JsonObject;
  compensationError?: string | null;
}

/** One failure reported by a saga: a step or a compensation. */
export interface SagaFailure {
  stepId: string;
  phase: 'step' | 'compensation';
  error: string;
}

/**
 * A saga whose workflow task fails on every attempt (a bug, a non-determinism after a bad
 * deploy, a command Temporal refuses): it cannot move, answer queries or handle signals.
 * Reported by the client, never by the workflow (docs/states.md, "Stuck sagas").
 */
export interface StuckInfo {
  /** Temporal's WorkflowTaskFailedCause without its prefix, e.g. `BAD_SCHEDULE_ACTIVITY_ATTRIBUTES`. */
  cause: string;
  /** The failure message of the last recorded failed workflow task. */
  message: string;
  /** Attempt number of the pending workflow task (it failed `attempts - 1` times in a row). */
  attempts: number;
  /** When the last recorded workflow task failure happened (ISO), if known. */
  since: string | null;
  /** What an operator can do. */
  hint: string;
}

/** The status query's answer: the saga's state, its steps with their state, and what an unwind would do. */
export interface SagaStatus {
  sagaId: string;
  name: string;
  state: SagaState;
  totalSteps: number;
  completedSteps: number;
  /** The step whose failure started the unwind (or that failed after the pivot). */
  failedAt: string | null;
  error: string | null;
  steps: StepStatus[];
  /** Pending compensations, oldest first: what an unwind would run (newest first). */
  compensationStack: CompensationEntry[];
  compensationMode: 'sequential' | 'parallel';
  traceId: string;
  identityKey: string | null;
  /** Set when an abort signal or a cancellation was received. */
  abortRequested: boolean;
  /** Every failure seen so far (steps and compensations). */
  failures: SagaFailure[];
  /** Operator decisions (`resolve`) and notes. */
  resolution: { reason: string; by: string | null } | null;
  /**
   * Set (by the client only) when the saga's workflow task keeps failing: `state` is then the
   * last state its search attribute recorded, and steps come from the definition it started with.
   */
  stuck?: StuckInfo;
}

/** Input of the saga workflows. */
export interface SagaWorkflowInput {
  definition: NormalizedDefinition;
  /**
   * Undo of a committed saga: a new run with the same workflow id that unwinds the
   * committed run's stack (see docs/states.md).
   */
  undo?: {
    stack: CompensationEntry[];
    /** The committed run's last seq; this run continues after it. */
    lastSeq: number;
    previousRunId: string;
    steps: StepStatus[];
  };
  /** Test-only tuning of retry intervals. */
  tuning?: ActivityTuning;
  /**
   * Set for sagas that are not production traffic (`verify`, `bench`): recorded in the
   * SAGA_STARTED audit row's payload (the SQL metrics views leave them out) and as the
   * `SagaOrigin` search attribute (default lists leave them out).
   */
  origin?: string;
}

/** What a saga workflow returns when it closes (COMMITTED, ROLLED_BACK or RESOLVED). */
export interface SagaResult {
  status: SagaStatus;
  definition: NormalizedDefinition;
  /** The last seq used by this run (an undo run continues after it). */
  lastSeq: number;
}

/** Input of the resolve update. */
export interface ResolveInput {
  reason: string;
  by?: string;
}
