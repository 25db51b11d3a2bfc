/**
 * Scopes: the names polysaga gives to things in shared infrastructure, per project and
 * environment (`PROJECT_PREFIX`, `ENV`), so that two environments sharing one Temporal
 * namespace, one PostgreSQL database and one Redis never see each other's sagas.
 *
 * The scope of `PROJECT_PREFIX=acme ENV=staging` is `acme-staging`. The defaults
 * (`PROJECT_PREFIX=polysaga`, `ENV=prod`) give the empty scope, in which every name stays what
 * it always was (task queue `polysaga`, workflow id = saga id, Redis keys `polysaga:`), so an
 * existing deployment keeps its running sagas across the upgrade.
 *
 * In a scope, the client turns the saga id `order-42` into the workflow id
 * `@acme-staging/order-42` before the saga starts. The saga id pattern (SAGA_ID_PATTERN)
 * requires a letter or digit first, so a user's saga id never starts with `@`: a scoped id
 * can never be mistaken for an unscoped one, and the scope is the text between `@` and the
 * first `/` (scopes hold no `/`). The workflow carries that id everywhere it writes it: audit
 * rows, default idempotency keys `<sagaId>:<stepId>`, blob and before-image keys.
 *
 * Pure: no I/O.
 */

/** `PROJECT_PREFIX` of the empty scope. */
export const DEFAULT_PROJECT_PREFIX = 'polysaga';
/** `ENV` of the empty scope. */
export const DEFAULT_ENV = 'prod';
/** Task queue of the empty scope. */
export const DEFAULT_TASK_QUEUE = 'polysaga';
/** First character of every scoped id (never the first character of a saga id). */
export const SCOPE_MARKER = '@';

/** What `PROJECT_PREFIX` may be (the same rule as the configuration's). */
export const PROJECT_PREFIX_PATTERN = /^[a-z][a-z0-9_]{0,30}$/;
/** What `ENV` may be for a scope (the configuration allows dev, test, staging and prod). */
export const ENV_PATTERN = /^[a-z][a-z0-9_]{0,15}$/;
/** A non-empty scope: `<PROJECT_PREFIX>-<ENV>`. */
export const SCOPE_PATTERN = /^[a-z][a-z0-9_]{0,30}-[a-z][a-z0-9_]{0,15}$/;

/** Raised for a bad `PROJECT_PREFIX`/`ENV`, or for an id of another scope; `variable` names what to fix. */
export class ScopeError extends Error {
  override name = 'ScopeError';
  constructor(
    message: string,
    /** `PROJECT_PREFIX`, `ENV`, or `sagaId` for an id of another scope. */
    readonly variable: string,
  ) {
    super(message);
  }
}

/** The two values a scope is made of. */
export interface ScopeSource {
  projectPrefix: string;
  env: string;
}

/**
 * The scope of a project prefix and environment: `''` for the defaults (`polysaga`, `prod`),
 * `<projectPrefix>-<env>` otherwise.
 * @throws ScopeError naming PROJECT_PREFIX or ENV when one cannot be part of a name.
 */
export function scopeOf(source: ScopeSource): string {
  if (!PROJECT_PREFIX_PATTERN.test(source.projectPrefix))
    throw new ScopeError(
      `PROJECT_PREFIX ${JSON.stringify(source.projectPrefix)} cannot name a scope: it must be 1-31 lower-case letters, digits or _, starting with a letter`,
      'PROJECT_PREFIX',
    );
  if (!ENV_PATTERN.test(source.env))
    throw new ScopeError(
      `ENV ${JSON.stringify(source.env)} cannot name a scope: it must be 1-16 lower-case letters, digits or _, starting with a letter`,
      'ENV',
    );
  if (source.projectPrefix === DEFAULT_PROJECT_PREFIX && source.env === DEFAULT_ENV) return '';
  return `${source.projectPrefix}-${source.env}`;
}

/** Checks a scope given directly (an option of the client); `''` is the empty scope. */
export function assertScope(scope: string): string {
  if (scope !== '' && !SCOPE_PATTERN.test(scope))
    throw new ScopeError(
      `scope ${JSON.stringify(scope)} is not <PROJECT_PREFIX>-<ENV> (lower-case letters, digits or _)`,
      'PROJECT_PREFIX',
    );
  return scope;
}

/** Default task queue of a scope: `polysaga` for the empty scope, the scope itself otherwise. */
export function defaultTaskQueue(scope: string): string {
  return scope === '' ? DEFAULT_TASK_QUEUE : scope;
}

/**
 * The prefix of polysaga's own Redis keys (without the `:`): `<projectPrefix>` in the empty
 * scope (`polysaga`, as before), `<projectPrefix>:<env>` otherwise.
 */
export function kvPrefixOf(source: ScopeSource): string {
  return scopeOf(source) === '' ? source.projectPrefix : `${source.projectPrefix}:${source.env}`;
}

/** What every workflow id of `scope` starts with: `@<scope>/` (empty scope: nothing). */
export function scopePrefix(scope: string): string {
  return scope === '' ? '' : `${SCOPE_MARKER}${scope}/`;
}

/** Whether `id` is a scoped id (starts with `@`). */
export function isScoped(id: string): boolean {
  return id.startsWith(SCOPE_MARKER);
}

/** The scope a workflow id, idempotency key or identity key belongs to (`''`: unscoped). */
export function scopeOfId(id: string): string {
  if (!isScoped(id)) return '';
  const slash = id.indexOf('/');
  return slash < 0 ? '' : id.slice(1, slash);
}

/** Whether `id` (a workflow id or saga id in the audit table) belongs to `scope`. */
export function belongsToScope(scope: string, id: string): boolean {
  return scope === '' ? !isScoped(id) : id.startsWith(scopePrefix(scope));
}

/**
 * The workflow id of a saga id in `scope`: `@<scope>/<id>`, or `id` itself in the empty scope.
 * An id that is already scoped is accepted when it is of this scope (as shown by the Web UI and
 * the audit table), so scoping twice changes nothing.
 * @throws ScopeError (variable `sagaId`) for an id of another scope.
 */
export function scopedSagaId(scope: string, id: string): string {
  if (isScoped(id)) {
    if (belongsToScope(scope, id)) return id;
    const other = scopeOfId(id);
    throw new ScopeError(
      `saga ${id} belongs to scope ${other === '' ? '(unknown)' : JSON.stringify(other)}, not to this configuration's ` +
        `${scope === '' ? 'default scope (PROJECT_PREFIX=polysaga, ENV=prod)' : `scope ${JSON.stringify(scope)}`}: ` +
        'set PROJECT_PREFIX and ENV to the ones it was started with',
      'sagaId',
    );
  }
  return `${scopePrefix(scope)}${id}`;
}

/** The id as its user gave it: `@<scope>/<id>` of this scope becomes `<id>`; anything else is returned as is. */
export function unscopedSagaId(scope: string, id: string): string {
  const prefix = scopePrefix(scope);
  return prefix !== '' && id.startsWith(prefix) ? id.slice(prefix.length) : id;
}

/**
 * An identity key or explicit idempotency key in `scope`: `@<scope>/<key>` (empty scope: the key).
 * Unlike saga ids these keys are never looked up by a user, so the prefix is added as is.
 */
export function scopedKey(scope: string, key: string): string {
  return `${scopePrefix(scope)}${key}`;
}

/** The parts of a normalized definition that carry the scope. */
interface ScopableDefinition {
  sagaId: string;
  identityKey: string | null;
  steps: readonly { idempotencyKey: string }[];
}

/**
 * A normalized definition as it runs in `scope`: saga id, identity key and every step's
 * idempotency key (the default `<sagaId>:<stepId>` as well as an explicit one) get the prefix
 * `@<scope>/`. The empty scope returns `def` itself. Payloads are left alone: a `${sagaId}`
 * placeholder was already filled with the saga id as its user gave it.
 * @throws ScopeError for a saga id of another scope.
 */
export function scopeDefinition<D extends ScopableDefinition>(scope: string, def: D): D {
  if (scope === '') return def;
  if (belongsToScope(scope, def.sagaId)) return def; // already scoped (an undo run of a committed saga)
  return {
    ...def,
    sagaId: scopedSagaId(scope, def.sagaId),
    identityKey: def.identityKey === null ? null : scopedKey(scope, def.identityKey),
    steps: def.steps.map((s) => ({ ...s, idempotencyKey: scopedKey(scope, s.idempotencyKey) })),
  };
}
