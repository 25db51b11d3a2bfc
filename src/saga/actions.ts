/**
 * Steps with the application's own code: the shapes shared by the workflow (a typed saga's
 * `saga.step({ id, action, rollback, input })`) and the worker (`defineActions`, which registers
 * the actions as the backend {@link APP_BACKEND}). Pure: types and name rules only.
 *
 * An action is `(input, ctx) => Promise<result>`; a rollback is `(input, result, ctx) =>
 * Promise<void | object>` and gets the step's input and the action's result, as a catalog
 * compensation gets the step's payload and result. Inputs and results are JSON objects.
 */
import type { StepKind } from './contracts.js';
import type { RetryOverride } from './definition.js';

/** The backend name under which a worker registers the application's actions (reserved). */
export const APP_BACKEND = 'app';

/** Action names: a letter, then letters, digits or `_` (a JavaScript identifier without `$`). */
export const ACTION_NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_]*$/;

/** The compensation name of a rollback in the catalog and the audit rows: `app.<name>`. */
export function rollbackCompensationName(name: string): string {
  return `${APP_BACKEND}.${name}`;
}

/** The action name of a rollback's compensation name (`app.releaseCredit` → `releaseCredit`), else null. */
export function rollbackName(compensation: string): string | null {
  const prefix = `${APP_BACKEND}.`;
  return compensation.startsWith(prefix) ? compensation.slice(prefix.length) : null;
}

/** What an action knows about the step it runs for. */
export interface ActionContext {
  sagaId: string;
  sagaName: string;
  traceId: string;
  stepId: string;
  /** The action's name. */
  action: string;
  /**
   * The step's idempotency key (default `<sagaId>:<stepId>`): the same on every attempt and every
   * re-run of the step. Make the effect happen at most once per key.
   */
  idempotencyKey: string;
  /** The activity attempt (1-based): above 1 when the step's retry policy runs it again. */
  attempt: number;
}

/** What a rollback knows: the step's context; `idempotencyKey` is `<step key>:compensation`. */
export type RollbackContext = ActionContext;

/** An application action: runs the step's effect and returns what its rollback needs (a JSON object). */
export type Action<I extends object = never, R extends object = object> = (
  input: I,
  ctx: ActionContext,
) => Promise<R>;

/** An application rollback: undoes the effect of an action from the step's input and the action's result. */
export type Rollback<I extends object = never, R extends object = never> = (
  input: I,
  result: R,
  ctx: RollbackContext,
) => Promise<void | object>;

/** The application's actions and rollbacks by name, as given to `defineActions`. */
export type ActionMap = Record<string, (...args: never[]) => Promise<unknown>>;

/**
 * A typed reference to one of the application's functions, for workflow code: it carries the
 * name at run time and the function's type for the compiler (workflow code only imports the
 * type of the actions module, never its code).
 */
export interface ActionRef<F = unknown> {
  readonly name: string;
  /** Never set: holds the function type for type checks. */
  readonly fn?: F;
}

/** {@link ActionRef}s of every function of an action map `A` (`actionsOf<typeof actions>()`). */
export type ActionRefs<A> = { readonly [K in keyof A & string]: ActionRef<A[K]> };

/**
 * One step of a typed saga that runs the application's own code: `action` with `input`, undone
 * by `rollback` (given the input and the action's result) when the saga unwinds. Without
 * `rollback` (or with `null`) the step is not undone, like a catalog step with `compensation: null`.
 */
export interface ActionStepSpec<I extends object = object, R extends object = object> {
  id: string;
  /** An action name, or a typed reference from `actionsOf<typeof actions>()`. */
  action: string | ActionRef<(input: I, ctx: ActionContext) => Promise<R>>;
  /** A rollback name or typed reference; omitted or null: the step is not undone. */
  rollback?: string | ActionRef<(input: I, result: R, ctx: RollbackContext) => Promise<void | object>> | null;
  /** The action's input: a JSON object (also in the audit's masked payload and Temporal history). */
  input: I;
  /** Default `<sagaId>:<id>`. */
  idempotencyKey?: string;
  /** Default `compensatable`. */
  kind?: StepKind;
  /** Overrides the default retry policy of actions field by field (`maximumAttempts: 0`: unlimited). */
  retry?: RetryOverride;
  /** Start-to-close timeout of one attempt, e.g. `10s` (default 30s). */
  timeout?: string;
}

/** The name an action field holds (a string or a reference). */
export function actionName(ref: string | ActionRef): string {
  return typeof ref === 'string' ? ref : ref.name;
}

/**
 * Typed references to the application's actions, for workflow code:
 *
 * ```ts
 * import type { actions } from './actions.js'; // the type only: no activity code in the workflow
 * const app = actionsOf<typeof actions>();
 * await saga.step({ id: 'reserve', action: app.reserveCredit, rollback: app.releaseCredit, input });
 * ```
 *
 * The compiler checks the names, the input against the action's parameter and the rollback
 * against the action's result; the worker checks the names again when the step runs.
 */
export function actionsOf<
  A extends { [K in keyof A]: (...args: never[]) => Promise<unknown> },
>(): ActionRefs<A> {
  return new Proxy({} as ActionRefs<A>, {
    get: (_target, prop) => (typeof prop === 'string' ? { name: prop } : undefined),
  });
}
