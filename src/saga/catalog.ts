/**
 * The operation catalog: for each backend, its operations and their payload schemas.
 *
 * Pure (zod only, no drivers) so that definitions can be validated anywhere — in the client
 * before a saga starts, in the CLI, in tests — without connecting to a backend.
 */
import type { z } from 'zod';
import type { StoreTarget } from './guard.js';

export interface OperationSpec {
  /** zod schema of the step payload for this operation. */
  payload: z.ZodType;
  /** Compensation used when a step names none explicitly (`undefined`: the step must name one). */
  defaultCompensation?: string;
  /** One line for docs and error messages. */
  description: string;
  /**
   * The store objects the operation touches, each named by its payload field (tables, labels,
   * keys, objects, collections), for the guard of src/saga/guard.ts. Called with the payload as
   * parsed by {@link payload}. Omitted: the operation names no guarded object (e.g. http).
   */
  targets?: (payload: never) => StoreTarget[];
}

export interface BackendSpec {
  operations: Record<string, OperationSpec>;
}

/** Registered compensation names and the backend each one applies to. */
export interface CompensationSpec {
  backend: string;
  description: string;
}

export interface Catalog {
  backends: Record<string, BackendSpec>;
  compensations: Record<string, CompensationSpec>;
}
