/**
 * The shape of a backend module: its operations (forward steps) and its compensations.
 * A worker composes a set of backends; `createStepActivities` dispatches to them.
 */
import type { CompensateStepInput, CompensateStepResult, JsonObject } from '../saga/contracts.js';

/** What an operation knows about the step it runs for. */
export interface OperationContext {
  sagaId: string;
  /** The saga's name (set by the worker's step activity). */
  sagaName?: string;
  stepId: string;
  traceId: string;
  backend: string;
  operation: string;
  /** At most one effect per key. */
  idempotencyKey: string;
}

/**
 * Runs one forward operation. `payload` has already been validated (and defaulted) by the
 * catalog's zod schema. Returns what the compensation needs (ids, before-image).
 */
export type OperationHandler = (payload: never, ctx: OperationContext) => Promise<JsonObject>;

/** Undoes one step from its compensation-stack entry. Undoing what is already gone is success. */
export type CompensationHandler = (input: CompensateStepInput) => Promise<CompensateStepResult>;

export interface Backend {
  name: string;
  operations: Record<string, OperationHandler>;
  compensations: Record<string, CompensationHandler>;
}

/** Narrows an operation handler to its payload type while storing it as an {@link OperationHandler}. */
export function op<P>(fn: (payload: P, ctx: OperationContext) => Promise<JsonObject>): OperationHandler {
  return fn;
}

/**
 * Write-ahead idempotency for backends whose writes cannot share a transaction with the
 * idempotency record (S3, vector stores). Implemented by `PgIdempotencyStore` (src/backends/postgres/adapter.ts).
 * `prepare` (before-image) runs once per key and is stored before `run` applies the effect.
 */
export interface WriteAheadStore {
  runOnce(
    key: string,
    backend: string,
    operation: string,
    prepare: () => Promise<JsonObject>,
    run: (prepared: JsonObject) => Promise<JsonObject>,
  ): Promise<JsonObject>;
}
