/**
 * The operation catalog: for each backend, its operations and their payload schemas.
 *
 * Pure (zod only, no drivers) so that definitions can be validated anywhere — in the client
 * before a saga starts, in the CLI, in tests — without connecting to a backend.
 */
import type { ActivityOptions } from '@temporalio/common';
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
  /** Default activity options of its forward steps (see {@link BackendCatalog.retry}). */
  retry?: ActivityOptions;
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

/**
 * The pure half of a backend: its name, operations (payload schemas, default compensations,
 * store targets), compensation names and default activity options. Everything the client, the
 * CLI and the guard need, importable without a driver. `defineBackend` (src/backends/define.ts)
 * adds the half that connects.
 */
export interface BackendCatalog {
  name: string;
  operations: Record<string, OperationSpec>;
  /** The compensations this backend runs, by name (names are global across backends). */
  compensations: Record<string, { description: string }>;
  /**
   * Default activity options of its forward steps (timeout, retry policy). A step's `retry` and
   * `timeout` override them field by field.
   */
  retry?: ActivityOptions;
}

/**
 * Collects backend catalogs into one {@link Catalog}. A backend or compensation name given twice
 * is an error naming both owners.
 */
export function catalogOf(backends: readonly BackendCatalog[]): Catalog {
  const catalog: Catalog = { backends: {}, compensations: {} };
  for (const b of backends) {
    if (catalog.backends[b.name] !== undefined) throw new Error(`backend "${b.name}" is defined twice`);
    catalog.backends[b.name] = { operations: b.operations, ...(b.retry ? { retry: b.retry } : {}) };
    for (const [name, c] of Object.entries(b.compensations)) {
      const owner = catalog.compensations[name];
      if (owner !== undefined)
        throw new Error(`compensation "${name}" is defined by both ${owner.backend} and ${b.name}`);
      catalog.compensations[name] = { backend: b.name, description: c.description };
    }
  }
  return catalog;
}
