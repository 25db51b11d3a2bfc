/**
 * The saga's audit rows as the engine writes them: the seq counter, saga-level rows queued for
 * the next activity, the local activity that flushes them, and the activities of a transition
 * (step or compensation) that write their own write-ahead and outcome rows. Deterministic
 * workflow code.
 */
import {
  type ActivityOptions,
  proxyActivities,
  proxyLocalActivities,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import {
  AUDIT_UNAVAILABLE_BACKOFF,
  localOptions,
  RECORD_EVENT_OPTIONS,
  RECORD_EVENTS_LOCAL_OPTIONS,
  type ActivityTuning,
} from '../saga/activity-options.js';
import type {
  EventStatus,
  JsonObject,
  SagaActivities,
  SagaEventInput,
  TransitionAudit,
} from '../saga/contracts.js';
import type { NormalizedDefinition } from '../saga/definition.js';
import { describeError } from '../saga/errors.js';
import { auditRecorded, auditUnavailable } from './engine-failures.js';
import type { EngineStatus } from './engine-status.js';
import type { TransitionSeqs } from './steps.js';

/** The optional fields of an audit row. */
export interface EventExtra {
  payload?: JsonObject;
  error?: string | null;
  attempt?: number;
  durationMs?: number;
}

/** What {@link EngineAudit} needs of the saga run. */
export interface EngineAuditOptions {
  def: NormalizedDefinition;
  tuning: ActivityTuning;
  /** One activity per step: saga-level rows are queued (false: each has its own `recordEvent`). */
  lean: boolean;
  /** Steps and compensations as local activities (`execution: "fast"`). */
  fast: boolean;
  /** The last seq already used (an undo run continues the committed run's seqs). */
  lastSeq: number;
  book: EngineStatus;
  /** The error text of a failed step or compensation. */
  describeFailure: (err: unknown) => string;
}

/** The audit plumbing of one saga run. */
export class EngineAudit {
  /** The last seq used. */
  seq: number;
  /** Saga-level audit rows not written yet: the next activity (or a local one) writes them. */
  private queued: SagaEventInput[] = [];
  private readonly acts: SagaActivities;
  private readonly local = proxyLocalActivities<SagaActivities>(RECORD_EVENTS_LOCAL_OPTIONS);

  constructor(private readonly o: EngineAuditOptions) {
    this.seq = o.lastSeq;
    this.acts = proxyActivities<SagaActivities>(RECORD_EVENT_OPTIONS);
  }

  /** The next seq. */
  nextSeq(): number {
    return ++this.seq;
  }

  /**
   * The seqs of a batch of compensations that run together: every start row before the first
   * outcome row, as they happen.
   */
  allocateSeqs(n: number): TransitionSeqs[] {
    const starts = Array.from({ length: n }, () => ++this.seq);
    return starts.map((start) => ({ start, outcome: ++this.seq }));
  }

  /** An audit row with the next seq. */
  newEvent(
    status: EventStatus,
    stepId: string | null,
    extra: EventExtra = {},
    seq = ++this.seq,
  ): SagaEventInput {
    return {
      sagaId: this.o.def.sagaId,
      runId: workflowInfo().runId,
      seq,
      stepId,
      status,
      sagaName: this.o.def.name,
      traceId: this.o.def.traceId,
      ...extra,
    };
  }

  /**
   * Records a transition: queued for the next activity (one-activity-per-step shape), or its
   * own `recordEvent` activity (sagas started before that shape).
   */
  async event(status: EventStatus, stepId: string | null, extra: EventExtra = {}): Promise<void> {
    const e = this.newEvent(status, stepId, extra);
    if (this.o.lean) this.queued.push(e);
    else await this.acts.recordEvent(e);
  }

  /** Writes the queued rows through a local activity: before a wait or at the end. */
  async flush(): Promise<void> {
    if (this.queued.length > 0) await this.local.recordEvents(this.takeQueued());
  }

  /**
   * Runs a step or compensation activity that writes its own rows. When the audit table is
   * unavailable it waits and runs the same activity again (same seqs and idempotency key); when
   * the activity failed without writing its outcome (a timeout, a crashed worker) the rows are
   * written here, through a local activity.
   */
  async withAudit<T>(
    audit: TransitionAudit,
    failStatus: 'STEP_FAIL' | 'COMPENSATION_FAIL',
    call: () => Promise<T>,
  ): Promise<T> {
    let delay = this.o.tuning.retryInterval ? 10 : AUDIT_UNAVAILABLE_BACKOFF.initialMs;
    for (;;) {
      try {
        return await call();
      } catch (err) {
        if (auditUnavailable(err)) {
          this.o.book.log(
            'warn',
            `audit table unavailable, running the activity again: ${describeError(err)}`,
          );
          await sleep(delay);
          delay = Math.min(delay * 2, AUDIT_UNAVAILABLE_BACKOFF.maximumMs);
          continue;
        }
        if (!auditRecorded(err)) {
          const { payload: _payload, ...base } = audit.start;
          await this.local.recordEvents([
            ...audit.before,
            audit.start,
            { ...base, seq: audit.outcomeSeq, status: failStatus, error: this.o.describeFailure(err) },
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
  transition(
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
    const acts = this.o.fast
      ? proxyLocalActivities<SagaActivities>(localOptions(options))
      : proxyActivities<SagaActivities>(options);
    return { audit, acts };
  }

  /** Takes the queued saga-level rows (they ride with the activity about to run). */
  private takeQueued(): SagaEventInput[] {
    const q = this.queued;
    this.queued = [];
    return q;
  }
}
