/**
 * The saga's status as the engine keeps it: the status row the status query returns, state
 * changes with their search attribute, the Web UI's current details and the engine's log lines.
 * Deterministic workflow code.
 */
import { log, setCurrentDetails, upsertSearchAttributes } from '@temporalio/workflow';
import type { CompensationEntry, SagaState } from '../saga/contracts.js';
import type { NormalizedDefinition } from '../saga/definition.js';
import { IdentityKeyKey, SagaNameKey, SagaStateKey, TraceIdKey } from '../saga/search-attributes.js';
import { canTransition } from '../saga/states.js';
import type { SagaStatus, SagaWorkflowInput, StepStatus } from '../saga/status.js';
import { compensationName, stepStatusFromPlan } from './steps.js';

/** A log level of the workflow logger. */
export type EngineLogLevel = 'debug' | 'info' | 'warn' | 'error';

/**
 * The status bookkeeping of one saga run. `status` is the live row that the step and unwind
 * logic updates; `stack` reads the compensation stack, which the status shows.
 */
export class EngineStatus {
  readonly status: SagaStatus;

  constructor(
    private readonly def: NormalizedDefinition,
    undo: SagaWorkflowInput['undo'],
    private readonly stack: () => readonly CompensationEntry[],
  ) {
    const steps = undo?.steps ?? def.steps.map(stepStatusFromPlan);
    this.status = {
      sagaId: def.sagaId,
      name: def.name,
      state: undo ? 'COMMITTED' : 'PENDING',
      totalSteps: steps.length,
      completedSteps: undo ? steps.filter((s) => s.state === 'SUCCEEDED').length : 0,
      failedAt: null,
      error: null,
      steps,
      compensationStack: [],
      compensationMode: def.compensation.mode,
      traceId: def.traceId,
      identityKey: def.identityKey,
      abortRequested: false,
      failures: [],
      resolution: null,
    };
  }

  /** A snapshot of the status (what `statusQuery` returns). */
  snapshot(): SagaStatus {
    return {
      ...this.status,
      steps: this.status.steps.map((s) => ({ ...s })),
      compensationStack: [...this.stack()],
    };
  }

  /** The status row of a step, added to the list when a typed saga did not plan it. */
  stepRow(step: Pick<StepStatus, 'id' | 'backend' | 'operation' | 'kind'>): StepStatus {
    let st = this.status.steps.find((s) => s.id === step.id);
    if (!st) {
      st = stepStatusFromPlan(step);
      this.status.steps.push(st);
      this.status.totalSteps = this.status.steps.length;
    }
    return st;
  }

  /** Sets the search attributes of a saga that starts (or undoes): name, trace id, identity key, state. */
  publishStart(): void {
    upsertSearchAttributes([
      { key: SagaNameKey, value: this.def.name },
      { key: TraceIdKey, value: this.def.traceId },
      ...(this.def.identityKey !== null ? [{ key: IdentityKeyKey, value: this.def.identityKey }] : []),
      { key: SagaStateKey, value: this.status.state },
    ]);
  }

  /** Moves the saga to `to`: the status row, the state search attribute and the Web UI details. */
  setState(to: SagaState): void {
    const from = this.status.state;
    if (from === to) return;
    if (!canTransition(from, to)) this.log('error', `unexpected transition ${from} → ${to}`);
    this.status.state = to;
    upsertSearchAttributes([{ key: SagaStateKey, value: to }]);
    this.refreshDetails();
  }

  /** A workflow log line tagged with the saga's id, trace id and name. */
  log(level: EngineLogLevel, message: string, attrs: Record<string, unknown> = {}): void {
    log[level](`[${this.def.sagaId}] ${message}`, {
      sagaId: this.def.sagaId,
      traceId: this.def.traceId,
      sagaName: this.def.name,
      ...attrs,
    });
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
          const entry = this.stack().find((e) => e.stepId === st.id);
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
}
