/**
 * The step activities: `executeStep` and `compensateStep` of {@link SagaActivities}.
 *
 * executeStep: look up backend + operation in the catalog, validate the payload with its zod
 * schema (failure: non-retryable `polysaga.InvalidPayload`), check its targets against the store
 * guard (polysaga's own objects, allowlists; failure: non-retryable `polysaga.GuardedStore`), run the backend operation with the
 * step's idempotency key, map driver errors (transient → rethrown for Temporal's retry,
 * permanent → non-retryable ApplicationFailure with a stable type).
 *
 * compensateStep: a named compensation from the registry, or an inline `{backend?, operation,
 * payload}` run as a forward operation with the idempotency key `<key>:compensation`; strings of
 * its payload may use `{{result.…}}` / `{{payload.…}}` placeholders (the forward step's result/payload).
 */
import { ApplicationFailure } from '@temporalio/common';
import type {
  CompensateStepInput,
  CompensateStepResult,
  ExecuteStepInput,
  ExecuteStepResult,
  SagaActivities,
} from '../saga/contracts.js';
import { FailureTypes } from '../saga/contracts.js';
import type { Catalog } from '../saga/catalog.js';
import { checkOperationTargets, resolveStoreGuard, type GuardIssue, type StoreGuard } from '../saga/guard.js';
import type { Backend, OperationContext } from '../backends/types.js';
import { createCompensationRegistry, type CompensationRegistry } from './compensations.js';
import { toActivityError } from '../backends/errors.js';
import { fillTemplate } from '../backends/template.js';
import { APP_BACKEND, rollbackName } from '../saga/actions.js';

export interface StepActivityDeps {
  catalog: Catalog;
  backends: Backend[];
  /** Defaults to a registry of the backends' own compensations. */
  compensations?: CompensationRegistry;
  /**
   * polysaga's own prefixes and the allowlists (`storeGuard(config)`); every operation is checked
   * again here, whatever the client validated. polysaga's own objects are refused even without it.
   */
  guard?: Partial<StoreGuard>;
}

/** The non-retryable failure of an operation the guard refuses. */
function guardedStoreFailure(what: string, issues: GuardIssue[]): ApplicationFailure {
  return ApplicationFailure.nonRetryable(
    `guarded store: ${what}: ${issues.map((i) => `payload.${i.field}: ${i.message}`).join('; ')}`,
    FailureTypes.GuardedStore,
  );
}

export type StepActivities = Pick<SagaActivities, 'executeStep' | 'compensateStep'>;

/** Creates `executeStep` and `compensateStep` over the given backends. */
export function createStepActivities(deps: StepActivityDeps): StepActivities {
  const backends = new Map(deps.backends.map((b) => [b.name, b]));
  const registry = deps.compensations ?? createCompensationRegistry(deps.backends);
  const guard = resolveStoreGuard(deps.guard);

  /**
   * A named compensation acts on the objects of its forward step's payload. The entry does not
   * name the forward operation, so every operation of the backend that accepts the payload is checked.
   */
  function checkForwardPayload(backend: string, payload: unknown): GuardIssue[] {
    const ops = Object.values(deps.catalog.backends[backend]?.operations ?? {});
    const seen = new Map<string, GuardIssue>();
    for (const op of ops) {
      const parsed = op.payload.safeParse(payload);
      if (!parsed.success) continue;
      for (const iss of checkOperationTargets(op, parsed.data, guard)) seen.set(iss.field, iss);
    }
    return [...seen.values()];
  }

  async function run(backend: string, operation: string, payload: unknown, ctx: OperationContext) {
    const spec = deps.catalog.backends[backend]?.operations[operation];
    const impl = backends.get(backend)?.operations[operation];
    if (!spec || !impl) {
      throw ApplicationFailure.nonRetryable(
        backend === APP_BACKEND
          ? unknownActionMessage('action', operation)
          : `unknown operation ${backend}.${operation}`,
        FailureTypes.UnknownOperation,
      );
    }
    const parsed = spec.payload.safeParse(payload);
    if (!parsed.success) {
      const detail = parsed.error.issues
        .map((i) => `${i.path.join('.') || '(payload)'}: ${i.message}`)
        .join('; ');
      throw ApplicationFailure.nonRetryable(
        `invalid payload for ${backend}.${operation}: ${detail}`,
        FailureTypes.InvalidPayload,
      );
    }
    const refused = checkOperationTargets(spec, parsed.data, guard);
    if (refused.length > 0) throw guardedStoreFailure(`${backend}.${operation}`, refused);
    try {
      return await impl(parsed.data as never, ctx);
    } catch (err) {
      throw toActivityError(err, `${backend}.${operation}`);
    }
  }

  /** The message of an action (or rollback) the worker does not have, naming the registered ones. */
  function unknownActionMessage(role: 'action' | 'rollback', name: string): string {
    const names = Object.keys(deps.catalog.backends[APP_BACKEND]?.operations ?? {}).sort();
    return names.length === 0
      ? `unknown ${role} "${name}": this worker has no actions (give them to it: createSagaWorker({ actions: defineActions({ ... }) }))`
      : `unknown ${role} "${name}"; registered actions: ${names.join(', ')}`;
  }

  return {
    async executeStep(input: ExecuteStepInput): Promise<ExecuteStepResult> {
      // A step of the application's own code names its rollback: check it before the effect, so
      // that no action runs whose undo this worker could not run.
      const c = input.compensation;
      if (input.backend === APP_BACKEND && typeof c === 'string' && !registry.get(c)) {
        throw ApplicationFailure.nonRetryable(
          unknownActionMessage('rollback', rollbackName(c) ?? c),
          FailureTypes.UnknownCompensation,
        );
      }
      const result = await run(input.backend, input.operation, input.payload, {
        sagaId: input.sagaId,
        sagaName: input.sagaName,
        stepId: input.stepId,
        traceId: input.traceId,
        backend: input.backend,
        operation: input.operation,
        idempotencyKey: input.idempotencyKey,
      });
      return { result };
    },

    async compensateStep(input: CompensateStepInput): Promise<CompensateStepResult> {
      const c = input.compensation;
      if (typeof c === 'string') {
        const handler = registry.get(c);
        if (!handler)
          throw ApplicationFailure.nonRetryable(
            `unknown compensation ${c}`,
            FailureTypes.UnknownCompensation,
          );
        const refused = checkForwardPayload(input.backend, input.payload);
        if (refused.length > 0)
          throw guardedStoreFailure(`compensation ${c} of step ${input.stepId}`, refused);
        try {
          return await handler(input);
        } catch (err) {
          throw toActivityError(err, `compensation ${c} of step ${input.stepId}`);
        }
      }
      const backend = c.backend ?? input.backend;
      let payload: unknown;
      try {
        payload = fillTemplate(c.payload, { result: input.result, payload: input.payload });
      } catch (err) {
        throw toActivityError(err, `inline compensation of step ${input.stepId}`);
      }
      const result = await run(backend, c.operation, payload, {
        sagaId: input.sagaId,
        stepId: input.stepId,
        traceId: input.traceId,
        backend,
        operation: c.operation,
        idempotencyKey: `${input.idempotencyKey}:compensation`,
      });
      return { outcome: 'undone', detail: result };
    },
  };
}
