/**
 * Named activity option objects: per-backend defaults for forward steps, the compensation
 * policy and the audit policy. Pure data, imported by the workflow.
 *
 * A step's `retry` and `timeout` override its backend's defaults field by field.
 */
import type { ActivityOptions, LocalActivityOptions, RetryPolicy } from '@temporalio/common';
import { FailureTypes } from './contracts.js';
import type { NormalizedStep } from './definition.js';

/** Failure types that are never retried, whatever the activity reports. */
export const NON_RETRYABLE_FAILURE_TYPES: string[] = [
  FailureTypes.InvalidPayload,
  FailureTypes.UnknownOperation,
  FailureTypes.UnknownCompensation,
  FailureTypes.ConstraintViolation,
  FailureTypes.ClientError,
  FailureTypes.Permanent,
];

function options(startToCloseTimeout: string, retry: RetryPolicy): ActivityOptions {
  return { startToCloseTimeout, retry: { nonRetryableErrorTypes: NON_RETRYABLE_FAILURE_TYPES, ...retry } };
}

/** PostgreSQL: short statements; serialization failures and lost connections retry quickly. */
export const POSTGRES_STEP_OPTIONS = options('15s', {
  initialInterval: '500ms',
  backoffCoefficient: 2,
  maximumInterval: '10s',
  maximumAttempts: 5,
});
/** Neo4j: transient cluster errors retry. */
export const NEO4J_STEP_OPTIONS = options('20s', {
  initialInterval: '1s',
  backoffCoefficient: 2,
  maximumInterval: '15s',
  maximumAttempts: 5,
});
/** S3: uploads of original files can take a while. */
export const S3_STEP_OPTIONS = options('30s', {
  initialInterval: '1s',
  backoffCoefficient: 2,
  maximumInterval: '20s',
  maximumAttempts: 5,
});
/** Vector store: embedding upserts in batches. */
export const VECTOR_STEP_OPTIONS = options('30s', {
  initialInterval: '1s',
  backoffCoefficient: 2,
  maximumInterval: '20s',
  maximumAttempts: 5,
});
/** Key-value (Redis): fast, many quick retries. */
export const KV_STEP_OPTIONS = options('5s', {
  initialInterval: '200ms',
  backoffCoefficient: 2,
  maximumInterval: '5s',
  maximumAttempts: 5,
});
/** HTTP services: remote timeouts, 5xx retry; 4xx are non-retryable (ClientError). */
export const HTTP_STEP_OPTIONS = options('30s', {
  initialInterval: '1s',
  backoffCoefficient: 2,
  maximumInterval: '30s',
  maximumAttempts: 5,
});
/** Custom backends registered in the catalog. */
export const CUSTOM_STEP_OPTIONS = options('30s', {
  initialInterval: '1s',
  backoffCoefficient: 2,
  maximumInterval: '30s',
  maximumAttempts: 5,
});

/** Default forward-step options by backend. */
export const BACKEND_STEP_OPTIONS: Readonly<Record<string, ActivityOptions>> = {
  postgres: POSTGRES_STEP_OPTIONS,
  neo4j: NEO4J_STEP_OPTIONS,
  s3: S3_STEP_OPTIONS,
  vector: VECTOR_STEP_OPTIONS,
  kv: KV_STEP_OPTIONS,
  http: HTTP_STEP_OPTIONS,
};

/**
 * Compensations: more patient than forward steps (an undo must eventually happen), but
 * bounded so that a persistently failing one ends in FAILED for an operator.
 */
export const COMPENSATION_OPTIONS = options('30s', {
  initialInterval: '1s',
  backoffCoefficient: 2,
  maximumInterval: '30s',
  maximumAttempts: 10,
});

/** The audit writer: retried without limit (an audit row must not be lost); writes are idempotent by (sagaId, seq). */
export const RECORD_EVENT_OPTIONS = options('10s', {
  initialInterval: '500ms',
  backoffCoefficient: 2,
  maximumInterval: '30s',
});

/**
 * Saga-level audit rows that no step carries (terminal states, waits for an operator), written
 * by a local activity in the worker that runs the saga: no task-queue round trip. Retried
 * without limit, like {@link RECORD_EVENT_OPTIONS}.
 */
export const RECORD_EVENTS_LOCAL_OPTIONS: LocalActivityOptions = {
  startToCloseTimeout: '10s',
  retry: { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '30s' },
};

/** How long a saga waits before running a step again whose audit rows could not be written. */
export const AUDIT_UNAVAILABLE_BACKOFF = { initialMs: 1000, maximumMs: 30_000 };

/** The options of a fast-mode step or compensation (a local activity) from its activity options. */
export function localOptions(o: ActivityOptions): LocalActivityOptions {
  const local: LocalActivityOptions = {};
  if (o.startToCloseTimeout !== undefined)
    local.startToCloseTimeout = o.startToCloseTimeout as string | number;
  if (o.retry) local.retry = o.retry;
  if (o.cancellationType !== undefined) local.cancellationType = o.cancellationType;
  if (o.summary !== undefined) local.summary = o.summary;
  return local;
}

/** Tunables for tests: a workflow input may shrink retry intervals (never used in production defaults). */
export interface ActivityTuning {
  /** Overrides every retry policy's initialInterval and maximumInterval (e.g. `10ms` in tests). */
  retryInterval?: string;
  /** Overrides the compensation policy's maximumAttempts (e.g. 2 in tests of failing compensations). */
  compensationAttempts?: number;
}

/**
 * The options of a backend the workflow has no entry for: {@link CUSTOM_STEP_OPTIONS}, overridden
 * by the backend's own `retry` option when its steps carry it (`defaults`).
 */
function definedBackendOptions(defaults: NormalizedStep['defaults']): ActivityOptions {
  if (defaults === undefined) return CUSTOM_STEP_OPTIONS;
  return {
    ...CUSTOM_STEP_OPTIONS,
    ...(defaults.startToCloseTimeout !== undefined
      ? { startToCloseTimeout: defaults.startToCloseTimeout as string }
      : {}),
    retry: {
      ...CUSTOM_STEP_OPTIONS.retry,
      ...defaults.retry,
      nonRetryableErrorTypes: [
        ...NON_RETRYABLE_FAILURE_TYPES,
        ...(defaults.retry?.nonRetryableErrorTypes ?? []),
      ],
    },
  };
}

/** The activity options of one forward step: its backend's defaults, then the step's overrides. */
export function stepActivityOptions(
  step: Pick<NormalizedStep, 'backend' | 'kind' | 'retry' | 'timeout' | 'defaults'>,
  tuning: ActivityTuning = {},
): ActivityOptions {
  const base = BACKEND_STEP_OPTIONS[step.backend] ?? definedBackendOptions(step.defaults);
  const retry: RetryPolicy = { ...base.retry };
  // Retriable steps (after the pivot) retry until they succeed.
  // (Temporal: an absent maximumAttempts means unlimited.)
  if (step.kind === 'retriable') delete retry.maximumAttempts;
  if (tuning.retryInterval) {
    retry.initialInterval = tuning.retryInterval;
    retry.maximumInterval = tuning.retryInterval;
  }
  if (step.retry) {
    const r = step.retry;
    if (r.maximumAttempts === 0) delete retry.maximumAttempts;
    else if (r.maximumAttempts !== undefined) retry.maximumAttempts = r.maximumAttempts;
    if (r.initialInterval !== undefined) retry.initialInterval = r.initialInterval;
    if (r.backoffCoefficient !== undefined) retry.backoffCoefficient = r.backoffCoefficient;
    if (r.maximumInterval !== undefined) retry.maximumInterval = r.maximumInterval;
    if (r.nonRetryableErrorTypes !== undefined)
      retry.nonRetryableErrorTypes = [...NON_RETRYABLE_FAILURE_TYPES, ...r.nonRetryableErrorTypes];
  }
  return { ...base, ...(step.timeout ? { startToCloseTimeout: step.timeout } : {}), retry };
}

/** Compensation options, optionally tuned (tests). */
export function compensationActivityOptions(tuning: ActivityTuning = {}): ActivityOptions {
  const retry: RetryPolicy = { ...COMPENSATION_OPTIONS.retry };
  if (tuning.retryInterval) {
    retry.initialInterval = tuning.retryInterval;
    retry.maximumInterval = tuning.retryInterval;
  }
  if (tuning.compensationAttempts !== undefined && tuning.compensationAttempts > 0)
    retry.maximumAttempts = tuning.compensationAttempts;
  return { ...COMPENSATION_OPTIONS, retry };
}
