/**
 * The application's own actions and rollbacks as the backend `app`: `defineActions({ ... })`
 * turns a map of functions into a backend definition whose operations are the actions and whose
 * compensations (`app.<name>`) are the rollbacks. A typed saga's `saga.step({ id, action,
 * rollback, input })` runs as a step of that backend, so it gets the write-ahead audit rows, the
 * idempotency key, the retry policy, the compensation stack, the masking and the metrics of every
 * step.
 *
 * ```ts
 * export const actions = defineActions({
 *   async reserveCredit(input: { account: string; amount: number }, ctx: ActionContext) {
 *     return { reservationId: await credit.reserve(input, ctx.idempotencyKey) };
 *   },
 *   async releaseCredit(_input: { account: string; amount: number }, result: { reservationId: string }) {
 *     await credit.release(result.reservationId);
 *   },
 * });
 * const worker = await createSagaWorker({ actions });
 * ```
 *
 * Every function is registered both ways (as the action `name` and the rollback `app.name`): the
 * step decides which role it plays, and the compiler checks the shapes in workflow code
 * (`actionsOf<typeof actions>()`).
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import {
  ACTION_NAME_PATTERN,
  APP_BACKEND,
  rollbackCompensationName,
  type ActionContext,
  type ActionMap,
} from '../../saga/actions.js';
import { CUSTOM_STEP_OPTIONS } from '../../saga/activity-options.js';
import type { BackendCatalog, OperationSpec } from '../../saga/catalog.js';
import { FailureTypes, type CompensateStepInput, type JsonObject } from '../../saga/contracts.js';
import type { BackendDefinition, BackendHandlers } from '../define.js';
import type { CompensationHandler, OperationContext, OperationHandler } from '../types.js';

export { APP_BACKEND, actionsOf } from '../../saga/actions.js';
export type {
  Action,
  ActionContext,
  ActionMap,
  ActionRef,
  ActionRefs,
  ActionStepSpec,
  Rollback,
  RollbackContext,
} from '../../saga/actions.js';

/** The backend definition of an action map; `actions` keeps the functions with their types. */
export type ActionsDefinition<A extends ActionMap = ActionMap> = BackendDefinition<BackendHandlers> & {
  readonly actions: A;
};

/** An action's input: any JSON object (the action's own types are checked in workflow code). */
const actionInput = z.record(z.string(), z.unknown());

/** The activity attempt (1-based), or 1 outside an activity (a direct call in a test). */
function currentAttempt(): number {
  try {
    return Context.current().info.attempt;
  } catch {
    return 1;
  }
}

function isPlainObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describeValue(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v;
}

/** The names of an action map, checked (a name must be an identifier: it is a catalog key). */
function actionNames(actions: ActionMap): string[] {
  const names = Object.keys(actions);
  if (names.length === 0) throw new Error('defineActions: give at least one action');
  for (const name of names) {
    if (!ACTION_NAME_PATTERN.test(name))
      throw new Error(`defineActions: action name "${name}" must match ${String(ACTION_NAME_PATTERN)}`);
    if (typeof actions[name] !== 'function')
      throw new Error(
        `defineActions: action "${name}" must be a function, got ${describeValue(actions[name])}`,
      );
  }
  return names.sort();
}

/** The pure half of the `app` backend for these action names (what a client validates against). */
export function actionsCatalog(names: readonly string[]): BackendCatalog {
  const operations: Record<string, OperationSpec> = {};
  const compensations: Record<string, { description: string }> = {};
  for (const name of names) {
    operations[name] = { payload: actionInput, description: `The application's action ${name}.` };
    compensations[rollbackCompensationName(name)] = {
      description: `The application's function ${name}, as the rollback of a step (gets the input and the result).`,
    };
  }
  return { name: APP_BACKEND, operations, compensations, retry: CUSTOM_STEP_OPTIONS };
}

/**
 * Registers the application's functions as the backend `app` (pass the result to
 * `createSagaWorker({ actions })`, or in `backendDefinitions`). An action gets `(input, ctx)`
 * and returns a JSON object (or nothing, stored as `{}`); as a rollback the same kind of function
 * gets `(input, result, ctx)`. A thrown error is retried by the step's retry policy unless it is
 * non-retryable (`ApplicationFailure.nonRetryable(...)`, or an error the worker classifies as
 * permanent, such as a PostgreSQL constraint violation).
 */
export function defineActions<A extends ActionMap>(actions: A): ActionsDefinition<A> {
  const names = actionNames(actions);
  const catalog = actionsCatalog(names);
  const context = (ctx: OperationContext, sagaName: string, name: string, key: string): ActionContext => ({
    sagaId: ctx.sagaId,
    sagaName,
    traceId: ctx.traceId,
    stepId: ctx.stepId,
    action: name,
    idempotencyKey: key,
    attempt: currentAttempt(),
  });
  const operations: Record<string, OperationHandler> = {};
  const compensations: Record<string, CompensationHandler> = {};
  for (const name of names) {
    const fn = actions[name] as unknown as (...args: unknown[]) => Promise<unknown>;
    operations[name] = async (payload: JsonObject, ctx: OperationContext) => {
      const out = await fn(payload, context(ctx, ctx.sagaName ?? '', name, ctx.idempotencyKey));
      if (out === undefined || out === null) return {};
      if (!isPlainObject(out))
        throw ApplicationFailure.nonRetryable(
          `action "${name}" must return a JSON object (or nothing), got ${describeValue(out)}`,
          FailureTypes.InvalidPayload,
        );
      return out;
    };
    compensations[rollbackCompensationName(name)] = async (input: CompensateStepInput) => {
      const out = await fn(
        input.payload,
        input.result,
        context(
          {
            sagaId: input.sagaId,
            traceId: input.traceId,
            stepId: input.stepId,
            backend: APP_BACKEND,
            operation: name,
            idempotencyKey: input.idempotencyKey,
          },
          input.sagaName,
          name,
          `${input.idempotencyKey}:compensation`,
        ),
      );
      return { outcome: 'undone', ...(isPlainObject(out) ? { detail: out } : {}) };
    };
  }
  // Built like defineBackend's result: defineBackend refuses the reserved name `app`.
  return { ...catalog, catalog, connect: (): BackendHandlers => ({ operations, compensations }), actions };
}

/** Whether a backend definition is an action map's (`defineActions`). */
export function isActionsDefinition(d: BackendDefinition): d is ActionsDefinition {
  return d.name === APP_BACKEND && 'actions' in d;
}
