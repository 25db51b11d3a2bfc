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
 * Deterministic: only @temporalio/workflow and pure src/saga code.
 */
import {
  type ActivityOptions,
  ActivityCancellationType,
  CancellationScope,
  allHandlersFinished,
  isCancellation,
  condition,
  getExternalWorkflowHandle,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import {
  AUDIT_UNAVAILABLE_BACKOFF,
  compensationActivityOptions,
  localOptions,
  RECORD_EVENT_OPTIONS,
  RECORD_EVENTS_LOCAL_OPTIONS,
  stepActivityOptions,
  type ActivityTuning,
} from '../saga/activity-options.js';
import type {
  CompensationEntry,
  CompensateStepResult,
  EventStatus,
  JsonObject,
  SagaActivities,
  SagaEventInput,
  SagaState,
  StepKind,
  TransitionAudit,
} from '../saga/contracts.js';
import { defaultIdempotencyKey, FailureTypes } from '../saga/contracts.js';
import type { NormalizedDefinition, NormalizedStep } from '../saga/definition.js';
import { describeError } from '../saga/errors.js';
import { lockWorkflowId } from '../saga/identity.js';
import { IdentityKeyKey, SagaNameKey, SagaStateKey, TraceIdKey } from '../saga/search-attributes.js';
import { sagaRolledBackFailure } from '../saga/outcome.js';
import { entryForStep, push, stepSuccessPayload, unwindPlan } from '../saga/stack.js';
import { canTransition, releasesIdentityLock } from '../saga/states.js';
import { abortRefusal, failedPhase, operatorRefusal } from '../saga/operator.js';
import type { ResolveInput, SagaResult, SagaStatus, SagaWorkflowInput } from '../saga/status.js';
import {
  abortSignal,
  abortUpdate,
  releaseLockSignal,
  resolveUpdate,
  retryCompensationUpdate,
  statusQuery,
} from './definitions.js';
import {
  AbortedError,
  auditRecorded,
  auditUnavailable,
  refused,
  ResolvedError,
  StepFailedError,
} from './engine-failures.js';
import {
  ABORT_CANCELS_STEP_PATCH,
  ONE_ACTIVITY_PER_STEP_PATCH,
  ROLLED_BACK_FAILS_WORKFLOW_PATCH,
} from './patches.js';
import {
  compensationName,
  nowIso,
  pendingPayload,
  stepStatusFromPlan,
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
  private readonly status: SagaStatus;
  private stack: CompensationEntry[] = [];
  private seq = 0;
  private pivotPassed = false;
  private abortReason: string | null = null;
  private abortRecorded = false;
  private retryRequested = false;
  private resolveRequested: ResolveInput | null = null;
  private operatorRounds = 0;
  /** The step whose activity runs now, in a scope an abort can cancel (null between steps). */
  private runningStep: { scope: CancellationScope; kind: StepKind } | null = null;
  /** Set when an abort cancelled the running step's activity. */
  private stepCancelledByAbort = false;
  /** Whether an abort cancels the running step ({@link ABORT_CANCELS_STEP_PATCH}). */
  private readonly abortCancelsStep: boolean;
  private readonly acts: SagaActivities;
  /** One activity per step (false: a saga started before that shape, replaying). */
  private readonly lean: boolean;
  /** Steps and compensations as local activities (`execution: "fast"`). */
  private readonly fast: boolean;
  /** Saga-level audit rows not written yet: the next activity (or a local one) writes them. */
  private queued: SagaEventInput[] = [];
  private readonly local = proxyLocalActivities<SagaActivities>(RECORD_EVENTS_LOCAL_OPTIONS);

  constructor(input: SagaWorkflowInput) {
    this.def = input.definition;
    this.tuning = input.tuning ?? {};
    this.undo = input.undo;
    this.origin = input.origin;
    this.acts = proxyActivities<SagaActivities>(RECORD_EVENT_OPTIONS);
    this.lean = patched(ONE_ACTIVITY_PER_STEP_PATCH);
    this.fast = this.lean && this.def.execution === 'fast';
    this.abortCancelsStep = this.lean && patched(ABORT_CANCELS_STEP_PATCH);
    const steps = input.undo?.steps ?? this.def.steps.map(stepStatusFromPlan);
    this.status = {
      sagaId: this.def.sagaId,
      name: this.def.name,
      state: input.undo ? 'COMMITTED' : 'PENDING',
      totalSteps: steps.length,
      completedSteps: input.undo ? steps.filter((s) => s.state === 'SUCCEEDED').length : 0,
      failedAt: null,
      error: null,
      steps,
      compensationStack: [],
      compensationMode: this.def.compensation.mode,
      traceId: this.def.traceId,
      identityKey: this.def.identityKey,
      abortRequested: false,
      failures: [],
      resolution: null,
    };
    if (input.undo) {
      this.stack = [...input.undo.stack];
      this.seq = input.undo.lastSeq;
    }
    this.registerHandlers();
  }

  /** A snapshot of the status (what `statusQuery` returns). */
  snapshot(): SagaStatus {
    return {
      ...this.status,
      steps: this.status.steps.map((s) => ({ ...s })),
      compensationStack: [...this.stack],
    };
  }

  private registerHandlers(): void {
    setHandler(statusQuery, () => this.snapshot());
    setHandler(abortSignal, (arg) => this.requestAbort(arg?.reason ?? 'abort requested'));
    setHandler(
      abortUpdate,
      (arg) => {
        this.requestAbort(arg?.reason ?? 'abort requested');
        return this.snapshot();
      },
      {
        validator: (_arg: { reason?: string }) => {
          const why = abortRefusal(this.def.sagaId, this.status.state, {
            running: true,
            failedPhase: failedPhase(this.status.failures),
          });
          if (why !== null) throw refused(this.status.state, why);
        },
      },
    );
    setHandler(
      retryCompensationUpdate,
      async () => {
        const target = this.operatorRounds + 1;
        this.retryRequested = true;
        await condition(() => this.operatorRounds >= target);
        return this.snapshot();
      },
      {
        validator: () => {
          const why = operatorRefusal(this.def.sagaId, 'retry', this.status.state, { running: true });
          if (why !== null) throw refused(this.status.state, why);
        },
      },
    );
    setHandler(
      resolveUpdate,
      async (input) => {
        this.resolveRequested = input;
        await condition(() => this.status.state === 'RESOLVED');
        return this.snapshot();
      },
      {
        validator: (input: ResolveInput) => {
          const why = operatorRefusal(this.def.sagaId, 'resolve', this.status.state, { running: true });
          if (why !== null) throw refused(this.status.state, why);
          const reason: unknown = (input as Partial<ResolveInput> | undefined)?.reason;
          if (typeof reason !== 'string' || reason.trim() === '') throw new Error('resolve needs a reason');
        },
      },
    );
  }

  private requestAbort(reason: string): void {
    if (this.abortReason !== null) return;
    if (this.status.state !== 'PENDING' && this.status.state !== 'EXECUTING') {
      this.log('warn', `abort ignored in state ${this.status.state}`);
      return;
    }
    this.abortReason = reason;
    this.status.abortRequested = true;
    this.log(
      'warn',
      `abort requested: ${reason}${this.pivotPassed ? ' (after the pivot: completing forward)' : ''}`,
    );
    this.cancelRunningStep();
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

  private log(
    level: 'debug' | 'info' | 'warn' | 'error',
    message: string,
    attrs: Record<string, unknown> = {},
  ): void {
    log[level](`[${this.def.sagaId}] ${message}`, {
      sagaId: this.def.sagaId,
      traceId: this.def.traceId,
      sagaName: this.def.name,
      ...attrs,
    });
  }

  private setState(to: SagaState): void {
    const from = this.status.state;
    if (from === to) return;
    if (!canTransition(from, to)) this.log('error', `unexpected transition ${from} → ${to}`);
    this.status.state = to;
    upsertSearchAttributes([{ key: SagaStateKey, value: to }]);
    this.refreshDetails();
  }

  /**
   * The workflow's current details in the Web UI (`setCurrentDetails`, served by the workflow
   * metadata query: not in the history, so replay-safe): the state and, for a FAILED saga, the
   * failed compensations (or step) with their causes and the commands that fit.
   */
  private refreshDetails(): void {
    const s = this.status;
    const lines = [`**${s.state}**: saga \`${s.name}\`, ${s.completedSteps}/${s.totalSteps} steps done`];
    if (s.state === 'FAILED') {
      const failedComps = s.steps.filter((st) => st.state === 'COMPENSATION_FAILED');
      if (failedComps.length > 0) {
        lines.push('', 'Failed compensations (the saga waits for an operator):');
        for (const st of failedComps) {
          const entry = this.stack.find((e) => e.stepId === st.id);
          const comp = entry ? compensationName(entry) : 'compensation';
          lines.push(
            `- step \`${st.id}\` (${st.backend}.${st.operation}), compensation \`${comp}\`: ${st.compensationError ?? 'failed'}`,
          );
        }
        if (s.error) lines.push('', `Saga error: ${s.error}`);
      } else {
        lines.push('', `Step \`${s.failedAt ?? '?'}\` failed after the pivot: ${s.error ?? 'failed'}`);
      }
      lines.push(
        '',
        `Next: \`polysaga retry ${s.sagaId}\` runs it again; \`polysaga resolve ${s.sagaId} --reason "…"\` closes it after a fix by hand.`,
      );
    } else if (s.error) {
      lines.push('', `Error: ${s.error}`);
    }
    setCurrentDetails(lines.join('\n'));
  }

  /** An audit row with the next seq. */
  private newEvent(
    status: EventStatus,
    stepId: string | null,
    extra: { payload?: JsonObject; error?: string | null; attempt?: number; durationMs?: number } = {},
    seq = ++this.seq,
  ): SagaEventInput {
    return {
      sagaId: this.def.sagaId,
      runId: workflowInfo().runId,
      seq,
      stepId,
      status,
      sagaName: this.def.name,
      traceId: this.def.traceId,
      ...extra,
    };
  }

  /**
   * Records a transition: queued for the next activity (one-activity-per-step shape), or its
   * own `recordEvent` activity (sagas started before that shape).
   */
  private async event(
    status: EventStatus,
    stepId: string | null,
    extra: { payload?: JsonObject; error?: string | null; attempt?: number; durationMs?: number } = {},
  ): Promise<void> {
    const e = this.newEvent(status, stepId, extra);
    if (this.lean) this.queued.push(e);
    else await this.acts.recordEvent(e);
  }

  /** Takes the queued saga-level rows (they ride with the activity about to run). */
  private takeQueued(): SagaEventInput[] {
    const q = this.queued;
    this.queued = [];
    return q;
  }

  /** Writes the queued rows through a local activity: before a wait or at the end. */
  private async flush(): Promise<void> {
    if (this.queued.length > 0) await this.local.recordEvents(this.takeQueued());
  }

  /**
   * Runs a step or compensation activity that writes its own rows. When the audit table is
   * unavailable it waits and runs the same activity again (same seqs and idempotency key); when
   * the activity failed without writing its outcome (a timeout, a crashed worker) the rows are
   * written here, through a local activity.
   */
  private async withAudit<T>(
    audit: TransitionAudit,
    failStatus: 'STEP_FAIL' | 'COMPENSATION_FAIL',
    call: () => Promise<T>,
  ): Promise<T> {
    let delay = this.tuning.retryInterval ? 10 : AUDIT_UNAVAILABLE_BACKOFF.initialMs;
    for (;;) {
      try {
        return await call();
      } catch (err) {
        if (auditUnavailable(err)) {
          this.log('warn', `audit table unavailable, running the activity again: ${describeError(err)}`);
          await sleep(delay);
          delay = Math.min(delay * 2, AUDIT_UNAVAILABLE_BACKOFF.maximumMs);
          continue;
        }
        if (!auditRecorded(err)) {
          const { payload: _payload, ...base } = audit.start;
          await this.local.recordEvents([
            ...audit.before,
            audit.start,
            { ...base, seq: audit.outcomeSeq, status: failStatus, error: this.describeFailure(err) },
          ]);
        }
        throw err;
      }
    }
  }

  /**
   * One transition's audit rows (the queued saga rows, `start`, the outcome's seq) and the
   * activities that run it with `options`: local activities in fast mode.
   */
  private transition(
    start: SagaEventInput,
    outcomeSeq: number,
    options: ActivityOptions,
  ): { audit: TransitionAudit; acts: SagaActivities } {
    const audit: TransitionAudit = {
      before: this.takeQueued(),
      start,
      outcomeSeq,
      ...(options.retry?.maximumAttempts !== undefined
        ? { maximumAttempts: options.retry.maximumAttempts }
        : {}),
    };
    const acts = this.fast
      ? proxyLocalActivities<SagaActivities>(localOptions(options))
      : proxyActivities<SagaActivities>(options);
    return { audit, acts };
  }

  /** The error text of a failed step or compensation (a step cancelled by an abort says so). */
  private describeFailure(err: unknown): string {
    if (this.stepCancelledByAbort && isCancellation(err))
      return `${FailureTypes.Aborted}: step cancelled by abort (${this.abortReason ?? 'abort requested'}); no attempt of it succeeded`;
    return describeError(err);
  }

  /** The step's activity: write-ahead row, effect, outcome row (one-activity-per-step shape). */
  private async runStepActivity(step: NormalizedStep, round: number): Promise<JsonObject> {
    const { audit, acts } = this.transition(
      this.newEvent('STEP_PENDING', step.id, {
        payload: { ...pendingPayload(step), ...(round > 1 ? { round } : {}) },
      }),
      ++this.seq,
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
    const { result } = await this.withAudit(audit, 'STEP_FAIL', () =>
      this.cancellable(step.kind, () => acts.runStep(input)),
    );
    return result;
  }

  /** Records the abort once, at a step boundary (so that events stay paired). */
  private async recordAbortIfNew(): Promise<void> {
    if (this.abortReason === null || this.abortRecorded) return;
    this.abortRecorded = true;
    await this.event('SAGA_ABORTED', null, {
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
    let st = this.status.steps.find((s) => s.id === step.id);
    if (!st) {
      st = stepStatusFromPlan(step);
      this.status.steps.push(st);
      this.status.totalSteps = this.status.steps.length;
    }
    let retried = false;
    for (;;) {
      if (this.status.state === 'FAILED') this.setState('EXECUTING');
      st.state = 'EXECUTING';
      st.attempts += 1;
      st.startedAt = nowIso();
      st.finishedAt = null;
      st.error = null;
      const started = Date.parse(st.startedAt);
      if (!this.lean)
        await this.event('STEP_PENDING', step.id, { payload: pendingPayload(step), attempt: st.attempts });
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
          await this.event('STEP_SUCCESS', step.id, {
            payload: stepSuccessPayload(entry ?? null, { result }),
            attempt: st.attempts,
            durationMs: Date.parse(st.finishedAt) - started,
          });
        if (retried) this.operatorRounds += 1;
        return result;
      } catch (err) {
        const message = this.describeFailure(err);
        st.state = 'FAILED';
        st.finishedAt = nowIso();
        st.error = message;
        if (this.stepCancelledByAbort) {
          // The abort cancelled this step (between attempts, or its running attempt failed and was
          // not retried): nothing of it to undo; unwind the rest as an abort.
          this.log('warn', `step ${step.id} cancelled by abort: ${message}`, { stepId: step.id });
          await this.recordAbortIfNew();
          throw new AbortedError(this.abortReason ?? 'abort requested');
        }
        this.status.failures.push({ stepId: step.id, phase: 'step', error: message });
        if (!this.lean)
          await this.event('STEP_FAIL', step.id, {
            error: message,
            attempt: st.attempts,
            durationMs: Date.parse(st.finishedAt) - started,
          });
        this.log('error', `✗ step ${step.id} failed: ${message}`, { stepId: step.id });
        if (!this.pivotPassed) throw new StepFailedError(step.id, message);
        // After the pivot nothing can be undone: the saga needs a person.
        this.status.failedAt = step.id;
        this.status.error = message;
        await this.event('SAGA_FAILED', null, {
          error: message,
          payload: { phase: 'forward', stepId: step.id },
        });
        this.setState('FAILED');
        if (retried) this.operatorRounds += 1;
        const decision = await this.awaitOperator();
        if (decision === 'resolve') throw new ResolvedError('resolved by operator');
        // retry: SAGA_RETRIED was recorded; loop runs the step again.
        retried = true;
      }
    }
  }

  /** Waits in FAILED for an operator; records SAGA_RETRIED or SAGA_RESOLVED. */
  private async awaitOperator(): Promise<'retry' | 'resolve'> {
    this.log('error', `saga FAILED, waiting for an operator (retryCompensation or resolve)`);
    await this.flush();
    await condition(() => this.retryRequested || this.resolveRequested !== null);
    if (this.resolveRequested !== null) {
      const r = this.resolveRequested;
      this.status.resolution = { reason: r.reason, by: r.by ?? null };
      await this.event('SAGA_RESOLVED', null, { payload: { reason: r.reason, by: r.by ?? null } });
      this.setState('RESOLVED');
      this.retryRequested = false;
      this.operatorRounds += 1;
      this.log('info', `saga resolved by operator: ${r.reason}`);
      return 'resolve';
    }
    this.retryRequested = false;
    await this.event('SAGA_RETRIED', null, { payload: { pending: this.stack.map((e) => e.stepId) } });
    this.log('info', 'operator retry');
    return 'retry';
  }

  /**
   * The seqs of a batch of compensations that run together: every start row before the first
   * outcome row, as they happen.
   */
  private allocateSeqs(n: number): TransitionSeqs[] {
    const starts = Array.from({ length: n }, () => ++this.seq);
    return starts.map((start) => ({ start, outcome: ++this.seq }));
  }

  /** Runs one compensation; never throws. Returns whether it succeeded. */
  private async compensateOne(entry: CompensationEntry, seqs?: TransitionSeqs): Promise<boolean> {
    const st = this.status.steps.find((s) => s.id === entry.stepId);
    if (st) st.state = 'COMPENSATING';
    const name = compensationName(entry);
    if (!this.lean)
      await this.event('COMPENSATION_STARTED', entry.stepId, { payload: { compensation: name } });
    try {
      const input = {
        ...entry,
        sagaId: this.def.sagaId,
        sagaName: this.def.name,
        traceId: this.def.traceId,
      };
      const out = this.lean
        ? await this.runCompensationActivity(input, name, seqs ?? this.allocateSeqs(1)[0]!)
        : await proxyActivities<SagaActivities>(compensationActivityOptions(this.tuning)).compensateStep(
            input,
          );
      this.stack = this.stack.filter((e) => e.stepId !== entry.stepId);
      if (st) {
        st.state = 'COMPENSATED';
        st.compensationError = null;
      }
      if (!this.lean)
        await this.event('COMPENSATION_SUCCESS', entry.stepId, {
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
      if (!this.lean) await this.event('COMPENSATION_FAIL', entry.stepId, { error: message });
      this.log('error', `✗ rollback of step ${entry.stepId} failed: ${message}`, { stepId: entry.stepId });
      return false;
    }
  }

  /** The compensation's activity: write-ahead row, undo, outcome row (one-activity-per-step shape). */
  private async runCompensationActivity(
    input: CompensationEntry & { sagaId: string; sagaName: string; traceId: string },
    name: string,
    seqs: TransitionSeqs,
  ): Promise<CompensateStepResult> {
    const { audit, acts } = this.transition(
      this.newEvent('COMPENSATION_STARTED', input.stepId, { payload: { compensation: name } }, seqs.start),
      seqs.outcome,
      { ...compensationActivityOptions(this.tuning), summary: `undo ${input.stepId}: ${name}` },
    );
    return this.withAudit(audit, 'COMPENSATION_FAIL', () => acts.runCompensation({ ...input, audit }));
  }

  /** Unwinds the whole stack (a failing compensation does not stop the others). */
  private async unwind(): Promise<boolean> {
    this.setState('COMPENSATING');
    let ok = true;
    for (const batch of unwindPlan(this.stack, this.def.compensation.mode)) {
      const seqs = this.lean ? this.allocateSeqs(batch.length) : [];
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
        await this.event('SAGA_ROLLED_BACK', null, { payload: { failedAt: this.status.failedAt } });
        this.setState('ROLLED_BACK');
        this.operatorRounds += 1;
        this.log('warn', 'saga rolled back');
        return;
      }
      const failed = this.stack.map((e) => e.stepId);
      this.status.error = `compensation failed for: ${failed.join(', ')}${cause ? ` (after: ${cause})` : ''}`;
      await this.event('SAGA_FAILED', null, {
        error: this.status.error,
        payload: { phase: 'compensation', pending: failed },
      });
      this.setState('FAILED');
      this.operatorRounds += 1;
      const decision = await this.awaitOperator();
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
    CancellationScope.current().cancelRequested.catch(() => this.requestAbort('workflow cancelled'));
    await CancellationScope.nonCancellable(async () => {
      // One upsert for the start: a new saga is EXECUTING from its first workflow task.
      if (this.lean && !this.undo) this.status.state = 'EXECUTING';
      upsertSearchAttributes([
        { key: SagaNameKey, value: this.def.name },
        { key: TraceIdKey, value: this.def.traceId },
        ...(this.def.identityKey !== null ? [{ key: IdentityKeyKey, value: this.def.identityKey }] : []),
        { key: SagaStateKey, value: this.status.state },
      ]);
      if (this.undo) {
        this.log('warn', `undoing committed saga (run ${this.undo.previousRunId})`);
        await this.unwindToEnd();
      } else {
        await this.forward(body);
      }
      await this.flush();
      if (releasesIdentityLock(this.status.state)) await this.releaseLock();
      await condition(allHandlersFinished);
    });
    const result: SagaResult = { status: this.snapshot(), definition: this.def, lastSeq: this.seq };
    // Only rolled-back sagas check the patch (a marker in their history, none in the others').
    if (this.status.state === 'ROLLED_BACK' && patched(ROLLED_BACK_FAILS_WORKFLOW_PATCH))
      throw sagaRolledBackFailure(result);
    return result;
  }

  private async forward(body: (saga: SagaEngine) => Promise<void>): Promise<void> {
    await this.event('SAGA_STARTED', null, {
      payload: {
        name: this.def.name,
        totalSteps: this.status.totalSteps,
        identityKey: this.def.identityKey,
        compensationMode: this.def.compensation.mode,
        ...(this.origin !== undefined ? { origin: this.origin } : {}),
      },
    });
    this.setState('EXECUTING');
    this.log('info', `saga started with ${this.status.totalSteps} steps`);
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
      await this.event('SAGA_COMMITTED', null, { payload: { completedSteps: this.status.completedSteps } });
      this.setState('COMMITTED');
      this.log('info', `✓ saga committed successfully with ${this.status.completedSteps} steps`);
      return;
    }
    this.status.failedAt = failure.stepId;
    this.status.error = failure.message;
    this.log(failure.stepId ? 'error' : 'warn', `saga unwinding: ${failure.message}`);
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
      this.log('warn', `identity lock ${this.def.identityKey} not released: ${describeError(err)}`);
    }
  }
}
