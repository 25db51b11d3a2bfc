/** Typed sagas: a saga written in TypeScript over the saga engine. Deterministic workflow code. */
import { workflowInfo } from '@temporalio/workflow';
import type { ActivityTuning } from '../saga/activity-options.js';
import { defaultIdempotencyKey } from '../saga/contracts.js';
import type { CompensationMode } from '../saga/definition.js';
import type { SagaResult } from '../saga/status.js';
import { SagaEngine } from './saga-engine.js';
import type { StepPlan } from './steps.js';

export type { StepPlan, StepSpec } from './steps.js';

/** Options of {@link runTypedSaga}. */
export interface TypedSagaOptions {
  name: string;
  /** Steps listed up front for the status query (optional). */
  plan?: StepPlan[];
  traceId?: string;
  identityKey?: string | null;
  compensation?: { mode: CompensationMode };
  tuning?: ActivityTuning;
}

/**
 * Runs a saga written in TypeScript: `body` calls `saga.step(...)` for each step and may use
 * earlier results in later payloads. Same engine, states, events and handlers as the generic
 * workflow. The saga id is the workflow id.
 */
export function runTypedSaga(
  options: TypedSagaOptions,
  body: (saga: SagaEngine) => Promise<void>,
): Promise<SagaResult> {
  const sagaId = workflowInfo().workflowId;
  const engine = new SagaEngine({
    definition: {
      name: options.name,
      sagaId,
      traceId: options.traceId ?? sagaId,
      identityKey: options.identityKey ?? null,
      compensation: options.compensation ?? { mode: 'sequential' },
      steps: (options.plan ?? []).map((p) => ({
        ...p,
        kind: p.kind ?? 'compensatable',
        payload: {},
        compensation: null,
        idempotencyKey: defaultIdempotencyKey(sagaId, p.id),
      })),
    },
    ...(options.tuning ? { tuning: options.tuning } : {}),
  });
  return engine.run(body);
}
