/**
 * The compensation registry: `register(name, handler)` and `get(name)`.
 *
 * Filled at worker start with the compensations of the backends it was built with
 * (`relational_delete`, `relational_restore`, `graph_delete_node`, `vector_delete_chunks`,
 * `s3_delete_object`, `s3_restore_object`, `kv_delete`, `kv_restore`, `http_request`, …);
 * applications may register their own before the worker starts.
 */
import type { Backend, CompensationHandler } from '../backends/types.js';

export type { CompensationHandler } from '../backends/types.js';

export class CompensationRegistry {
  private readonly handlers = new Map<string, { backend: string; handler: CompensationHandler }>();

  /** Registers (or replaces) a named compensation for a backend. */
  register(name: string, handler: CompensationHandler, backend = 'custom'): this {
    if (!/^[A-Za-z][\w.-]*$/.test(name)) throw new Error(`invalid compensation name: ${name}`);
    this.handlers.set(name, { backend, handler });
    return this;
  }

  /** The handler registered under `name`, or undefined. */
  get(name: string): CompensationHandler | undefined {
    return this.handlers.get(name)?.handler;
  }

  /** The backend a compensation belongs to. */
  backendOf(name: string): string | undefined {
    return this.handlers.get(name)?.backend;
  }

  names(): string[] {
    return [...this.handlers.keys()].sort();
  }
}

/** A registry holding the compensations of every given backend. */
export function createCompensationRegistry(backends: Iterable<Backend>): CompensationRegistry {
  const registry = new CompensationRegistry();
  for (const b of backends) {
    for (const [name, handler] of Object.entries(b.compensations)) registry.register(name, handler, b.name);
  }
  return registry;
}
