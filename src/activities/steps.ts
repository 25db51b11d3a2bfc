/**
 * The step activities: `executeStep` and `compensateStep` of {@link SagaActivities}.
 *
 * executeStep: look up backend + operation in the catalog, validate the payload with its zod
 * schema (failure: non-retryable `polysaga.InvalidPayload`), run the backend operation with the
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
import type { Catalog } from '../saga/catalog/types.js';
import type { Backend, OperationContext } from './backends/types.js';
import { createCompensationRegistry, type CompensationRegistry } from './compensations.js';
import { toActivityError } from './errors.js';
import { fillTemplate } from './backends/template.js';

export interface StepActivityDeps {
  catalog: Catalog;
  backends: Backend[];
  /** Defaults to a registry of the backends' own compensations. */
  compensations?: CompensationRegistry;
}

export type StepActivities = Pick<SagaActivities, 'executeStep' | 'compensateStep'>;

/** Creates `executeStep` and `compensateStep` over the given backends. */
export function createStepActivities(deps: StepActivityDeps): StepActivities {
  const backends = new Map(deps.backends.map((b) => [b.name, b]));
  const registry = deps.compensations ?? createCompensationRegistry(deps.backends);

  async function run(backend: string, operation: string, payload: unknown, ctx: OperationContext) {
    const spec = deps.catalog.backends[backend]?.operations[operation];
    const impl = backends.get(backend)?.operations[operation];
    if (!spec || !impl) {
      throw ApplicationFailure.nonRetryable(
        `unknown operation ${backend}.${operation}`,
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
    try {
      return await impl(parsed.data as never, ctx);
    } catch (err) {
      throw toActivityError(err, `${backend}.${operation}`);
    }
  }

  return {
    async executeStep(input: ExecuteStepInput): Promise<ExecuteStepResult> {
      const result = await run(input.backend, input.operation, input.payload, {
        sagaId: input.sagaId,
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
