/**
 * Typed errors of the saga client. Each has a stable `name` and, where it wraps a Temporal
 * error, `cause`.
 */
export { InvalidDefinitionError, formatIssue, type ValidationIssue } from '../saga/errors.js';
import type { StuckInfo } from '../saga/status.js';

/** No saga with this id exists (in the namespace's retention window). */
export class SagaNotFoundError extends Error {
  override name = 'SagaNotFoundError';
  constructor(
    readonly sagaId: string,
    options?: { cause?: unknown },
  ) {
    super(`saga not found: ${sagaId}`, options);
  }
}

/** Another saga holds the identity key: at most one running saga per key. */
export class IdentityLockedError extends Error {
  override name = 'IdentityLockedError';
  constructor(
    readonly identityKey: string,
    /** The saga id holding the lock. */
    readonly holderSagaId: string,
    options?: { cause?: unknown },
  ) {
    super(`identity key "${identityKey}" is locked by saga ${holderSagaId}`, options);
  }
}

/** A saga with this id already exists (saga ids are never reused). */
export class SagaAlreadyExistsError extends Error {
  override name = 'SagaAlreadyExistsError';
  constructor(
    readonly sagaId: string,
    options?: { cause?: unknown },
  ) {
    super(`a saga with id ${sagaId} already exists`, options);
  }
}

/** The operation is not allowed in the saga's current state (e.g. resolve of a saga that is not FAILED). */
export class SagaStateError extends Error {
  override name = 'SagaStateError';
  constructor(
    readonly sagaId: string,
    readonly state: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * The saga's workflow task fails on every attempt, so it cannot act on a signal or update
 * (docs/states.md, "Stuck sagas"). `stuck` names the cause; the message says what to do.
 */
export class SagaStuckError extends Error {
  override name = 'SagaStuckError';
  constructor(
    readonly sagaId: string,
    readonly stuck: StuckInfo,
    options?: { cause?: unknown },
  ) {
    super(
      `saga ${sagaId} is stuck: its workflow task fails (${stuck.cause}, ${stuck.attempts} attempts): ${stuck.message.split('\n')[0]}; ${stuck.hint}`,
      options,
    );
  }
}
