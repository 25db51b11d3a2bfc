/**
 * The saga engine shared by the generic workflow and typed sagas: each step runs an action
 * and pushes its rollback, and a failure runs the rollbacks newest first.
 *
 * - {@link SagaEngine.step} runs one forward operation through the `executeStep` activity
 *   (write-ahead STEP_PENDING event first) and pushes its compensation onto the stack as data.
 * - {@link SagaEngine.run} runs a saga body; on a step failure, an abort or a cancellation
 *   before the pivot it unwinds the stack (sequential newest-first, or parallel) in a
 *   non-cancellable scope; a compensation that still fails after its retries leaves the saga
 *   FAILED, waiting for an operator (`retryCompensationUpdate`, `resolveUpdate`).
 *
 * The status bookkeeping is in `engine-status.ts`, the operator handlers in `engine-operator.ts`
 * and the audit rows in `engine-audit.ts`; this module keeps the steps, the unwind and the run.
 *
 * Deterministic: only @temporalio/workflow and pure src/saga code.
 */
import {
  ActivityCancellationType,
  CancellationScope,
  allHandlersFinished,
  isCancellation,
  condition,
  getExternalWorkflowHandle,
  patched,
  proxyActivities,
} from '@temporalio/workflow';
import {
  compensationActivityOptions,
  stepActivityOptions,
  type ActivityTuning,
} from '../saga/activity-options.js';
import type {
  CompensationEntry,
  CompensateStepResult,
  JsonObject,
  SagaActivities,
  StepKind,
} from '../saga/contracts.js';
import { defaultIdempotencyKey, FailureTypes } from '../saga/contracts.js';
import type { NormalizedDefinition, NormalizedStep } from '../saga/definition.js';
import { describeError } from '../saga/errors.js';
import { lockWorkflowId } from '../saga/identity.js';
import { sagaRolledBackFailure } from '../saga/outcome.js';
import { entryForStep, push, stepSuccessPayload, unwindPlan } from '../saga/stack.js';
import { releasesIdentityLock } from '../saga/states.js';
import type { SagaResult, SagaStatus, SagaWorkflowInput } from '../saga/status.js';
import { releaseLockSignal } from './definitions.js';
import { EngineAudit } from './engine-audit.js';
import { AbortedError, ResolvedError, StepFailedError } from './engine-failures.js';
import { EngineOperator } from './engine-operator.js';
import { EngineStatus } from './engine-status.js';
import {
  ABORT_CANCELS_STEP_PATCH,
  ONE_ACTIVITY_PER_STEP_PATCH,
  ROLLED_BACK_FAILS_WORKFLOW_PATCH,
} from './patches.js';
import {
  compensationName,
  nowIso,
  pendingPayload,
  stepSummary,
  type StepSpec,
  type TransitionSeqs,
} from './steps.js';

export type { StepPlan, StepSpec } from './steps.js';
export {
  ABORT_CANCELS_STEP_PATCH,
  ONE_ACTIVITY_PER_STEP_PATCH,
  ROLLED_BACK_FAILS_WORKFLOW_PATCH,
} from './patches.js';

/**
 * One saga run. Create it at the top of a workflow function (it registers the query, signal
 * and update handlers), then `return engine.run(async (saga) => { await saga.step(...) })`.
 */
export class SagaEngine {
  private readonly def: NormalizedDefinition;
  private readonly tuning: ActivityTuning;
  private readonly undo: SagaWorkflowInput['undo'];
  private readonly origin: string | undefined;
  /** The status bookkeeping: status row, state, search attributes, details, log. */
  private readonly book: EngineStatus;
  /** The live status row (the same object as `book.status`). */
  private readonly status: SagaStatus;
  /** The audit rows: seqs, queued saga rows, transition activities. */
  private readonly audit: EngineAudit;
  /** The operator requests (abort, retry, resolve) and their handlers. */
  private readonly operator: EngineOperator;
  private stack: CompensationEntry[] = [];
  private pivotPassed = false;
  private abortRecorded = false;
  /** The step whose activity runs now, in a scope an abort can cancel (null between steps). */
  private runningStep: { scope: CancellationScope; kind: StepKind } | null = null;
  /** Set when an abort cancelled the running step's activity. */
  private stepCancelledByAbort = false;
  /** Whether an abort cancels the running step ({@link ABORT_CANCELS_STEP_PATCH}). */
  private readonly abortCancelsStep: boolean;
  /** One activity per step (false: a saga started before that shape, replaying). */
  private readonly lean: boolean;
  /** Steps and compensations as local activities (`execution: "fast"`). */
  private readonly fast: boolean;

  constructor(input: SagaWorkflowInput) {
    this.def = input.definition;
    this.tuning = input.tuning ?? {};
    this.undo = input.undo;
    this.origin = input.origin;
    this.lean = patched(ONE_ACTIVITY_PER_STEP_PATCH);
    this.fast = this.lean && this.def.execution === 'fast';
    this.abortCancelsStep = this.lean && patched(ABORT_CANCELS_STEP_PATCH);
    this.book = new EngineStatus(this.def, input.undo, () => this.stack);
    this.status = this.book.status;
    if (input.undo) this.stack = [...input.undo.stack];
    this.audit = new EngineAudit({
      def: this.def,
      tuning: this.tuning,
      lean: this.lean,
      fast: this.fast,
      lastSeq: input.undo?.lastSeq ?? 0,
      book: this.book,
      describeFailure: (err) => this.describeFailure(err),
    });
    this.operator = new EngineOperator({
      book: this.book,
      audit: this.audit,
      pivotPassed: () => this.pivotPassed,
      cancelRunningStep: () => this.cancelRunningStep(),
      pendingSteps: () => this.stack.map((e) => e.stepId),
    });
    this.operator.register();
  }

  /** A snapshot of the status (what `statusQuery` returns). */
  snapshot(): SagaStatus {
    return this.book.snapshot();
  }

  /** The reason of the abort requested (null: none). */
  private get abortReason(): string | null {
    return this.operator.abortReason;
  }

  /**
   * Cancels the activity of the step that runs now when the abort will unwind (a compensatable
   * step before the pivot). The activity is cancelled with WAIT_CANCELLATION_COMPLETED: Temporal
   * cancels it at once while it waits between retries; an attempt that is running finishes
   * first (the step activities do not heartbeat) and is not retried. So the step's outcome is
   * always known: it failed (not undone, like any failed step) or it succeeded (on the stack,
   * undone with the others).
   */
  private cancelRunningStep(): void {
    const running = this.runningStep;
    if (running === null || this.pivotPassed || running.kind !== 'compensatable') return;
    this.stepCancelledByAbort = true;
    running.scope.cancel();
  }

  /** Runs a step's activity in a scope that {@link cancelRunningStep} can cancel. */
  private async cancellable<T>(kind: StepKind, call: () => Promise<T>): Promise<T> {
    if (!this.abortCancelsStep) return call();
    const scope = new CancellationScope();
    this.runningStep = { scope, kind };
    try {
      return await scope.run(call);
    } finally {
      this.runningStep = null;
    }
  }

  /** The error text of a failed step or compensation (a step cancelled by an abort says so). */
  private describeFailure(err: unknown): string {
    if (this.stepCancelledByAbort && isCancellation(err))
      return `${FailureTypes.Aborted}: step cancelled by abort (${this.abortReason ?? 'abort requested'}); no attempt of it succeeded`;
    return describeError(err);
  }

  /** The step's activity: write-ahead row, effect, outcome row (one-activity-per-step shape). */
  private async runStepActivity(step: NormalizedStep, round: number): Promise<JsonObject> {
    const { audit, acts } = this.audit.transition(
      this.audit.newEvent('STEP_PENDING', step.id, {
        payload: { ...pendingPayload(step), ...(round > 1 ? { round } : {}) },
      }),
      this.audit.nextSeq(),
      // An abort may cancel the step (cancelRunningStep): wait for Temporal to confirm it, so that
      // an attempt that is running is never left behind.
      {
        ...stepActivityOptions(step, this.tuning),
        cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        // The Web UI's timeline line (user metadata, not compared on replay).
        summary: stepSummary(step),
      },
    );
    const input = {
      sagaId: this.def.sagaId,
      sagaName: this.def.name,
      traceId: this.def.traceId,
      step,
      audit,
    };
    const { result } = await this.audit.withAudit(audit, 'STEP_FAIL', () =>
      this.cancellable(step.kind, () => acts.runStep(input)),
    );
    return result;
  }

  /** Records the abort once, at a step boundary (so that events stay paired). */
  private async recordAbortIfNew(): Promise<void> {
    if (this.abortReason === null || this.abortRecorded) return;
    this.abortRecorded = true;
    await this.audit.event('SAGA_ABORTED', null, {
      payload: {
        reason: this.abortReason,
        effect: this.pivotPassed ? 'completing forward (after the pivot)' : 'compensating (before the pivot)',
      },
    });
  }

  /**
   * Runs one step: the action is the backend operation, the rollback its compensation.
   * Records STEP_PENDING before the activity starts (write-ahead), then STEP_SUCCESS or
   * STEP_FAIL. On success the compensation is pushed onto the stack (with the step's result).
   *
   * @returns the operation's result (e.g. generated ids), for later steps of a typed saga.
   * @throws (inside the body only) when the step failed before the pivot or an abort took
   *   effect; {@link run} catches it and unwinds. A step after the pivot that fails leaves the
   *   saga FAILED and waits here for an operator.
   */
  async step(spec: StepSpec): Promise<JsonObject> {
    const step: NormalizedStep = {
      id: spec.id,
      backend: spec.backend,
      operation: spec.operation,
      payload: spec.payload,
      compensation: spec.compensation,
      idempotencyKey: spec.idempotencyKey ?? defaultIdempotencyKey(this.def.sagaId, spec.id),
      kind: spec.kind ?? 'compensatable',
      ...(spec.retry ? { retry: spec.retry } : {}),
      ...(spec.timeout ? { timeout: spec.timeout } : {}),
    };
    if (this.abortReason !== null) {
      await this.recordAbortIfNew();
      if (!this.pivotPassed) throw new AbortedError(this.abortReason);
    }
    const st = this.book.stepRow(step);
    let retried = false;
    for (;;) {
      if (this.status.state === 'FAILED') this.book.setState('EXECUTING');
      st.state = 'EXECUTING';
      st.attempts += 1;
      st.startedAt = nowIso();
      st.finishedAt = null;
      st.error = null;
      const started = Date.parse(st.startedAt);
      if (!this.lean)
        await this.audit.event('STEP_PENDING', step.id, {
          payload: pendingPayload(step),
          attempt: st.attempts,
        });
      // Per-step progress lines come from the step activity (a log line from workflow code costs
      // a sink call per line, measured at ~2.5 ms of worker CPU); the workflow logs failures.
      try {
        const result = this.lean
          ? await this.runStepActivity(step, st.attempts)
          : (
              await proxyActivities<SagaActivities>(stepActivityOptions(step, this.tuning)).executeStep({
                sagaId: this.def.sagaId,
                sagaName: this.def.name,
                traceId: this.def.traceId,
                stepId: step.id,
                backend: step.backend,
                operation: step.operation,
                payload: step.payload,
                idempotencyKey: step.idempotencyKey,
              })
            ).result;
        st.state = 'SUCCEEDED';
        st.finishedAt = nowIso();
        st.result = result;
        this.status.completedSteps += 1;
        const entry = entryForStep(step, result);
        if (entry) this.stack = push(this.stack, entry);
        if (step.kind !== 'compensatable') this.pivotPassed = true;
        // The stack entry goes into the audit row so `polysaga recover` can rebuild the stack
        // from SQL alone when the workflow is gone (docs/audit.md). The step activity wrote it
        // itself in the one-activity-per-step shape.
        if (!this.lean)
          await this.audit.event('STEP_SUCCESS', step.id, {
            payload: stepSuccessPayload(entry ?? null, { result }),
            attempt: st.attempts,
            durationMs: Date.parse(st.finishedAt) - started,
          });
        if (retried) this.operator.rounds += 1;
        return result;
      } catch (err) {
        const message = this.describeFailure(err);
        st.state = 'FAILED';
        st.finishedAt = nowIso();
        st.error = message;
        if (this.stepCancelledByAbort) {
          // The abort cancelled this step (between attempts, or its running attempt failed and was
          // not retried): nothing of it to undo; unwind the rest as an abort.
          this.book.log('warn', `step ${step.id} cancelled by abort: ${message}`, { stepId: step.id });
          await this.recordAbortIfNew();
          throw new AbortedError(this.abortReason ?? 'abort requested');
        }
        this.status.failures.push({ stepId: step.id, phase: 'step', error: message });
        if (!this.lean)
          await this.audit.event('STEP_FAIL', step.id, {
            error: message,
            attempt: st.attempts,
            durationMs: Date.parse(st.finishedAt) - started,
          });
        this.book.log('error', `✗ step ${step.id} failed: ${message}`, { stepId: step.id });
        if (!this.pivotPassed) throw new StepFailedError(step.id, message);
        // After the pivot nothing can be undone: the saga needs a person.
        this.status.failedAt = step.id;
        this.status.error = message;
        await this.audit.event('SAGA_FAILED', null, {
          error: message,
          payload: { phase: 'forward', stepId: step.id },
        });
        this.book.setState('FAILED');
        if (retried) this.operator.rounds += 1;
        const decision = await this.operator.awaitOperator();
        if (decision === 'resolve') throw new ResolvedError('resolved by operator');
        // retry: SAGA_RETRIED was recorded; loop runs the step again.
        retried = true;
      }
    }
  }

  /** Runs one compensation; never throws. Returns whether it succeeded. */
  private async compensateOne(entry: CompensationEntry, seqs?: TransitionSeqs): Promise<boolean> {
    const st = this.status.steps.find((s) => s.id === entry.stepId);
    if (st) st.state = 'COMPENSATING';
    const name = compensationName(entry);
    if (!this.lean)
      await this.audit.event('COMPENSATION_STARTED', entry.stepId, { payload: { compensation: name } });
    try {
      const input = {
        ...entry,
        sagaId: this.def.sagaId,
        sagaName: this.def.name,
        traceId: this.def.traceId,
      };
      const out = this.lean
        ? await this.runCompensationActivity(input, name, seqs ?? this.audit.allocateSeqs(1)[0]!)
        : await proxyActivities<SagaActivities>(compensationActivityOptions(this.tuning)).compensateStep(
            input,
          );
      this.stack = this.stack.filter((e) => e.stepId !== entry.stepId);
      if (st) {
        st.state = 'COMPENSATED';
        st.compensationError = null;
      }
      if (!this.lean)
        await this.audit.event('COMPENSATION_SUCCESS', entry.stepId, {
          payload: { outcome: out.outcome, ...(out.detail ? { detail: out.detail } : {}) },
        });
      return true;
    } catch (err) {
      const message = describeError(err);
      if (st) {
        st.state = 'COMPENSATION_FAILED';
        st.compensationError = message;
      }
      this.status.failures.push({ stepId: entry.stepId, phase: 'compensation', error: message });
      if (!this.lean) await this.audit.event('COMPENSATION_FAIL', entry.stepId, { error: message });
      this.book.log('error', `✗ rollback of step ${entry.stepId} failed: ${message}`, {
        stepId: entry.stepId,
      });
      return false;
    }
  }

  /** The compensation's activity: write-ahead row, undo, outcome row (one-activity-per-step shape). */
  private async runCompensationActivity(
    input: CompensationEntry & { sagaId: string; sagaName: string; traceId: string },
    name: string,
    seqs: TransitionSeqs,
  ): Promise<CompensateStepResult> {
    const { audit, acts } = this.audit.transition(
      this.audit.newEvent(
        'COMPENSATION_STARTED',
        input.stepId,
        { payload: { compensation: name } },
        seqs.start,
      ),
      seqs.outcome,
      { ...compensationActivityOptions(this.tuning), summary: `undo ${input.stepId}: ${name}` },
    );
    return this.audit.withAudit(audit, 'COMPENSATION_FAIL', () => acts.runCompensation({ ...input, audit }));
  }

  /** Unwinds the whole stack (a failing compensation does not stop the others). */
  private async unwind(): Promise<boolean> {
    this.book.setState('COMPENSATING');
    let ok = true;
    for (const batch of unwindPlan(this.stack, this.def.compensation.mode)) {
      const seqs = this.lean ? this.audit.allocateSeqs(batch.length) : [];
      const results = await Promise.all(batch.map((e, i) => this.compensateOne(e, seqs[i])));
      if (results.includes(false)) ok = false;
    }
    return ok;
  }

  /** Unwinds, then loops through FAILED / operator retry until ROLLED_BACK or RESOLVED. */
  private async unwindToEnd(): Promise<void> {
    // The cause of the unwind, kept as it was: a retried round that fails again replaces the
    // "compensation failed for" text instead of wrapping the previous one.
    const cause = this.status.error;
    let ok = await this.unwind();
    for (;;) {
      if (ok) {
        await this.audit.event('SAGA_ROLLED_BACK', null, { payload: { failedAt: this.status.failedAt } });
        this.book.setState('ROLLED_BACK');
        this.operator.rounds += 1;
        this.book.log('warn', 'saga rolled back');
        return;
      }
      const failed = this.stack.map((e) => e.stepId);
      this.status.error = `compensation failed for: ${failed.join(', ')}${cause ? ` (after: ${cause})` : ''}`;
      await this.audit.event('SAGA_FAILED', null, {
        error: this.status.error,
        payload: { phase: 'compensation', pending: failed },
      });
      this.book.setState('FAILED');
      this.operator.rounds += 1;
      const decision = await this.operator.awaitOperator();
      if (decision === 'resolve') return;
      ok = await this.unwind();
    }
  }

  /**
   * Runs the saga body and everything around it: SAGA_STARTED, the unwind on failure/abort/
   * cancellation, FAILED and the operator, the terminal event, search attributes and the
   * identity lock. Cancellation of the workflow is treated as an abort.
   */
  async run(body: (saga: SagaEngine) => Promise<void>): Promise<SagaResult> {
    // Cancellation = abort: the rest runs non-cancellable so that compensations always finish.
    CancellationScope.current().cancelRequested.catch(() => this.operator.requestAbort('workflow cancelled'));
    await CancellationScope.nonCancellable(async () => {
      // One upsert for the start: a new saga is EXECUTING from its first workflow task.
      if (this.lean && !this.undo) this.status.state = 'EXECUTING';
      this.book.publishStart();
      if (this.undo) {
        this.book.log('warn', `undoing committed saga (run ${this.undo.previousRunId})`);
        await this.unwindToEnd();
      } else {
        await this.forward(body);
      }
      await this.audit.flush();
      if (releasesIdentityLock(this.status.state)) await this.releaseLock();
      await condition(allHandlersFinished);
    });
    const result: SagaResult = { status: this.snapshot(), definition: this.def, lastSeq: this.audit.seq };
    // Only rolled-back sagas check the patch (a marker in their history, none in the others').
    if (this.status.state === 'ROLLED_BACK' && patched(ROLLED_BACK_FAILS_WORKFLOW_PATCH))
      throw sagaRolledBackFailure(result);
    return result;
  }

  private async forward(body: (saga: SagaEngine) => Promise<void>): Promise<void> {
    await this.audit.event('SAGA_STARTED', null, {
      payload: {
        name: this.def.name,
        totalSteps: this.status.totalSteps,
        identityKey: this.def.identityKey,
        compensationMode: this.def.compensation.mode,
        ...(this.origin !== undefined ? { origin: this.origin } : {}),
      },
    });
    this.book.setState('EXECUTING');
    this.book.log('info', `saga started with ${this.status.totalSteps} steps`);
    let failure: { stepId: string | null; message: string } | null = null;
    try {
      await body(this);
      if (this.abortReason !== null) {
        await this.recordAbortIfNew();
        if (!this.pivotPassed) throw new AbortedError(this.abortReason);
      }
    } catch (err) {
      if (err instanceof ResolvedError) return;
      if (err instanceof StepFailedError) failure = { stepId: err.stepId, message: err.message };
      else if (err instanceof AbortedError)
        failure = { stepId: null, message: `${FailureTypes.Aborted}: ${err.message}` };
      else failure = { stepId: null, message: `saga body failed: ${describeError(err)}` };
    }
    if (failure === null) {
      await this.audit.event('SAGA_COMMITTED', null, {
        payload: { completedSteps: this.status.completedSteps },
      });
      this.book.setState('COMMITTED');
      this.book.log('info', `✓ saga committed successfully with ${this.status.completedSteps} steps`);
      return;
    }
    this.status.failedAt = failure.stepId;
    this.status.error = failure.message;
    this.book.log(failure.stepId ? 'error' : 'warn', `saga unwinding: ${failure.message}`);
    await this.unwindToEnd();
  }

  private async releaseLock(): Promise<void> {
    if (this.def.identityKey === null) return;
    try {
      await getExternalWorkflowHandle(lockWorkflowId(this.def.identityKey)).signal(releaseLockSignal, {
        sagaId: this.def.sagaId,
        reason: this.status.state,
      });
    } catch (err) {
      // No lock workflow (saga started without the client) or already released.
      this.book.log('warn', `identity lock ${this.def.identityKey} not released: ${describeError(err)}`);
    }
  }
}
