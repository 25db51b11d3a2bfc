/** Typed sagas: a saga written in TypeScript over the saga engine. Deterministic workflow code. */
import { workflowInfo } from '@temporalio/workflow';
import { actionName, APP_BACKEND, type ActionRef, type ActionStepSpec } from '../saga/actions.js';
import type { ActivityTuning } from '../saga/activity-options.js';
import { defaultIdempotencyKey, type JsonObject, type StepKind } from '../saga/contracts.js';
import type { CompensationMode } from '../saga/definition.js';
import type { SagaResult } from '../saga/status.js';
import { SagaEngine } from './saga-engine.js';
import { actionStepSpec, isActionStep, type StepPlan, type StepSpec } from './steps.js';

export type { StepPlan, StepSpec } from './steps.js';
export { actionsOf, type ActionRef, type ActionRefs, type ActionStepSpec } from '../saga/actions.js';

/** A step of the application's own code listed up front: its id and action. */
export interface ActionStepPlan {
  id: string;
  action: string | ActionRef;
  kind?: StepKind;
}

/** Options of {@link runTypedSaga}. */
export interface TypedSagaOptions {
  name: string;
  /** Steps listed up front for the status query (optional). */
  plan?: (StepPlan | ActionStepPlan)[];
  traceId?: string;
  identityKey?: string | null;
  compensation?: { mode: CompensationMode };
  tuning?: ActivityTuning;
}

/**
 * The engine as a typed saga's body sees it: `step` also takes a step of the application's own
 * code, `{ id, action, rollback?, input, retry?, timeout? }`, run as an operation of the backend
 * `app` (same audit rows, idempotency key, retry policy, compensation stack and status as a
 * catalog step). With typed references (`actionsOf<typeof actions>()`) it resolves to the
 * action's result type.
 */
export class TypedSaga extends SagaEngine {
  override step(spec: StepSpec): Promise<JsonObject>;
  override step<I extends object, R extends object>(spec: ActionStepSpec<I, R>): Promise<R>;
  override step(spec: StepSpec | ActionStepSpec): Promise<JsonObject> {
    return super.step(isActionStep(spec) ? actionStepSpec(spec) : spec);
  }
}

function planStep(p: StepPlan | ActionStepPlan): StepPlan {
  if (!('action' in p)) return p;
  return {
    id: p.id,
    backend: APP_BACKEND,
    operation: actionName(p.action),
    ...(p.kind ? { kind: p.kind } : {}),
  };
}

/**
 * Runs a saga written in TypeScript: `body` calls `saga.step(...)` for each step and may use
 * earlier results in later payloads. Same engine, states, events and handlers as the generic
 * workflow. The saga id is the workflow id.
 */
export function runTypedSaga(
  options: TypedSagaOptions,
  body: (saga: TypedSaga) => Promise<void>,
): Promise<SagaResult> {
  const sagaId = workflowInfo().workflowId;
  const engine = new TypedSaga({
    definition: {
      name: options.name,
      sagaId,
      traceId: options.traceId ?? sagaId,
      identityKey: options.identityKey ?? null,
      compensation: options.compensation ?? { mode: 'sequential' },
      steps: (options.plan ?? []).map(planStep).map((p) => ({
        ...p,
        kind: p.kind ?? 'compensatable',
        payload: {},
        compensation: null,
        idempotencyKey: defaultIdempotencyKey(sagaId, p.id),
      })),
    },
    ...(options.tuning ? { tuning: options.tuning } : {}),
  });
  return engine.run(() => body(engine));
}
