/**
 * The transition activities: one activity per forward step (`runStep`) and one per compensation
 * (`runCompensation`), each writing its own audit rows around its effect, and `recordEvents`,
 * which the workflow runs as a local activity for saga-level events that no step carries
 * (terminal states, waits for an operator).
 *
 * Order inside one activity: the saga events queued by the workflow (`audit.before`), the
 * write-ahead row (STEP_PENDING / COMPENSATION_STARTED), the effect, the outcome row. Every row
 * is written with its (sagaId, seq) from the workflow and `ON CONFLICT DO NOTHING`, so a retry,
 * a re-invocation after an audit outage or a worker killed mid-activity leaves exactly one row
 * per transition, and no effect runs before its write-ahead row is stored.
 *
 * A failure is recorded by the activity when it is final: non-retryable, or on the last attempt
 * of the retry policy; the thrown failure then carries {@link AUDIT_RECORDED_DETAIL} so the
 * workflow writes nothing more. When the audit table cannot be written the activity throws a
 * non-retryable `polysaga.AuditUnavailable`; the workflow waits and runs the same activity again
 * (same seqs, same idempotency key), so an audit outage never turns into a failed step.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import {
  AUDIT_RECORDED_DETAIL,
  FailureTypes,
  type CompensateStepResult,
  type ExecuteStepResult,
  type RunCompensationInput,
  type RunStepInput,
  type SagaActivities,
  type SagaEventInput,
  type TransitionAudit,
} from '../saga/contracts.js';
import { NON_RETRYABLE_FAILURE_TYPES } from '../saga/activity-options.js';
import { entryForStep } from '../saga/stack.js';
import { stepSuccessPayload } from '../audit/compensation-stack.js';
import type { TransitionLabels, TransitionObserver } from '../observability/metrics.js';

export type TransitionActivities = Pick<SagaActivities, 'runStep' | 'runCompensation' | 'recordEvents'> & {
  /** `recordEvent` seen by the observer; resolves to `{ inserted }` like the audit activity. */
  recordEvent(e: SagaEventInput): Promise<{ inserted: boolean }>;
};

export interface TransitionActivityDeps {
  steps: Pick<SagaActivities, 'executeStep' | 'compensateStep'>;
  recordEvent: SagaActivities['recordEvent'];
  /** Told of every row `recordEvent` inserted (metrics); never fails an activity. */
  observer?: TransitionObserver;
}

/** A row counts unless `recordEvent` reports it was already stored (a retry). */
function wasInserted(result: unknown): boolean {
  return !(
    typeof result === 'object' &&
    result !== null &&
    (result as { inserted?: unknown }).inserted === false
  );
}

/** `type: message`, as the workflow shows a failure (status, audit rows). */
function failureText(err: unknown): { type: string; message: string; text: string } {
  const type = err instanceof ApplicationFailure ? (err.type ?? '') : err instanceof Error ? err.name : '';
  const message = err instanceof Error ? err.message : String(err);
  return { type, message, text: type ? `${type}: ${message}` : message };
}

function isFinal(err: unknown, attempt: number, audit: TransitionAudit, extraTypes: string[] = []): boolean {
  if (err instanceof ApplicationFailure) {
    if (err.nonRetryable) return true;
    if (err.type && (NON_RETRYABLE_FAILURE_TYPES.includes(err.type) || extraTypes.includes(err.type)))
      return true;
  }
  return audit.maximumAttempts !== undefined && attempt >= audit.maximumAttempts;
}

/** The compensation's name as the workflow recorded it in COMPENSATION_STARTED. */
function compensationName(audit: TransitionAudit): string {
  const name = audit.start.payload?.compensation;
  return typeof name === 'string' ? name : 'compensation';
}

/** Logs through the activity's logger (it adds the activity's metadata); silent outside an activity. */
function log(level: 'info' | 'warn', message: string, meta: Record<string, unknown>): void {
  let ctx: Context;
  try {
    ctx = Context.current();
  } catch {
    return;
  }
  ctx.log[level](`[${String(meta.sagaId)}] ${message}`, meta);
}

/** The activity's attempt (1-based), or 1 when called outside an activity. */
function activityInfo(): { attempt: number } {
  try {
    return Context.current().info;
  } catch {
    return { attempt: 1 };
  }
}

/** Creates `runStep`, `runCompensation` and `recordEvents` over the step and audit activities. */
export function createTransitionActivities(deps: TransitionActivityDeps): TransitionActivities {
  /** Writes one row; tells the observer when it was inserted (not found stored by a retry). */
  async function recordOne(e: SagaEventInput, labels?: TransitionLabels): Promise<{ inserted: boolean }> {
    const r: unknown = await deps.recordEvent(e);
    const inserted = wasInserted(r);
    if (deps.observer && inserted) await deps.observer.recorded(e, labels);
    return { inserted };
  }

  /** Writes the rows in seq order (each idempotent by its seq); `labels` go with outcome rows. */
  async function recordAll(events: SagaEventInput[], labels?: TransitionLabels): Promise<void> {
    for (const e of events) await recordOne(e, labels);
  }

  /** {@link recordAll} inside a step or compensation: an unreachable table is AuditUnavailable. */
  async function write(events: SagaEventInput[], labels?: TransitionLabels): Promise<void> {
    try {
      await recordAll(events, labels);
    } catch (err) {
      if (err instanceof ApplicationFailure && err.type === FailureTypes.InvalidPayload) throw err;
      throw ApplicationFailure.create({
        message: `audit table unavailable: ${failureText(err).message}`,
        type: FailureTypes.AuditUnavailable,
        nonRetryable: true,
        cause: err instanceof Error ? err : undefined,
      });
    }
  }

  /** Runs `effect` between the write-ahead row and the outcome row of one transition. */
  async function transition<T>(
    audit: TransitionAudit,
    effect: () => Promise<T>,
    success: (out: T) => Pick<SagaEventInput, 'status' | 'payload'>,
    failStatus: 'STEP_FAIL' | 'COMPENSATION_FAIL',
    what: string,
    labels: TransitionLabels,
    extraNonRetryable?: string[],
  ): Promise<T> {
    const { attempt } = activityInfo();
    const meta = {
      sagaId: audit.start.sagaId,
      traceId: audit.start.traceId,
      sagaName: audit.start.sagaName,
      stepId: audit.start.stepId,
      attempt,
    };
    await write([...audit.before, { ...audit.start, attempt }]);
    log('info', `${what} started`, meta);
    const started = Date.now();
    const outcome = (fields: Pick<SagaEventInput, 'status' | 'payload' | 'error'>): SagaEventInput => {
      const { payload: _startPayload, ...base } = audit.start;
      return { ...base, ...fields, seq: audit.outcomeSeq, attempt, durationMs: Date.now() - started };
    };
    let out: T;
    try {
      out = await effect();
    } catch (err) {
      if (!isFinal(err, attempt, audit, extraNonRetryable)) throw err;
      const f = failureText(err);
      await write([outcome({ status: failStatus, error: f.text })], labels);
      throw ApplicationFailure.create({
        message: f.message,
        type: f.type || 'Error',
        nonRetryable: true,
        details: [AUDIT_RECORDED_DETAIL],
      });
    }
    await write([outcome(success(out))], labels);
    log('info', `${what} succeeded`, { ...meta, durationMs: Date.now() - started });
    return out;
  }

  return {
    async runStep(input: RunStepInput): Promise<ExecuteStepResult> {
      const { step } = input;
      return transition(
        input.audit,
        () =>
          deps.steps.executeStep({
            sagaId: input.sagaId,
            sagaName: input.sagaName,
            traceId: input.traceId,
            stepId: step.id,
            backend: step.backend,
            operation: step.operation,
            payload: step.payload,
            idempotencyKey: step.idempotencyKey,
            compensation: step.compensation,
          }),
        // The stack entry goes into the audit row so `polysaga recover` can rebuild the stack
        // from SQL alone when the workflow is gone.
        ({ result }) => ({
          status: 'STEP_SUCCESS',
          payload: stepSuccessPayload(entryForStep(step, result), { result }),
        }),
        'STEP_FAIL',
        `step ${step.id} (${step.backend}.${step.operation})`,
        { kind: 'step', backend: step.backend, operation: step.operation },
        step.retry?.nonRetryableErrorTypes,
      );
    },

    async runCompensation(input: RunCompensationInput): Promise<CompensateStepResult> {
      const { audit, ...entry } = input;
      return transition(
        audit,
        () => deps.steps.compensateStep(entry),
        (out) => ({
          status: 'COMPENSATION_SUCCESS',
          payload: { outcome: out.outcome, ...(out.detail ? { detail: out.detail } : {}) },
        }),
        'COMPENSATION_FAIL',
        `rollback of step ${input.stepId} (${compensationName(audit)})`,
        { kind: 'compensation', backend: input.backend, operation: compensationName(audit) },
      );
    },

    // A local activity: audit errors stay retryable, so Temporal retries it until it succeeds.
    recordEvents: (events) => recordAll(events),
    recordEvent: (e) => recordOne(e),
  };
}

/** The effect and audit activities, from which the transition activities are built. */
export type BaseSagaActivities = Pick<SagaActivities, 'executeStep' | 'compensateStep' | 'recordEvent'>;

/**
 * Adds the transition activities (`runStep`, `runCompensation`, `recordEvents`) built over
 * `base`'s effect and audit activities, so that a wrapper of `executeStep` (fault injection)
 * also applies inside `runStep`.
 */
export function withTransitions(base: BaseSagaActivities, observer?: TransitionObserver): SagaActivities {
  const transitions = createTransitionActivities({
    steps: base,
    recordEvent: base.recordEvent,
    ...(observer ? { observer } : {}),
  });
  // recordEvent (the activity of sagas started before one-activity-per-step) goes through the
  // observer too, and keeps resolving to `{ inserted }` so that an outer withTransitions (over
  // wrapActivities) still recognises retries.
  return { executeStep: base.executeStep, compensateStep: base.compensateStep, ...transitions };
}
