/**
 * Fake saga activities for workflow and replay tests: record every call and event, and fail,
 * block or heal on command, per saga. No I/O.
 */
import { ApplicationFailure } from '@temporalio/common';
import {
  FailureTypes,
  type CompensateStepInput,
  type ExecuteStepInput,
  type SagaActivities,
  type SagaEventInput,
} from '../../src/saga/contracts.js';
import { withTransitions } from '../../src/activities/transitions.js';

export interface Call {
  kind: 'execute' | 'compensate';
  sagaId: string;
  stepId: string;
  idempotencyKey: string;
  payload: unknown;
}

/** What the fakes do for one saga. */
export interface Behavior {
  /** Forward steps that fail (non-retryable, like a business error). */
  failSteps?: string[];
  /** Compensations that fail until `heal(sagaId)` is called. */
  failCompensations?: string[];
  /** Forward steps that fail with a retryable (transient) error this many times, then succeed. */
  flakySteps?: Record<string, number>;
  /** Forward steps that wait until `release(sagaId, stepId)`. */
  blockSteps?: string[];
  /** Compensations of these steps wait until all of them have started (proves parallelism). */
  barrierCompensations?: string[];
  /** The audit writer fails this many times for the saga (an audit-table outage), then works. */
  auditOutages?: number;
}

class Deferred {
  resolve!: () => void;
  readonly promise = new Promise<void>((r) => (this.resolve = r));
}

export class Fakes {
  readonly calls: Call[] = [];
  private readonly events = new Map<string, Map<number, SagaEventInput>>();
  private readonly behaviors = new Map<string, Behavior>();
  private readonly healed = new Set<string>();
  private readonly flakyCount = new Map<string, number>();
  private readonly auditFailures = new Map<string, number>();
  private readonly gates = new Map<string, Deferred>();
  private readonly started = new Map<string, Deferred>();
  private readonly barriers = new Map<string, { waiting: number; d: Deferred }>();

  set(sagaId: string, behavior: Behavior): void {
    this.behaviors.set(sagaId, behavior);
  }
  heal(sagaId: string): void {
    this.healed.add(sagaId);
  }
  private gate(map: Map<string, Deferred>, key: string): Deferred {
    let d = map.get(key);
    if (!d) map.set(key, (d = new Deferred()));
    return d;
  }
  /** Resolves when the blocked step has started. */
  whenStarted(sagaId: string, stepId: string): Promise<void> {
    return this.gate(this.started, `${sagaId}/${stepId}`).promise;
  }
  release(sagaId: string, stepId: string): void {
    this.gate(this.gates, `${sagaId}/${stepId}`).resolve();
  }
  callsOf(sagaId: string, kind?: Call['kind']): string[] {
    return this.calls
      .filter((c) => c.sagaId === sagaId && (!kind || c.kind === kind))
      .map((c) => `${c.kind === 'execute' ? '+' : '-'}${c.stepId}`);
  }
  eventsOf(sagaId: string): SagaEventInput[] {
    return [...(this.events.get(sagaId)?.values() ?? [])].sort((a, b) => a.seq - b.seq);
  }

  /** The fake effects and audit writer, with the real transition activities built over them. */
  activities(): SagaActivities {
    return withTransitions({
      executeStep: async (input: ExecuteStepInput) => {
        const b = this.behaviors.get(input.sagaId) ?? {};
        this.calls.push({
          kind: 'execute',
          sagaId: input.sagaId,
          stepId: input.stepId,
          idempotencyKey: input.idempotencyKey,
          payload: input.payload,
        });
        if (b.blockSteps?.includes(input.stepId)) {
          this.gate(this.started, `${input.sagaId}/${input.stepId}`).resolve();
          await this.gate(this.gates, `${input.sagaId}/${input.stepId}`).promise;
        }
        const flaky = b.flakySteps?.[input.stepId] ?? 0;
        const key = `${input.sagaId}/${input.stepId}`;
        const seen = this.flakyCount.get(key) ?? 0;
        if (seen < flaky) {
          this.flakyCount.set(key, seen + 1);
          throw ApplicationFailure.retryable(
            `transient failure ${seen + 1} of ${input.stepId}`,
            'polysaga.Transient',
          );
        }
        if (b.failSteps?.includes(input.stepId) && !this.healed.has(input.sagaId)) {
          throw ApplicationFailure.nonRetryable(
            `injected failure of ${input.stepId}`,
            FailureTypes.InjectedFailure,
          );
        }
        return { result: { id: `${input.stepId}-result`, operation: input.operation } };
      },
      compensateStep: async (input: CompensateStepInput) => {
        const b = this.behaviors.get(input.sagaId) ?? {};
        this.calls.push({
          kind: 'compensate',
          sagaId: input.sagaId,
          stepId: input.stepId,
          idempotencyKey: input.idempotencyKey,
          payload: input.compensation,
        });
        if (b.barrierCompensations?.includes(input.stepId)) {
          const key = input.sagaId;
          let bar = this.barriers.get(key);
          if (!bar) this.barriers.set(key, (bar = { waiting: 0, d: new Deferred() }));
          bar.waiting += 1;
          if (bar.waiting >= b.barrierCompensations.length) bar.d.resolve();
          await Promise.race([
            bar.d.promise,
            new Promise((_, rej) =>
              setTimeout(() => rej(new Error('barrier timeout: compensations not parallel')), 5000),
            ),
          ]);
        }
        if (b.failCompensations?.includes(input.stepId) && !this.healed.has(input.sagaId)) {
          throw ApplicationFailure.retryable(
            `injected compensation failure of ${input.stepId}`,
            FailureTypes.InjectedFailure,
          );
        }
        return { outcome: 'undone' };
      },
      recordEvent: (input: SagaEventInput) => {
        const outages = this.behaviors.get(input.sagaId)?.auditOutages ?? 0;
        const failedSoFar = this.auditFailures.get(input.sagaId) ?? 0;
        if (failedSoFar < outages) {
          this.auditFailures.set(input.sagaId, failedSoFar + 1);
          return Promise.reject(new Error(`connect ECONNREFUSED (fake audit outage ${failedSoFar + 1})`));
        }
        let m = this.events.get(input.sagaId);
        if (!m) this.events.set(input.sagaId, (m = new Map<number, SagaEventInput>()));
        // Like the real table: the first write of a (sagaId, seq) wins.
        if (!m.has(input.seq)) m.set(input.seq, input);
        return Promise.resolve();
      },
    });
  }
}
